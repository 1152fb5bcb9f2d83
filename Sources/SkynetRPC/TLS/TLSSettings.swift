/// Where a process finds its TLS certificate, key and trusted CA, and whether the servers
/// it runs ask callers for certificates of their own.
///
/// One set serves both sides of a process: servers present `certificatePath` and, with
/// `requireClientCertificates`, accept only callers whose certificate `caPath` signed;
/// clients check servers against `caPath` (the system's roots when `nil`), and present
/// `certificatePath` when a server asks. Paths are PEM files, read again on `RPCTLS.reload()`.
public struct TLSSettings: Sendable, Hashable {
    /// This process's certificate chain (PEM, leaf first); with `keyPath`, needed to serve.
    public var certificatePath: String?
    /// The private key of `certificatePath` (PEM).
    public var keyPath: String?
    /// The CA certificates (PEM) peers' certificates must chain to; `nil`: the system's roots.
    public var caPath: String?
    /// Servers refuse callers without a certificate signed by `caPath` (mutual TLS).
    public var requireClientCertificates: Bool

    /// Creates settings; nothing is read until an `RPCTLS` is made from them.
    public init(certificatePath: String? = nil, keyPath: String? = nil, caPath: String? = nil, requireClientCertificates: Bool = false) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.caPath = caPath
        self.requireClientCertificates = requireClientCertificates
    }
}
