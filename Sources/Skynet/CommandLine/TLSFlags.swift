import SkynetRPC

/// The TLS flags every Skynet program takes (`-tls-cert -tls-key -tls-ca
/// -tls-client-auth`, or `SKYNET_TLS_*`), and the `RPCTLS` they make.
package enum TLSFlags {
    /// The flags with their variables and help lines.
    package static let table: [ConfigFlag] = [
        ConfigFlag("tls-cert", "SKYNET_TLS_CERT", value: "FILE", help: "this process's certificate (PEM): with -tls-key its ports serve TLS, and it is shown to servers that ask"),
        ConfigFlag("tls-key", "SKYNET_TLS_KEY", value: "FILE", help: "that certificate's private key (PEM)"),
        ConfigFlag("tls-ca", "SKYNET_TLS_CA", value: "FILE", help: "the CA (PEM) peers' certificates must chain to; given, calls go over TLS"),
        ConfigFlag("tls-client-auth", "SKYNET_TLS_CLIENT_AUTH", value: "", help: "serve only callers whose certificate -tls-ca signed (mutual TLS)"),
    ]

    /// The flags that take no value.
    package static let booleans: Set<String> = ["tls-client-auth"]

    /// TLS from the flags, else the variables, else `current`; the files are read now, so a
    /// missing or broken one is an error naming its flag or variable.
    package static func tls(_ flags: GoFlags, environment: [String: String], current: RPCTLS?) throws(ServiceConfigError) -> RPCTLS? {
        try tls(flags.values, environment: environment, current: current)
    }

    /// TLS from flag values by name (`tls-cert`...), else the variables, else `current`:
    /// for programs that parse their flags some other way (`sky`, `skynetd`).
    package static func tls(_ values: [String: String], environment: [String: String], current: RPCTLS?) throws(ServiceConfigError) -> RPCTLS? {
        func pick(_ name: String, _ variable: String) -> (value: String, source: String)? {
            if let value = values[name] { return (value, "-" + name) }
            if let value = environment[variable], !value.isEmpty { return (value, variable) }
            return nil
        }
        let certificate = pick("tls-cert", "SKYNET_TLS_CERT")
        let key = pick("tls-key", "SKYNET_TLS_KEY")
        let ca = pick("tls-ca", "SKYNET_TLS_CA")
        let clientAuth = pick("tls-client-auth", "SKYNET_TLS_CLIENT_AUTH")
        let given = [certificate, key, ca, clientAuth].compactMap { $0 }
        guard !given.isEmpty else { return current }
        var requireClientCertificates = false
        if let (text, source) = clientAuth {
            switch text.lowercased() {
            case "true", "1", "yes": requireClientCertificates = true
            case "false", "0", "no": requireClientCertificates = false
            default: throw ServiceConfigError(field: source, "expected true or false, found \"\(text)\"")
            }
        }
        do {
            return try RPCTLS(TLSSettings(
                certificatePath: certificate?.value, keyPath: key?.value, caPath: ca?.value,
                requireClientCertificates: requireClientCertificates))
        } catch {
            throw ServiceConfigError(field: given.map(\.source).joined(separator: " "), error.message)
        }
    }

    /// What help shows as each flag's default.
    package static func defaults(_ tls: RPCTLS?) -> [String: String] {
        let settings = tls?.settings
        return [
            "tls-cert": settings?.certificatePath ?? "none (plain TCP)", "tls-key": settings?.keyPath ?? "none",
            "tls-ca": settings?.caPath ?? (tls == nil ? "none (plain TCP)" : "the system's roots"),
            "tls-client-auth": "\(settings?.requireClientCertificates ?? false)",
        ]
    }
}
