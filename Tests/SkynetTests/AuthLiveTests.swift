import Foundation
import Skynet
import SkynetRPC
import SkynetTestSupport
import Testing

@Suite("Auth end to end: skynetd with tokens and roles, sky, a service's admin port", .serialized, .timeLimit(.minutes(3)))
struct AuthLiveTests {
    /// A skynetd with auth on from a bootstrap file it creates, and its root token.
    static func start(_ label: String, extra: [String] = []) async throws -> (daemon: SkynetdProcess, root: String, dir: String) {
        let dir = temporaryPath(label)
        let tokenFile = dir + "-root.token"
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, extra: ["--auth-bootstrap", tokenFile] + extra) }
        let mode = try FileManager.default.attributesOfItem(atPath: tokenFile)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the root token file is its owner's only")
        let root = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return (daemon, root, dir)
    }

    static func sky(_ daemon: SkynetdProcess, _ arguments: [String], token: String?, tls: [String] = []) async throws -> (status: Int32, out: String, err: String) {
        try await runSky(arguments + ["--coordinators", daemon.address] + (token.map { ["--token", $0] } ?? []) + tls)
    }

    static func client(_ daemon: SkynetdProcess, token: String?, tls: RPCTLS? = nil) -> CoordinatorClient {
        CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: testCoordinatorTimeout, tls: tls, token: token), logger: quietLogger())
    }

    static func code(_ body: () async throws -> Void) async -> (RPCErrorCode, String)? {
        do { try await body() } catch let error as RPCError { return (error.code, error.message) } catch { return (.internal, "\(error)") }
        return nil
    }

    @Test("anonymous and unknown tokens are refused; a read-only token cannot write; a token limited to /skynet/config/app/** reads, walks and watches only there; a revoked token stops on its open connection")
    func tokensAndRoles() async throws {
        let (daemon, root, dir) = try await Self.start("auth-live")
        defer {
            daemon.stop()
            try? FileManager.default.removeItem(atPath: dir + "-root.token")
        }
        let anonymous = try await Self.sky(daemon, ["set", "/skynet/config/app/db", "x"], token: nil)
        #expect(anonymous.status == 1 && anonymous.err.contains("requires authentication"), "\(anonymous.err)")
        let wrong = try await Self.sky(daemon, ["ls", "/"], token: "skt_not-a-real-token-0000000000")
        #expect(wrong.status == 1 && wrong.err.contains("not valid"), "\(wrong.err)")

        for (name, rule) in [("reader", "read:/skynet/**"), ("app", "read,write:/skynet/config/app/**")] {
            let added = try await Self.sky(daemon, ["auth", "role", "add", name, rule], token: root)
            #expect(added.status == 0, "\(added.err)")
        }
        #expect(try await Self.sky(daemon, ["auth", "role", "add", "temp", "read:/x/**"], token: root).status == 0)
        #expect(try await Self.sky(daemon, ["auth", "role", "rm", "temp"], token: root).status == 0)
        let roles = try await Self.sky(daemon, ["auth", "role", "list"], token: root)
        #expect(roles.out.contains("read,write:/skynet/config/app/**") && !roles.out.contains("temp"), "\(roles.out)")
        let removedTwice = try await Self.sky(daemon, ["auth", "role", "rm", "temp"], token: root)
        #expect(removedTwice.status == 1 && removedTwice.err.contains("no role temp on record"), "\(removedTwice.err)")
        let badRule = try await Self.sky(daemon, ["auth", "role", "add", "bad", "fly:/x"], token: root)
        #expect(badRule.status == 2 && badRule.err.contains("unknown permission"), "\(badRule.err)")
        let reader = try await Self.sky(daemon, ["auth", "token", "create", "-name", "reader", "-role", "reader"], token: root)
        #expect(reader.status == 0, "\(reader.err)")
        let readerToken = reader.out.trimmingCharacters(in: .whitespacesAndNewlines)
        let created = try await Self.sky(daemon, ["auth", "token", "create", "-name", "app", "-role", "app", "--json"], token: root)
        let appToken = try #require((try JSONSerialization.jsonObject(with: Data(created.out.utf8)) as? [String: Any])?["token"] as? String, "\(created.err)")
        let noRole = try await Self.sky(daemon, ["auth", "token", "create", "-name", "x", "-role", "missing"], token: root)
        #expect(noRole.status == 1 && noRole.err.contains("no role missing"), "\(noRole.err)")

        let listed = try await Self.sky(daemon, ["auth", "token", "list"], token: root)
        #expect(listed.out.contains("bootstrap") && listed.out.contains("reader") && listed.out.contains("app"), "\(listed.out)")
        #expect(!listed.out.contains(readerToken) && !listed.out.contains(appToken), "tokens are never stored or shown")
        let hidden = try await Self.sky(daemon, ["auth", "token", "list"], token: readerToken)
        #expect(hidden.status == 0 && hidden.out.contains("(none)"), "only admin reads /skynet/auth: filtered, not failed: \(hidden.out)")
        let junk = try await Self.sky(daemon, ["set", "/skynet/auth/roles/junk", "{"], token: root)
        #expect(junk.status == 1 && junk.err.contains("not valid JSON"), "records are checked: \(junk.err)")

        let admin = Self.client(daemon, token: root)
        _ = try await admin.set("/skynet/config/app/db", "app-value")
        _ = try await admin.set("/skynet/config/billing/db", "billing-secret")

        // Read-only: reads anything outside the reserved prefix, writes nothing.
        let read = try await Self.sky(daemon, ["get", "/skynet/config/billing/db"], token: readerToken)
        #expect(read.status == 0 && read.out.contains("billing-secret"), "\(read.err)")
        let write = try await Self.sky(daemon, ["set", "/skynet/config/billing/db", "y"], token: readerToken)
        #expect(write.status == 1 && write.err.contains("Forbidden") && write.err.contains("lacks write on /skynet/config/billing/db"), "\(write.err)")

        // Limited to /skynet/config/app/**.
        let app = Self.client(daemon, token: appToken)
        #expect(try await app.get("/skynet/config/app/db").map { String(decoding: $0.value, as: UTF8.self) } == "app-value")
        let elsewhere = await Self.code { _ = try await app.get("/skynet/config/billing/db") }
        #expect(elsewhere?.0 == .forbidden && elsewhere?.1.contains("lacks read on /skynet/config/billing/db") == true, "\(String(describing: elsewhere))")
        #expect(elsewhere?.1.contains("billing-secret") == false, "never a value in an error")
        #expect(try await app.walk("/skynet/**").map(\.path.string) == ["/skynet/config/app/db"], "a walk returns only what it may read")
        #expect(try await app.getdir("/skynet/config") == ["app"])
        _ = try await app.set("/skynet/config/app/mine", "1")
        let watch = app.watch("/skynet/**")
        var events = watch.makeAsyncIterator()
        _ = try await admin.set("/skynet/config/billing/db", "changed")
        _ = try await admin.set("/skynet/config/app/db", "changed")
        // The billing change came first; the watch's first event is the app change.
        var seen: [String] = []
        while seen.isEmpty, let update = try await events.next() {
            seen += update.events.map(\.path.string)
        }
        #expect(seen == ["/skynet/config/app/db"], "the watch never sees other paths: \(seen)")

        // Revoked: the open connection's next call is refused, and so is a new connection.
        let revoked = try await Self.sky(daemon, ["auth", "token", "revoke", "app"], token: root)
        #expect(revoked.status == 0, "\(revoked.err)")
        let after = await Self.code { _ = try await app.get("/skynet/config/app/db") }
        #expect(after?.0 == .unauthorized && after?.1.contains("revoked") == true, "\(String(describing: after))")
        let fresh = Self.client(daemon, token: appToken)
        let again = await Self.code { _ = try await fresh.get("/skynet/config/app/db") }
        #expect(again?.0 == .unauthorized, "\(String(describing: again))")
        for client in [admin, app, fresh] { await client.close() }
    }

    @Test("admin calls need admin on the instance: sky stop with a read-only token or none is refused and the instance lives; with admin on it, it stops")
    func adminCalls() async throws {
        let (daemon, root, dir) = try await Self.start("auth-admin")
        defer {
            daemon.stop()
            try? FileManager.default.removeItem(atPath: dir + "-root.token")
        }
        for (name, rules) in [("reader", ["read:/skynet/**"]), ("echo-ops", ["admin:/skynet/services/echo/**"]),
                              ("echo-service", ["read:/skynet/**", "read,write:/skynet/services/echo/**"])] {
            let added = try await Self.sky(daemon, ["auth", "role", "add", name] + rules, token: root)
            #expect(added.status == 0, "\(added.err)")
        }
        var tokens: [String: String] = [:]
        for name in ["reader", "echo-ops", "echo-service"] {
            let made = try await Self.sky(daemon, ["auth", "token", "create", "-name", name, "-role", name], token: root)
            tokens[name] = made.out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // The service registers with a token that may write only its own subtree.
        let serviceToken = tokens["echo-service"]!
        let service = try await offPool {
            try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "echo", extra: ["-token", serviceToken])
        }
        defer { service.stop() }
        let instances = try await Self.sky(daemon, ["instances", "-service", "echo", "--json"], token: tokens["reader"])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(instances.out.utf8)) as? [[String: Any]], "\(instances.err)")
        let adminAddress = try #require(rows.first?["admin"] as? String)

        let refused = try await Self.sky(daemon, ["stop", "-service", "echo"], token: tokens["reader"])
        #expect(refused.status == 1 && refused.err.contains("lacks admin on /skynet/services/echo/"), "\(refused.out) \(refused.err)")
        let port = try #require(HostPort(adminAddress)?.port)
        let direct = try await RPCConnection.connect(host: "127.0.0.1", port: port, logger: quietLogger())
        let anonymous = await Self.code { _ = try await direct.call("stop", []) }
        #expect(anonymous?.0 == .unauthorized, "no token, no stop: \(String(describing: anonymous))")
        await direct.close()

        // Nor can it end the instance's registration by closing or reusing its session.
        let readerClient = Self.client(daemon, token: tokens["reader"])
        let instance = try #require(try await readerClient.walk("/skynet/services/echo/**").first)
        let session = try #require(instance.stat.session)
        await readerClient.close()
        let raw = try await RPCConnection.connect(host: "127.0.0.1", port: daemon.port, logger: quietLogger())
        _ = try await raw.call("auth", [.string(tokens["reader"]!)])
        let closing = await Self.code { _ = try await raw.call("closeSession", [.uint(session)]) }
        #expect(closing?.0 == .forbidden && closing?.1.contains("opened by another caller") == true, "\(String(describing: closing))")
        let keeping = await Self.code { _ = try await raw.call("keepAlive", [.uint(session)]) }
        #expect(keeping?.0 == .forbidden, "\(String(describing: keeping))")
        let gone = await Self.code { _ = try await raw.call("keepAlive", [.uint(session + 1_000)]) }
        #expect(gone?.0 == .sessionNotFound, "a session that does not exist reads as such: \(String(describing: gone))")
        await raw.close()
        let other = try await Self.sky(daemon, ["auth", "token", "create", "-name", "other-echo", "-role", "echo-service"], token: root)
        let squatter = Self.client(daemon, token: other.out.trimmingCharacters(in: .whitespacesAndNewlines))
        let bound = await Self.code { _ = try await squatter.set("/skynet/services/echo/squat", "x", session: session) }
        #expect(bound?.0 == .forbidden, "a file bound to another token's session, even where the token may write: \(String(describing: bound))")
        let own = try await squatter.openSession(ttl: .seconds(5))
        _ = try await squatter.set("/skynet/services/echo/mine", "x", session: own.id)
        try await own.close()
        #expect(try await squatter.get("/skynet/services/echo/mine") == nil, "its own session's file went with the session")
        await squatter.close()

        var config = ClientConfig(coordinators: [daemon.address])
        config.coordinatorTimeout = testCoordinatorTimeout
        config.token = tokens["reader"]
        let client = Client(config: config, logger: quietLogger())
        #expect(try await client.service(name: "echo").send("echo", "alive", returning: String.self) == "alive", "the instance lives")
        await client.close()

        let stopped = try await Self.sky(daemon, ["stop", "-service", "echo"], token: tokens["echo-ops"])
        #expect(stopped.status == 0, "\(stopped.out) \(stopped.err)")
        #expect(await offPoolStatus(service) == 0, "the instance stopped cleanly")
    }
}

