import Foundation
import MessagePack
import SkynetTestSupport
import Testing
@testable import SkynetRPC

@Suite("TLS on RPC links: certificates made in the test", .timeLimit(.minutes(2)))
struct RPCTLSTests {
    /// A CA with a server certificate for 127.0.0.1 and localhost.
    private struct Fixture {
        let certificates: TestCertificates
        let server: TestCertificates.Pair

        init() throws {
            certificates = try TestCertificates()
            server = try certificates.issue("server")
        }

        func serverTLS(requireClientCertificates: Bool = false) throws -> RPCTLS {
            try RPCTLS(.init(certificatePath: server.certificatePath, keyPath: server.keyPath, caPath: certificates.caPath, requireClientCertificates: requireClientCertificates))
        }

        var clientTLS: RPCTLS { get throws { try RPCTLS(.init(caPath: certificates.caPath)) } }
    }

    private func connect(_ port: Int, _ tls: RPCTLS?, host: String = "127.0.0.1") async throws -> RPCConnection {
        try await RPCConnection.connect(host: host, port: port, configuration: .init(connectTimeout: .seconds(10), tls: tls), logger: quietLogger())
    }

    /// The message of the `Unavailable` error connecting fails with.
    private func refusal(_ port: Int, _ tls: RPCTLS?, host: String = "127.0.0.1") async -> String {
        do {
            let connection = try await connect(port, tls, host: host)
            // Under TLS 1.3 a refused client certificate is only known once the server speaks.
            _ = try await connection.call("echo", ["x"])
            await connection.close()
            return "connected"
        } catch let error as RPCError {
            return "\(error.code): \(error.message)"
        } catch {
            return "\(error)"
        }
    }

    @Test("calls work over TLS by IP address and by host name; a plain caller is answered Unauthorized and closed")
    func tlsCalls() async throws {
        let fixture = try Fixture()
        defer { fixture.certificates.remove() }
        try await withServer(router: testRouter(gate: Gate()), configuration: .init(tls: try fixture.serverTLS())) { _, port in
            for host in ["127.0.0.1", "localhost"] {
                let connection = try await connect(port, try fixture.clientTLS, host: host)
                #expect(try await connection.call("echo", "secret", returning: String.self) == "secret")
                let sums = try await withThrowingTaskGroup(of: Int.self) { group in
                    for i in 0..<200 { group.addTask { try await connection.call("add", i, 1, returning: Int.self) } }
                    return try await group.reduce(0, +)
                }
                #expect(sums == (1...200).reduce(0, +))
                await connection.close()
            }
            let plain = try await connect(port, nil)
            do {
                _ = try await plain.call("echo", ["x"])
                Issue.record("a plain call on a TLS port was served")
            } catch let error as RPCError {
                #expect(error.code == .unauthorized)
                #expect(error.message.contains("speaks TLS"), "\(error.message)")
            }
            await plain.waitUntilClosed()
            #expect(!plain.isActive, "the plain connection is closed, not left hanging")
        }
    }

    @Test("a TLS caller of a plain port fails at once, naming TLS")
    func tlsAgainstPlain() async throws {
        let fixture = try Fixture()
        defer { fixture.certificates.remove() }
        try await withServer(router: testRouter(gate: Gate())) { _, port in
            let message = await refusal(port, try fixture.clientTLS)
            #expect(message.hasPrefix("Unavailable: TLS with 127.0.0.1:\(port) failed"), "\(message)")
        }
    }

    @Test("a certificate from another CA, for another host, or expired is refused")
    func refusedCertificates() async throws {
        let fixture = try Fixture()
        let stranger = try TestCertificates(name: "another CA")
        defer { fixture.certificates.remove(); stranger.remove() }
        let otherHost = try fixture.certificates.issue("elsewhere", dnsNames: ["elsewhere.example"], ipAddresses: ["10.9.9.9"])
        let expired = try fixture.certificates.issue("expired", validity: Date(timeIntervalSinceNow: -7200)...Date(timeIntervalSinceNow: -3600))
        let strangers = try stranger.issue("server")
        let cases: [(String, TestCertificates.Pair, String)] = [
            ("wrong CA", strangers, "CERTIFICATE_VERIFY_FAILED"),
            ("wrong host", otherHost, "not for the address dialled"),
            ("expired", expired, "CERTIFICATE_VERIFY_FAILED"),
        ]
        for (label, pair, fragment) in cases {
            let tls = try RPCTLS(.init(certificatePath: pair.certificatePath, keyPath: pair.keyPath))
            try await withServer(router: testRouter(gate: Gate()), configuration: .init(tls: tls)) { _, port in
                let message = await refusal(port, try fixture.clientTLS)
                #expect(message.hasPrefix("Unavailable: TLS with"), "\(label): \(message)")
                #expect(message.contains(fragment), "\(label): \(message)")
            }
        }
    }

