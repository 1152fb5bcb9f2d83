import Foundation
import NIOCore
import NIOSSL
import Synchronization

/// TLS for a process's RPC links: the contexts its servers and clients use, built from
/// `TLSSettings` and rebuilt from the same files by `reload()`.
///
/// Make one per process and hand it to every `RPCServerConfiguration` and
/// `RPCConnection.Configuration`: a reload then reaches all of them. Connections keep the
/// context they were made with, so reloading drops none; new ones get the new files.
public final class RPCTLS: Sendable {
    /// The settings the contexts are built from.
    public let settings: TLSSettings
    private let contexts: Mutex<Contexts>

    private struct Contexts: Sendable {
        var server: NIOSSLContext?
        var client: NIOSSLContext
    }

    /// Reads the files and builds the contexts; throws `RPCTLSError` naming the file or
    /// setting at fault (a missing file, no PEM in it, a key that does not match the
    /// certificate, mutual TLS without a CA).
    public init(_ settings: TLSSettings) throws(RPCTLSError) {
        self.settings = settings
        contexts = Mutex(try Self.build(settings))
    }

    /// Reads the files again and uses them for connections made from now on. On error the
    /// contexts in use stay; the error names what is wrong.
    public func reload() throws(RPCTLSError) {
        let fresh = try Self.build(settings)
        contexts.withLock { $0 = fresh }
    }

    /// True when servers can use it: it has a certificate and key.
    public var canServe: Bool { contexts.withLock { $0.server != nil } }

    package var serverContext: NIOSSLContext? { contexts.withLock { $0.server } }
    var clientContext: NIOSSLContext { contexts.withLock { $0.client } }

    private static func build(_ settings: TLSSettings) throws(RPCTLSError) -> Contexts {
        guard (settings.certificatePath == nil) == (settings.keyPath == nil) else {
            throw RPCTLSError("a TLS certificate and its key go together: give both or neither")
        }
        let chain = try settings.certificatePath.map { (path) throws(RPCTLSError) in try certificates(path, role: "certificate") }
        let key = try settings.keyPath.map { (path) throws(RPCTLSError) in try privateKey(path) }
        let roots = try settings.caPath.map { (path) throws(RPCTLSError) in try certificates(path, role: "CA") }
        if settings.requireClientCertificates {
            guard roots != nil else { throw RPCTLSError("requiring client certificates needs the CA that signs them") }
            guard chain != nil else { throw RPCTLSError("requiring client certificates needs a certificate and key to serve with") }
        }
        var server: NIOSSLContext?
        if let chain, let key {
            var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            if settings.requireClientCertificates, let roots {
                configuration.trustRoots = .certificates(roots)
                // Callers have no host name to match: their certificate must chain to the CA.
                configuration.certificateVerification = .noHostnameVerification
            }
            server = try context(configuration, what: "the certificate \(settings.certificatePath!) with the key \(settings.keyPath!)")
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let roots { configuration.trustRoots = .certificates(roots) }
        if let chain, let key {
            configuration.certificateChain = chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(key)
        }
        let client = try context(configuration, what: "the client side of these TLS settings")
        return Contexts(server: server, client: client)
    }

    private static func certificates(_ path: String, role: String) throws(RPCTLSError) -> [NIOSSLCertificate] {
        try readable(path, role: role)
        let loaded: [NIOSSLCertificate]
        do {
            loaded = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw RPCTLSError("the TLS \(role) file \(path) holds no readable PEM certificate")
        }
        guard !loaded.isEmpty else { throw RPCTLSError("the TLS \(role) file \(path) holds no PEM certificate") }
        return loaded
    }

    private static func privateKey(_ path: String) throws(RPCTLSError) -> NIOSSLPrivateKey {
        try readable(path, role: "key")
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw RPCTLSError("the TLS key file \(path) holds no readable PEM private key")
        }
    }

    private static func readable(_ path: String, role: String) throws(RPCTLSError) {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw RPCTLSError("the TLS \(role) file \(path) \(FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist")")
        }
    }

    private static func context(_ configuration: TLSConfiguration, what: String) throws(RPCTLSError) -> NIOSSLContext {
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw RPCTLSError("cannot use \(what): \(TLSFailure.reason(error))")
        }
    }
}