extension AuthLiveTests {
    @Test("mutual TLS identities in ACLs: a client certificate whose name has roles needs no token, one without roles is refused; sky stops an instance with a certificate holding admin on it")
    func certificateIdentities() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let server = try certificates.issue("skynetd"), echo = try certificates.issue("echo"), root = try certificates.issue("root-holder")
        let reader = try certificates.issue("reader"), ops = try certificates.issue("ops"), stranger = try certificates.issue("stranger")
        let mutual = ["--tls-cert", server.certificatePath, "--tls-key", server.keyPath, "--tls-ca", certificates.caPath, "--tls-client-auth"]
        let (daemon, rootToken, dir) = try await Self.start("auth-mtls", extra: mutual)
        defer {
            daemon.stop()
            try? FileManager.default.removeItem(atPath: dir + "-root.token")
        }
        func flags(_ pair: TestCertificates.Pair) -> [String] { ["--tls-ca", certificates.caPath, "--tls-cert", pair.certificatePath, "--tls-key", pair.keyPath] }
        for (role, rule) in [("reader", "read:/skynet/**"), ("echo-ops", "admin:/skynet/services/echo/**"), ("echo-service", "read,write:/skynet/services/echo/**")] {
            let added = try await Self.sky(daemon, ["auth", "role", "add", role, rule], token: rootToken, tls: flags(root))
            #expect(added.status == 0, "\(added.err)")
        }
        for (name, role) in [("reader", "reader"), ("ops", "echo-ops"), ("echo", "echo-service")] {
            let bound = try await Self.sky(daemon, ["auth", "cert", "add", name, "-role", role], token: rootToken, tls: flags(root))
            #expect(bound.status == 0, "\(bound.err)")
        }
        let listed = try await Self.sky(daemon, ["auth", "cert", "list"], token: rootToken, tls: flags(root))
        #expect(listed.out.contains("ops") && listed.out.contains("echo-ops"), "\(listed.out)")