    @Test("mutual TLS: no client certificate or one from another CA is refused; one from the CA is served")
    func mutualTLS() async throws {
        let fixture = try Fixture()
        let stranger = try TestCertificates(name: "another CA")
        defer { fixture.certificates.remove(); stranger.remove() }
        let client = try fixture.certificates.issue("client")
        let strangers = try stranger.issue("client")
        try await withServer(router: testRouter(gate: Gate()), configuration: .init(tls: try fixture.serverTLS(requireClientCertificates: true))) { server, port in
            let anonymous = await refusal(port, try fixture.clientTLS)
            #expect(anonymous.hasPrefix("Unavailable") && anonymous.contains("requires a client certificate"), "\(anonymous)")
            let foreign = await refusal(port, try RPCTLS(.init(certificatePath: strangers.certificatePath, keyPath: strangers.keyPath, caPath: fixture.certificates.caPath)))
            #expect(foreign != "connected" && foreign.hasPrefix("Unavailable"), "\(foreign)")
            let known = await refusal(port, try RPCTLS(.init(certificatePath: client.certificatePath, keyPath: client.keyPath, caPath: fixture.certificates.caPath)))
            #expect(known == "connected")
            #expect(server.connectionCount <= 1, "refused connections were closed")
        }
    }

    @Test("reload picks up new files for new connections; open connections keep going")
    func reload() async throws {
        let first = try TestCertificates(name: "first CA")
        let second = try TestCertificates(name: "second CA")
        defer { first.remove(); second.remove() }
        let firstPair = try first.issue("server")
        let paths = TestCertificates.Pair(certificatePath: first.directory + "/live.pem", keyPath: first.directory + "/live-key.pem")
        func install(_ pair: TestCertificates.Pair) throws {
            for (from, to) in [(pair.certificatePath, paths.certificatePath), (pair.keyPath, paths.keyPath)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
        try install(firstPair)
        let tls = try RPCTLS(.init(certificatePath: paths.certificatePath, keyPath: paths.keyPath))
        try await withServer(router: testRouter(gate: Gate()), configuration: .init(tls: tls)) { _, port in
            let trustsFirst = try RPCTLS(.init(caPath: first.caPath))
            let trustsSecond = try RPCTLS(.init(caPath: second.caPath))
            let open = try await connect(port, trustsFirst)
            try install(try second.issue("server"))
            try tls.reload()
            #expect(try await open.call("echo", "still", returning: String.self) == "still", "an open connection survives the reload")
            #expect(await refusal(port, trustsSecond) == "connected", "new connections get the new certificate")
            #expect(await refusal(port, trustsFirst).contains("CERTIFICATE_VERIFY_FAILED"))
            // A reload that fails keeps what is in use.
            try "not a certificate".write(toFile: paths.certificatePath, atomically: true, encoding: .utf8)
            #expect(throws: RPCTLSError.self) { try tls.reload() }
            #expect(await refusal(port, trustsSecond) == "connected")
            await open.close()
        }
    }

    @Test("settings that cannot work are refused, naming the file or setting")
    func badSettings() throws {
        let fixture = try Fixture()
        defer { fixture.certificates.remove() }
        let other = try fixture.certificates.issue("other")
        let missing = fixture.certificates.directory + "/missing.pem"
        let garbage = fixture.certificates.directory + "/garbage.pem"
        try "hello".write(toFile: garbage, atomically: true, encoding: .utf8)
        let cases: [(TLSSettings, String)] = [
            (.init(certificatePath: fixture.server.certificatePath), "give both or neither"),
            (.init(caPath: missing), "CA file \(missing) does not exist"),
            (.init(caPath: garbage), "CA file \(garbage) holds no"),
            (.init(certificatePath: fixture.server.certificatePath, keyPath: garbage), "key file \(garbage)"),
            (.init(certificatePath: fixture.server.certificatePath, keyPath: other.keyPath), "cannot use the certificate"),
            (.init(certificatePath: fixture.server.certificatePath, keyPath: fixture.server.keyPath, requireClientCertificates: true), "needs the CA"),
        ]
        for (settings, fragment) in cases {
            do {
                _ = try RPCTLS(settings)
                Issue.record("accepted: \(settings)")
            } catch {
                #expect(error.message.contains(fragment), "\(error.message)")
            }
        }
    }

    @Test("a server given TLS without a certificate refuses to start, saying what it needs")
    func serverNeedsCertificate() async throws {
        let fixture = try Fixture()
        defer { fixture.certificates.remove() }
        let server = RPCServer(configuration: .init(tls: try fixture.clientTLS), router: RPCRouter(), logger: quietLogger())
        await #expect(throws: RPCError.self) { try await server.start() }
        await server.shutdown()
    }
}
