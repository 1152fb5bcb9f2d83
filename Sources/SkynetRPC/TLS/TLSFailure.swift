import NIOSSL

/// Readable reasons for TLS failures: BoringSSL's reason code, with what it usually means
/// for a Skynet link and which setting mends it.
enum TLSFailure {
    /// True for the errors swift-nio-ssl raises.
    static func isTLS(_ error: any Error) -> Bool {
        error is NIOSSLError || error is NIOSSLExtraError || error is BoringSSLError
    }

    static func reason(_ error: any Error) -> String {
        if let failure = error as? BoringSSLError { return describe(failure) }
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "the server's certificate is not for the address dialled (its names and IP addresses do not include it)"
        }
        guard let ssl = error as? NIOSSLError else { return "\(error)" }
        switch ssl {
        case .handshakeFailed(let failure), .shutdownFailed(let failure):
            return describe(failure)
        case .uncleanShutdown:
            return "the peer closed the connection during the TLS handshake (does it speak TLS, and does it accept this certificate?)"
        case .failedToLoadPrivateKey:
            return "the private key cannot be used"
        default:
            return "\(ssl)"
        }
    }

    private static func describe(_ failure: BoringSSLError) -> String {
        let codes: [String]
        switch failure {
        case .sslError(let stack), .unknownError(let stack):
            codes = stack.map { reasonCode("\($0)") }
        default:
            return "\(failure)"
        }
        guard let code = codes.first else { return "\(failure)" }
        return meanings[code].map { "\(code): \($0)" } ?? code
    }

    /// `CERTIFICATE_VERIFY_FAILED` out of BoringSSL's
    /// `Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED at file.c:123`.
    private static func reasonCode(_ description: String) -> String {
        let fields = description.split(separator: ":", omittingEmptySubsequences: false)
        guard let library = fields.firstIndex(where: { $0.hasSuffix("_internal") }), library + 1 < fields.count else { return description }
        return String(fields[library + 1].split(separator: " ").first ?? fields[library + 1])
    }

    private static let meanings: [String: String] = [
        "CERTIFICATE_VERIFY_FAILED": "the peer's certificate was refused: not signed by the CA given (-tls-ca), expired, or not yet valid",
        "KEY_VALUES_MISMATCH": "the private key does not belong to the certificate",
        "WRONG_VERSION_NUMBER": "the peer does not speak TLS",
        "HTTP_REQUEST": "the peer sent plain HTTP to a TLS port",
        "PEER_DID_NOT_RETURN_A_CERTIFICATE": "this server requires a client certificate (-tls-cert and -tls-key) signed by its CA",
        "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate (-tls-cert and -tls-key) signed by its CA",
        "TLSV1_ALERT_CERTIFICATE_REQUIRED": "the server requires a client certificate (-tls-cert and -tls-key) signed by its CA",
        "TLSV1_ALERT_UNKNOWN_CA": "the peer does not trust the CA that signed this certificate",
        "SSLV3_ALERT_BAD_CERTIFICATE": "the peer refused this certificate",
        "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the peer refused this certificate as expired",
        "SSLV3_ALERT_HANDSHAKE_FAILURE": "the peer refused the handshake (no shared cipher, or no certificate where it wants one)",
    ]
}