        // No token: the certificate speaks for itself.
        let asReader = Self.client(daemon, token: nil, tls: try RPCTLS(.init(certificatePath: reader.certificatePath, keyPath: reader.keyPath, caPath: certificates.caPath)))
        #expect(try await asReader.getdir("/skynet").contains("auth") == false, "no admin, no reserved prefix in listings")
        let write = await Self.code { _ = try await asReader.set("/skynet/config/x", "1") }
        #expect(write?.0 == .forbidden && write?.1.contains("certificate \"reader\"") == true, "\(String(describing: write))")
        let asStranger = Self.client(daemon, token: nil, tls: try RPCTLS(.init(certificatePath: stranger.certificatePath, keyPath: stranger.keyPath, caPath: certificates.caPath)))
        let refused = await Self.code { _ = try await asStranger.get("/skynet/config/x") }
        #expect(refused?.0 == .unauthorized && refused?.1.contains("certificate \"stranger\" has no roles") == true, "\(String(describing: refused))")

        // A service on mutual TLS registers with its certificate's roles; its admin port
        // obeys the certificate that holds admin on it and no other.
        let service = try await offPool {
            try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "echo",
                                   extra: ["-tls-cert", echo.certificatePath, "-tls-key", echo.keyPath, "-tls-ca", certificates.caPath, "-tls-client-auth"])
        }
        defer { service.stop() }
        let denied = try await Self.sky(daemon, ["stop", "-service", "echo"], token: nil, tls: flags(reader))
        #expect(denied.status == 1 && denied.err.contains("lacks admin on /skynet/services/echo/"), "\(denied.out) \(denied.err)")
        let stopped = try await Self.sky(daemon, ["stop", "-service", "echo"], token: nil, tls: flags(ops))
        #expect(stopped.status == 0, "\(stopped.out) \(stopped.err)")
        #expect(await offPoolStatus(service) == 0, "the instance stopped cleanly")
        for client in [asReader, asStranger] { await client.close() }
    }
}

/// The exit status of a child process once it ends by itself.
private func offPoolStatus(_ child: TestChildProcess) async -> Int32 {
    (try? await offPool { TestChildProcess.reap(child.process) }) ?? -1
}
