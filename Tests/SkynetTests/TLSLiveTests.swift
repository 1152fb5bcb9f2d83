import AsyncHTTPClient
import Foundation
import NIOSSL
import Skynet
import SkynetRPC
import SkynetTestSupport
import Testing

@Suite("TLS end to end: skynetd, a service process, sky and a client", .serialized, .timeLimit(.minutes(3)))
struct TLSLiveTests {
    @Test("certificates from `sky tls`, mutual TLS everywhere: a service registers and serves over TLS; sky and a client with certificates see and call it, without them they are refused; SIGHUP renews skynetd's certificate")
    func mutualTLS() async throws {
        // The deployment's CA and certificates, made as a user would: with `sky tls`.
        let dir = temporaryPath("tls-live")
        let tlsDir = dir + "-certs", renewalDir = dir + "-renewal"
        defer { for path in [tlsDir, renewalDir] { try? FileManager.default.removeItem(atPath: path) } }
        for (arguments, made) in [
            (["tls", "ca", "-dir", tlsDir], "ca.pem"), (["tls", "ca", "-dir", renewalDir, "-name", "renewal CA"], "ca.pem"),
            (["tls", "cert", "-dir", tlsDir, "-name", "skynetd"], "skynetd.pem"), (["tls", "cert", "-dir", renewalDir, "-name", "skynetd"], "skynetd.pem"),
            (["tls", "cert", "-dir", tlsDir, "-name", "echo", "-ip", "127.0.0.1"], "echo.pem"), (["tls", "cert", "-dir", tlsDir, "-name", "caller"], "caller.pem"),
        ] {
            let result = try await runSky(arguments)
            #expect(result.status == 0 && result.out.contains(made), "sky \(arguments.joined(separator: " ")): \(result.err)")
        }
        let again = try await runSky(["tls", "cert", "-dir", tlsDir, "-name", "echo"])
        #expect(again.status == 1 && again.err.contains("exists"), "files are never overwritten: \(again.err)")
        let badAddress = try await runSky(["tls", "cert", "-dir", tlsDir, "-name", "x", "-ip", "300.1.1.1"])
        #expect(badAddress.status == 1 && badAddress.err.contains("not an IPv4 or IPv6 address"), "\(badAddress.err)")
        let mode = try FileManager.default.attributesOfItem(atPath: tlsDir + "/ca-key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600, "private keys are readable by their owner only")
        func pair(_ dir: String, _ name: String) -> TestCertificates.Pair {
            TestCertificates.Pair(certificatePath: "\(dir)/\(name).pem", keyPath: "\(dir)/\(name)-key.pem")
        }
        struct CA { let caPath: String }
        let certificates = CA(caPath: tlsDir + "/ca.pem"), renewal = CA(caPath: renewalDir + "/ca.pem")
        let server = pair(tlsDir, "skynetd"), echo = pair(tlsDir, "echo"), caller = pair(tlsDir, "caller")
        // skynetd reads its certificate from files the test later replaces.
        let live = TestCertificates.Pair(certificatePath: tlsDir + "/live.pem", keyPath: tlsDir + "/live-key.pem")
        func install(_ pair: TestCertificates.Pair) throws {
            for (from, to) in [(pair.certificatePath, live.certificatePath), (pair.keyPath, live.keyPath)] {
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: from, toPath: to)
            }
        }
        try install(server)
        let daemon = try await offPool {
            try SkynetdProcess(dataDir: dir, timer: true, extra: ["--tls-cert", live.certificatePath, "--tls-key", live.keyPath, "--tls-ca", certificates.caPath, "--tls-client-auth"])
        }
        defer { daemon.stop() }
        let service = try await offPool {
            try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "echo",
                                   extra: ["-tls-cert", echo.certificatePath, "-tls-key", echo.keyPath, "-tls-ca", certificates.caPath])
        }
        defer { service.stop() }

