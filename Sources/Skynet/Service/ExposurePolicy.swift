/// Whether a port may be served as it is configured. Loopback is always fine; any other
/// address needs TLS or auth (tokens checked against the coordinator's roles), or an
/// explicit `insecure`: an open port on a shared network lets anyone who reaches it stop
/// the instance through its admin port, or rewrite the registry.
package enum ExposurePolicy {
    /// True for addresses only this machine reaches: 127.0.0.0/8, ::1 and `localhost`.
    package static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Why serving `what` on `host` in plain TCP is refused, naming both ways out; nil
    /// when it may be served.
    package static func refusal(_ what: String, host: String, tls: Bool, auth: Bool, insecure: Bool, tlsFlags: String, authFlag: String, insecureFlag: String) -> String? {
        guard !tls, !auth, !insecure, !isLoopback(host) else { return nil }
        return "refusing to serve \(what) on \(host) with neither TLS nor auth, where anyone who reaches it can use it: "
            + "give it TLS (\(tlsFlags); `sky tls` makes a CA and certificates) or auth (\(authFlag)), or \(insecureFlag) to serve in the open anyway"
    }
}
