import ArgumentParser
import Foundation
import SkynetCertificates

/// `sky tls ...`: a deployment's own CA and the certificates it signs, as PEM files.
struct TLSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tls", abstract: "Make a CA and the certificates skynetd, services and callers use for TLS.",
        discussion: """
            Examples:
              sky tls ca -dir=tls
              sky tls cert -dir=tls -name=skynetd -ip=127.0.0.1,10.0.0.5 -dns=coord.example
              sky tls cert -dir=tls -name=echo
            """,
        subcommands: [TLSCA.self, TLSCert.self])
}

/// `sky tls ca`.
struct TLSCA: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Make a CA: DIR/ca.pem (give it to every process) and DIR/ca-key.pem (keep it private).",
        discussion: """
            Existing files are never overwritten.

            Examples:
              sky tls ca -dir=tls
              sky tls ca -dir=/etc/skynet/tls -name="Acme Skynet CA" -days=1825
            """)

    @Option(help: ArgumentHelp("Where the files go (made if missing).", valueName: "dir")) var dir = "."
    @Option(help: "The CA's name (its certificate's common name).") var name = "Skynet CA"
    @Option(help: "Days the CA is valid.") var days = 3650

    func validate() throws {
        guard (1...36_500).contains(days) else { throw ValidationError("--days must be 1 to 36500, found \(days)") }
    }

    func run() async throws {
        let authority = try CertificateAuthority(name: name, validity: Date(timeIntervalSinceNow: -300)...Date(timeIntervalSinceNow: Double(days) * 86_400))
        let certificate = dir + "/ca.pem", key = dir + "/ca-key.pem"
        try TLSFiles.write([(certificate, try authority.certificatePEM, false), (key, authority.keyPEM, true)])
        print("wrote \(certificate) (trust it everywhere: -tls-ca) and \(key) (keep it private; it signs certificates)")
    }
}

/// `sky tls cert`.
struct TLSCert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Sign a certificate with the CA: DIR/NAME.pem and DIR/NAME-key.pem, for serving and calling.",
        discussion: """
            A TLS client checks the certificate against the address it dials: list every host
            name (-dns) and IP address (-ip) a server is reached by. Without either, the
            certificate is for localhost and 127.0.0.1. Existing files are never overwritten.

            Examples:
              sky tls cert -dir=tls -name=skynetd -ip=127.0.0.1,10.0.0.5
              sky tls cert -dir=tls -name=echo -dns=echo-1.example -days=90
              sky tls cert -dir=tls -name=ops
            """)

    @Option(help: ArgumentHelp("Where the CA's files are and the new ones go.", valueName: "dir")) var dir = "."
    @Option(help: "What the certificate is for (its common name, and the files' names).") var name: String
    @Option(help: ArgumentHelp("Host names it is valid for, comma-separated.", valueName: "name,...")) var dns: String?
    @Option(help: ArgumentHelp("IP addresses it is valid for, comma-separated.", valueName: "address,...")) var ip: String?
    @Option(help: "Days the certificate is valid.") var days = 365
    @Option(help: ArgumentHelp("The CA certificate (default: DIR/ca.pem).", valueName: "file")) var ca: String?
    @Option(help: ArgumentHelp("The CA's private key (default: DIR/ca-key.pem).", valueName: "file")) var caKey: String?

    func validate() throws {
        guard (1...36_500).contains(days) else { throw ValidationError("--days must be 1 to 36500, found \(days)") }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw ValidationError("--name must be letters, digits, '-', '_' or '.', found \"\(name)\"")
        }
    }

    private func list(_ text: String?) -> [String] {
        (text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() async throws {
        let caPath = ca ?? dir + "/ca.pem", keyPath = caKey ?? dir + "/ca-key.pem"
        let authority: CertificateAuthority
        do {
            authority = try CertificateAuthority(certificatePEM: try TLSFiles.read(caPath, what: "CA certificate"), keyPEM: try TLSFiles.read(keyPath, what: "CA key"))
        } catch let error as SkyFailure {
            throw error
        } catch let error as CertificateAuthorityError {
            throw SkyFailure("\(error)")
        } catch {
            throw SkyFailure("\(caPath) and \(keyPath) are not a PEM certificate and P-256 key made by `sky tls ca`")
        }
        var names = list(dns), addresses = list(ip)
        if names.isEmpty && addresses.isEmpty { (names, addresses) = (["localhost"], ["127.0.0.1"]) }
        let issued: CertificateAuthority.Issued
        do {
            issued = try authority.issue(commonName: name, dnsNames: names, ipAddresses: addresses, validity: Date(timeIntervalSinceNow: -300)...Date(timeIntervalSinceNow: Double(days) * 86_400))
        } catch let error as CertificateAuthorityError {
            throw SkyFailure("\(error)")
        }
        let certificate = dir + "/\(name).pem", key = dir + "/\(name)-key.pem"
        try TLSFiles.write([(certificate, issued.certificatePEM, false), (key, issued.keyPEM, true)])
        let valid = (names + addresses).joined(separator: ", ")
        print("wrote \(certificate) and \(key), valid for \(valid) for \(days) days: -tls-cert \(certificate) -tls-key \(key)")
    }
}

/// Reading and writing the PEM files, with errors `sky` prints as they are.
enum TLSFiles {
    static func read(_ path: String, what: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SkyFailure("cannot read the \(what) \(path)\(FileManager.default.fileExists(atPath: path) ? "" : ": no such file (make one with `sky tls ca`)")")
        }
        return text
    }

    /// Writes every file, private ones readable by their owner only; writes none if any exists.
    static func write(_ files: [(path: String, text: String, isPrivate: Bool)]) throws {
        if let existing = files.first(where: { FileManager.default.fileExists(atPath: $0.path) }) {
            throw SkyFailure("\(existing.path) exists: remove it or choose another -dir")
        }
        let directory = (files[0].path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory.isEmpty ? "." : directory, withIntermediateDirectories: true)
        } catch {
            throw SkyFailure("cannot make the directory \(directory)")
        }
        for file in files {
            let attributes: [FileAttributeKey: Any] = [.posixPermissions: file.isPrivate ? 0o600 : 0o644]
            guard FileManager.default.createFile(atPath: file.path, contents: Data((file.text + "\n").utf8), attributes: attributes) else {
                throw SkyFailure("cannot write \(file.path)")
            }
        }
    }
}