        let withCertificate = ["--tls-ca", certificates.caPath, "--tls-cert", caller.certificatePath, "--tls-key", caller.keyPath]
        let seen = try await runSky(["topology", "--json", "--coordinators", daemon.address] + withCertificate)
        #expect(seen.status == 0, "\(seen.err)")
        #expect(seen.out.contains(service.address), "sky lists the instance: \(seen.out)")
        #expect(!seen.out.contains("statsError"), "its figures came over the TLS admin port: \(seen.out)")

        // skynetd's own timer service registered and serves over TLS too.
        let timer = try await runSky(["timer", "create", "-delay", "600000", "-uri", "http://127.0.0.1:9/never", "--json", "--coordinators", daemon.address] + withCertificate)
        #expect(timer.status == 0 && timer.out.contains("\"id\""), "\(timer.err)")

        // The HTTP port: TLS with the same certificate, and a client certificate required.
        var https = TLSConfiguration.makeClientConfiguration()
        https.trustRoots = .file(certificates.caPath)
        https.certificateChain = try NIOSSLCertificate.fromPEMFile(caller.certificatePath).map { .certificate($0) }
        https.privateKey = .privateKey(try NIOSSLPrivateKey(file: caller.keyPath, format: .pem))
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: https))
        let page = try await http.execute(HTTPClientRequest(url: "https://127.0.0.1:\(daemon.httpPort!)/api/coordinator"), timeout: .seconds(30))
        #expect(page.status == .ok)
        try await http.shutdown()
        var anonymousHTTPS = TLSConfiguration.makeClientConfiguration()
        anonymousHTTPS.trustRoots = .file(certificates.caPath)
        let stranger = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: anonymousHTTPS))
        await #expect(throws: (any Error).self, "no client certificate, no dashboard") {
            _ = try await stranger.execute(HTTPClientRequest(url: "https://127.0.0.1:\(daemon.httpPort!)/api/coordinator"), timeout: .seconds(30))
        }
        try await stranger.shutdown()

        let plain = try await runSky(["ls", "/", "--coordinators", daemon.address])
        #expect(plain.status == 1)
        #expect(plain.err.contains("speaks TLS"), "\(plain.err)")
        let anonymous = try await runSky(["ls", "/", "--coordinators", daemon.address, "--tls-ca", certificates.caPath])
        #expect(anonymous.status == 1)
        #expect(anonymous.err.contains("requires a client certificate"), "\(anonymous.err)")
        let missing = try await runSky(["ls", "/", "--coordinators", daemon.address, "--tls-ca", dir + "-nowhere.pem"])
        #expect(missing.status == 2 && missing.err.contains("does not exist"), "a bad flag: \(missing.err)")

        var config = ClientConfig(coordinators: [daemon.address])
        config.coordinatorTimeout = testCoordinatorTimeout
        config.tls = try RPCTLS(.init(certificatePath: caller.certificatePath, keyPath: caller.keyPath, caPath: certificates.caPath))
        let client = Client(config: config, logger: quietLogger())
        #expect(try await client.service(name: "echo").send("echo", "over TLS", returning: String.self) == "over TLS")

        // Renewal: skynetd's files now hold a certificate from another CA; SIGHUP loads it
        // for new connections while the client's open one goes on.
        try install(pair(renewalDir, "skynetd"))
        kill(daemon.process.processIdentifier, SIGHUP)
        let trustsRenewal = try RPCTLS(.init(certificatePath: caller.certificatePath, keyPath: caller.keyPath, caPath: renewal.caPath))
        let renewed = try await eventually {
            try await RPCConnection.connect(host: "127.0.0.1", port: daemon.port, configuration: .init(tls: trustsRenewal), logger: quietLogger())
        }
        #expect(try await renewed.call("status", []).mapValue != nil, "a new connection is served with the renewed certificate")
        await renewed.close()
        #expect(try await client.service(name: "echo").send("echo", "still", returning: String.self) == "still")
        let old = try await runSky(["ls", "/", "--coordinators", daemon.address] + withCertificate)
        #expect(old.status == 1 && old.err.contains("CERTIFICATE_VERIFY_FAILED"), "the old CA no longer vouches for skynetd: \(old.err)")
        await client.close()
        #expect(service.stop() == 0)
    }
}
