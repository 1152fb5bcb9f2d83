/// Whether a port may be served in the clear. Loopback is always fine; any other address
/// needs TLS, or an explicit `insecure`: a plain port on a shared network lets anyone who
/// reaches it call it, stop the instance through its admin port, or rewrite the registry.
package enum ExposurePolicy {
    /// True for addresses only this machine reaches: 127.0.0.0/8, ::1 and `localhost`.
    package static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// Why serving `what` on `host` in plain TCP is refused, naming both ways out; nil
    /// when it may be served.
    package static func refusal(_ what: String, host: String, tls: Bool, insecure: Bool, tlsFlags: String, insecureFlag: String) -> String? {
        guard !tls, !insecure, !isLoopback(host) else { return nil }
        return "refusing to serve \(what) on \(host) in plain TCP, where anyone who reaches it can use it: "
            + "give it TLS (\(tlsFlags); `sky tls` makes a CA and certificates), or \(insecureFlag) to serve in the clear anyway"
    }
}
