import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate authority for one Skynet deployment: it makes its own certificate and
/// signs certificates good for serving and calling (`sky tls`, the TLS tests, `sky-bench`).
///
/// Keys are P-256; certificates carry host names and IP addresses as subject alternative
/// names, which is what TLS clients check against the address they dial.
package struct CertificateAuthority: Sendable {
    /// The CA's certificate, what peers trust.
    package let certificate: Certificate
    private let key: P256.Signing.PrivateKey

    /// A certificate and its private key, PEM-encoded.
    package struct Issued: Sendable {
        package let certificatePEM: String
        package let keyPEM: String
    }

    /// Makes a new CA called `name`, valid over `validity`.
    package init(name: String, validity: ClosedRange<Date>) throws {
        key = P256.Signing.PrivateKey()
        let subject = try DistinguishedName { CommonName(name) }
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: validity.lowerBound, notValidAfter: validity.upperBound, issuer: subject, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            },
            issuerPrivateKey: .init(key))
    }

    /// Loads a CA from its certificate and P-256 private key (PEM), as `certificatePEM`
    /// and `keyPEM` wrote them.
    package init(certificatePEM: String, keyPEM: String) throws {
        certificate = try Certificate(pemEncoded: certificatePEM)
        key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
        guard certificate.publicKey == Certificate.PublicKey(key.publicKey) else {
            throw CertificateAuthorityError("the CA key does not belong to the CA certificate")
        }
    }

    /// The CA certificate, PEM-encoded.
    package var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
    /// The CA's private key, PEM-encoded (PKCS#8): keep it off the servers.
    package var keyPEM: String { key.pemRepresentation }

    /// Signs a new key's certificate for `commonName`, good for serving and for calling,
    /// valid for `dnsNames` and `ipAddresses` (IPv4 or IPv6 text) over `validity`.
    package func issue(commonName: String, dnsNames: [String], ipAddresses: [String], validity: ClosedRange<Date>) throws -> Issued {
        let leafKey = P256.Signing.PrivateKey()
        var names = dnsNames.map { GeneralName.dnsName($0) }
        for address in ipAddresses {
            guard let bytes = Self.addressBytes(address) else { throw CertificateAuthorityError("\"\(address)\" is not an IPv4 or IPv6 address") }
            names.append(.ipAddress(ASN1OctetString(contentBytes: bytes[...])))
        }
        guard !names.isEmpty else { throw CertificateAuthorityError("a certificate needs at least one host name or IP address to be valid for") }
        let leaf = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(leafKey.publicKey),
            notValidBefore: validity.lowerBound, notValidAfter: validity.upperBound,
            issuer: certificate.subject, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        return Issued(certificatePEM: try leaf.serializeAsPEM().pemString, keyPEM: leafKey.pemRepresentation)
    }

    /// The network-order bytes of an IPv4 or IPv6 address, or nil.
    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

/// Why a certificate cannot be made or a CA loaded.
package struct CertificateAuthorityError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
