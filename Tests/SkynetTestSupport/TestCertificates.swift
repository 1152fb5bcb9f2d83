import Crypto
import Foundation
import SwiftASN1
import X509

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
    private let caName: DistinguishedName
    private let caKey: P256.Signing.PrivateKey

    /// Makes a CA called `name` in a new directory under the temporary directory.
    public init(name: String = "Skynet test CA") throws {
        directory = NSTemporaryDirectory() + "skynet-tls-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        caKey = P256.Signing.PrivateKey()
        caName = try DistinguishedName { CommonName(name) }
        let now = Date()
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400 * 365, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            },
            issuerPrivateKey: .init(caKey))
        caPath = directory + "/ca.pem"
        try Self.write(try ca.serializeAsPEM().pemString, to: caPath)
    }

    /// Issues a certificate for `commonName`, good for serving and for calling, valid for
    /// the given host names and IP addresses (127.0.0.1 by default) over `validity`.
    public func issue(
        _ commonName: String, dnsNames: [String] = ["localhost"], ipAddresses: [[UInt8]] = [[127, 0, 0, 1]],
        validity: ClosedRange<Date> = Date(timeIntervalSinceNow: -3600)...Date(timeIntervalSinceNow: 86_400)
    ) throws -> Pair {
        let key = P256.Signing.PrivateKey()
        let names = dnsNames.map { GeneralName.dnsName($0) } + ipAddresses.map { GeneralName.ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: validity.lowerBound, notValidAfter: validity.upperBound,
            issuer: caName, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))
        let base = directory + "/" + commonName.map { $0.isLetter || $0.isNumber ? $0 : "-" }.reduce(into: "") { $0.append($1) }
        let pair = Pair(certificatePath: base + ".pem", keyPath: base + "-key.pem")
        try Self.write(try certificate.serializeAsPEM().pemString, to: pair.certificatePath)
        try Self.write(key.pemRepresentation, to: pair.keyPath)
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
