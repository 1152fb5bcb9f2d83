import Foundation
import SkynetCertificates

/// A certificate authority made on the spot and the certificates it signs, written as PEM
/// files in a fresh directory: what TLS tests and `sky-bench rpc --tls` run on.
public struct TestCertificates: Sendable {
    /// A certificate and its private key, as PEM files.
    public struct Pair: Sendable {
        /// The certificate's PEM file.
        public let certificatePath: String
        /// Its private key's PEM file.
        public let keyPath: String

        /// Names a certificate and key already on disk.
        public init(certificatePath: String, keyPath: String) {
            self.certificatePath = certificatePath
            self.keyPath = keyPath
        }
    }

    /// Where the files are; remove it when done.
    public let directory: String
    /// The CA certificate's PEM file, what peers trust.
    public let caPath: String
    private let authority: CertificateAuthority

    /// Makes a CA called `name` in a new directory under the temporary directory.
    public init(name: String = "Skynet test CA") throws {
        directory = NSTemporaryDirectory() + "skynet-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        authority = try CertificateAuthority(name: name, validity: Date(timeIntervalSinceNow: -3600)...Date(timeIntervalSinceNow: 86_400 * 365))
        caPath = directory + "/ca.pem"
        try Self.write(try authority.certificatePEM, to: caPath)
    }

    /// Issues a certificate for `commonName`, good for serving and for calling, valid for
    /// the given host names and IP addresses (localhost and 127.0.0.1 by default) over `validity`.
    public func issue(
        _ commonName: String, dnsNames: [String] = ["localhost"], ipAddresses: [String] = ["127.0.0.1"],
        validity: ClosedRange<Date> = Date(timeIntervalSinceNow: -3600)...Date(timeIntervalSinceNow: 86_400)
    ) throws -> Pair {
        let issued = try authority.issue(commonName: commonName, dnsNames: dnsNames, ipAddresses: ipAddresses, validity: validity)
        let base = directory + "/" + String(commonName.map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let pair = Pair(certificatePath: base + ".pem", keyPath: base + "-key.pem")
        try Self.write(issued.certificatePEM, to: pair.certificatePath)
        try Self.write(issued.keyPEM, to: pair.keyPath)
        return pair
    }

    /// Removes the directory and every file in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func write(_ text: String, to path: String) throws {
        try (text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
