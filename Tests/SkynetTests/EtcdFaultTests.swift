import Foundation
import Synchronization
import Skynet
import SkynetRPC
import SkynetTestSupport
import Testing

/// Faults with real processes: a 3-member etcd on 127.0.0.1 and `skynetd` fronts over it.
@Suite("The coordinator cluster under faults (etcd members and fronts as real processes)", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: EtcdCluster.binary != nil, "needs etcd (Debian: etcd-server; make test installs it)"))
struct EtcdFaultTests {
    /// The member etcd says leads, asked through `client`'s coordinator.
    static func leader(_ client: CoordinatorClient) async throws -> String {
        let status = try await client.status()
        return try #require(status["leader"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Writes `key` through `client`, retrying while the cluster is unavailable; true once
    /// acknowledged, false when it never was (then it may or may not have been applied).
    static func write(_ client: CoordinatorClient, _ key: String) async -> Bool {
        for _ in 0..<40 {
            do {
                try await client.set(key, key)
                return true
            } catch let error as RPCError where error.code == .unavailable || error.code == .deadlineExceeded {
                continue
            } catch {
                return false
            }
        }
        return false
    }

    @Test("a front reaches etcd over mutual TLS; one without a client certificate does not start, and says why")
    func etcdOverTLS() async throws {
        let certificates = try TestCertificates(name: "etcd CA")
        defer { certificates.remove() }
        let member = try certificates.issue("etcd"), front = try certificates.issue("front")
        let etcd = try await EtcdCluster.start(size: 1, tls: member, clientCA: certificates.caPath)
        defer { etcd.stop() }
        let secured = try await offPool {
            try SkynetdProcess.front(etcd: etcd.clientAddresses, extra: [
                "--etcd-tls-ca", certificates.caPath, "--etcd-tls-cert", front.certificatePath, "--etcd-tls-key", front.keyPath])
        }
        defer { secured.stop() }
        let client = CoordinatorClient(configuration: .init(addresses: [secured.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        let rev = try await eventually { try await client.set("/tls/k", "v") }
        #expect(try await client.get("/tls/k")?.stat.modRev == rev)
        await client.close()
        do {
            let anonymous = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses, extra: ["--etcd-tls-ca", certificates.caPath]) }
            anonymous.stop()
            Issue.record("a front without a client certificate started")
        } catch {
            #expect("\(error)".contains("cannot reach the etcd cluster"), "\(error)")
        }
    }

    @Test("auth over etcd: fronts share roles and tokens; a second front started without the flag stays locked; a token revoked through one front stops on the other's open connection")
    func authAcrossFronts() async throws {
        let etcd = try await EtcdCluster.start(size: 1)
        defer { etcd.stop() }
        let tokenFile = temporaryPath("etcd-root") + ".token"
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let first = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses, extra: ["--auth-bootstrap", tokenFile]) }
        defer { first.stop() }
        let second = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        defer { second.stop() }
        let root = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        func sky(_ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
            try await runSky(arguments + ["--coordinators", first.address, "--token", root])
        }
        #expect(try await sky(["auth", "role", "add", "app", "read,write:/skynet/config/app/**"]).status == 0)
        let created = try await sky(["auth", "token", "create", "-name", "app", "-role", "app"])
        let token = created.out.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(created.status == 0 && !token.isEmpty, "\(created.err)")

        let anonymous = CoordinatorClient(configuration: .init(addresses: [second.address], callTimeout: testCoordinatorTimeout), logger: quietLogger())
        await #expect(throws: RPCError.self, "the second front found the records and locked itself") { _ = try await anonymous.get("/skynet/config/app/a") }
        // The token was written through the first front; the second reads it within its refresh.
        let app = try await eventually {
            let client = CoordinatorClient(configuration: .init(addresses: [second.address], callTimeout: testCoordinatorTimeout, token: token), logger: quietLogger())
            do {
                _ = try await client.set("/skynet/config/app/a", "1")
                return client
            } catch {
                await client.close()
                throw error
            }
        }
        let elsewhere = await #expect(throws: RPCError.self) { _ = try await app.get("/skynet/config/other") }
        #expect(elsewhere?.code == .forbidden, "\(String(describing: elsewhere))")
        #expect(try await sky(["auth", "token", "revoke", "app"]).status == 0)
        let revoked = try await eventually { () async throws -> RPCError in
            do {
                _ = try await app.get("/skynet/config/app/a")
                throw RPCError(.internal, "still served")
            } catch let error as RPCError where error.code == .unauthorized {
                return error
            }
        }
        #expect(revoked.message.contains("revoked"), "\(revoked.message)")
        for client in [anonymous, app] { await client.close() }
    }

    @Test("kill -9 of the etcd leader under writes through two fronts: writes resume by themselves, every acknowledged one is there")
    func leaderKilled() async throws {
        let etcd = try await EtcdCluster.start()
        defer { etcd.stop() }
        let fronts = try await offPool { [try SkynetdProcess.front(etcd: etcd.clientAddresses), try SkynetdProcess.front(etcd: etcd.clientAddresses)] }
        let clients = fronts.map { CoordinatorClient(configuration: .init(addresses: [$0.address]), logger: quietLogger()) }
        _ = try await eventually { try await clients[0].set("/k/ready", "1") }
        let leader = try await Self.leader(clients[0])

        let acknowledged = try await withThrowingTaskGroup(of: [String].self) { group in
            for (f, client) in clients.enumerated() {
                group.addTask {
                    var done: [String] = []
                    for i in 0..<60 where await Self.write(client, "/k/\(f)/\(i)") { done.append("/k/\(f)/\(i)") }
                    return done
                }
            }
            group.addTask {
                // Once writes are flowing, the leader dies.
                try await eventually { if try await clients[1].get("/k/1/10") == nil { throw NotYet() } }
                etcd.kill(leader)
                return []
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(acknowledged.count >= 100, "writes resumed after the kill: \(acknowledged.count) of 120 acknowledged")
        let stored = Set(try await clients[0].walk("/k/**").map(\.path.string))
        let lost = acknowledged.filter { !stored.contains($0) }
        #expect(lost.isEmpty, "acknowledged writes missing after the kill: \(lost)")
        #expect(try await Self.leader(clients[1]) != leader)
        for client in clients { await client.close() }
        for front in fronts { front.stop() }
    }

    @Test("kill -9 of a front: clients, sessions, registrations and watches move to the other, nothing missed or repeated")
    func frontKilled() async throws {
        let etcd = try await EtcdCluster.start()
        defer { etcd.stop() }
        let first = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        let second = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        defer { second.stop() }
        // Both know both fronts; each talks to the first until it dies.
        let addresses = [first.address, second.address]
        let client = CoordinatorClient(configuration: .init(addresses: addresses), logger: quietLogger())
        let writer = CoordinatorClient(configuration: .init(addresses: [second.address]), logger: quietLogger())
        let start = try await eventually { try await client.set("/f/seed", "0") }
        let session = try await client.openSession(ttl: .seconds(2))
        try await client.set("/f/registered", "me", session: session.id)
        let logs = temporaryPath("front-kill")
        let echo = try await offPool { try EchoServiceProcess(coordinator: addresses.joined(separator: ","), logDirectory: logs, label: "echo") }
        defer { echo.stop() }
        try await eventually { if try await Query(service: "echo").findInstances(writer).isEmpty { throw NotYet() } }

        let watch = client.watch("/f/**", fromRev: start)
        let collected = Task { try await collect(watch) { $0.contains { $0.path.string == "/f/40" } } }
        for i in 1...20 { try await writer.set("/f/\(i)", "\(i)") }
        #expect(first.stop(signal: SIGKILL) == SIGKILL)
        for i in 21...40 { try await writer.set("/f/\(i)", "\(i)") }
        let events = try await collected.value
        let paths = events.filter { $0.path.string != "/f/registered" }.map(\.path.string)
        #expect(paths == ["/f/seed"] + (1...40).map { "/f/\($0)" }, "no event missed or repeated across the front's death")
        #expect(events.map(\.rev) == events.map(\.rev).sorted() && Set(events.map(\.rev)).count == events.count)

        // Twice the session TTL later, the session (kept alive through the other front) and
        // the service's registration are still there.
        try await Task.sleep(for: .seconds(4))
        #expect(!session.isEnded)
        #expect(try await writer.get("/f/registered")?.value.text == "me")
        let instances = try await Query(service: "echo").findInstances(writer)
        #expect(instances.map(\.serviceAddress) == [echo.address], "the service's registration survived its front")
        await client.close()
        await writer.close()
    }

    @Test("two of three etcd members stopped: writes fail fast with Unavailable; when they return, everything resumes")
    func quorumLost() async throws {
        let etcd = try await EtcdCluster.start()
        defer { etcd.stop() }
        let front = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        defer { front.stop() }
        let client = CoordinatorClient(configuration: .init(addresses: [front.address], callTimeout: .seconds(10)), logger: quietLogger())
        _ = try await eventually { try await client.set("/q/before", "1") }
        let down = etcd.members.dropFirst().map(\.name)
        for name in down { etcd.kill(name) }
        let started = ContinuousClock.now
        do {
            try await client.set("/q/during", "1")
            Issue.record("a write without quorum was acknowledged")
        } catch let error as RPCError {
            #expect(error.code == .unavailable, "\(error)")
            #expect(!error.message.contains("etcdserver"), "no raw etcd text: \(error.message)")
        }
        #expect(ContinuousClock.now - started < .seconds(8), "failed within the front's etcd timeout, not the client's")
        for name in down { try etcd.restart(name) }
        _ = try await eventually(.seconds(30)) { try await client.set("/q/after", "1") }
        #expect(try await client.get("/q/before")?.value.text == "1")
        #expect(try await client.get("/q/after")?.value.text == "1")
        await client.close()
    }
}

extension EtcdFaultTests {
    @Test("concurrent get, set and compare-and-set through two fronts, while the etcd leader and a front die: linearizable", arguments: [20_261_202] as [UInt64])
    func linearizable(seed: UInt64) async throws {
        let etcd = try await EtcdCluster.start()
        defer { etcd.stop() }
        let first = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        let second = try await offPool { try SkynetdProcess.front(etcd: etcd.clientAddresses) }
        defer { second.stop() }
        // Half the clients prefer each front; all know both.
        let clients = (0..<4).map { i in
            CoordinatorClient(configuration: .init(addresses: i % 2 == 0 ? [first.address, second.address] : [second.address, first.address],
                                                   callTimeout: .seconds(3)), logger: quietLogger())
        }
        _ = try await eventually { try await clients[0].set("/lin/ready", "1") }
        let leader = try await Self.leader(clients[0])
        let history = try await Self.recordHistory(clients, perClient: 150, seed: seed) { progress in
            // A third of the way in, the etcd leader dies; two thirds in, the first front.
            let total = clients.count * 150
            try await eventually(.seconds(120)) { if progress.count < total / 3 { throw NotYet() } }
            etcd.kill(leader)
            try await eventually(.seconds(120)) { if progress.count < 2 * total / 3 { throw NotYet() } }
            first.stop(signal: SIGKILL)
        }
        await Self.expectLinearizable(history, seed: seed, label: "etcd-linearizability")
        for client in clients { await client.close() }
    }

    @Test("calls batched by a front (one etcd call out at a time, so nearly every call shares a Txn) are linearizable", arguments: [20_261_203] as [UInt64])
    func batchedLinearizable(seed: UInt64) async throws {
        try await withStore(.etcd, etcdCallsInFlight: 1) { server, _ in
            let address = "127.0.0.1:\(server.localAddress!.port!)"
            let clients = (0..<8).map { _ in CoordinatorClient(configuration: .init(addresses: [address], callTimeout: .seconds(30)), logger: quietLogger()) }
            let history = try await Self.recordHistory(clients, perClient: 80, seed: seed)
            #expect(!history.contains { $0.output == .unknown }, "without faults every call is answered")
            await Self.expectLinearizable(history, seed: seed, label: "etcd-batched-linearizability")
            for client in clients { await client.close() }
        }
    }

    /// Concurrent get, set and compare-and-set on five keys from `clients`, each a seeded
    /// sequence of `perClient` operations, recorded for the linearizability checker, while
    /// `faults` runs beside them (watching `progress`).
    static func recordHistory(
        _ clients: [CoordinatorClient], perClient: Int, seed: UInt64,
        faults: @escaping @Sendable (Progress) async throws -> Void = { _ in }
    ) async throws -> [LinearizabilityChecker.Operation] {
        let origin = ContinuousClock.now
        @Sendable func now() -> Int64 { let (s, a) = (ContinuousClock.now - origin).components; return s * 1_000_000_000 + a / 1_000_000_000 }
        // Five keys: linearizability is checked key by key, and fewer operations per key keep
        // the search short.
        let keys = ["/lin/a", "/lin/b", "/lin/c", "/lin/d", "/lin/e"]
        let progress = Progress()
        return try await withThrowingTaskGroup(of: [LinearizabilityChecker.Operation].self) { group in
            for (c, client) in clients.enumerated() {
                group.addTask {
                    var random = SeededGenerator(seed: seed &+ UInt64(c))
                    var operations: [LinearizabilityChecker.Operation] = []
                    var lastSeen: [String: String?] = [:]
                    for n in 0..<perClient {
                        let key = keys.randomElement(using: &random)!
                        let value = "\(c)-\(n)"
                        let input: LinearizabilityChecker.Input
                        switch Int.random(in: 0..<3, using: &random) {
                        case 0: input = .get
                        case 1: input = .set(value)
                        // Compare-and-set from the value this client last saw: often still current.
                        default: input = .cas(from: lastSeen[key] ?? nil, to: value)
                        }
                        let call = now()
                        var output: LinearizabilityChecker.Output
                        do {
                            switch input {
                            case .get:
                                output = .value(try await client.get(key).map { $0.value.text })
                            case .set(let value):
                                try await client.set(key, value)
                                output = .ok
                            case let .cas(from, to):
                                let path = try TreePath(key)
                                let compare = from.map { TxnCompare(path, .value(Array($0.utf8))) } ?? TxnCompare(path, .exists(false))
                                let result = try await client.txn(compares: [compare], success: [.set(path: path, value: Array(to.utf8), ifRev: -1, session: nil)], failure: [])
                                output = .swapped(result.succeeded)
                            }
                        } catch let error as RPCError where error.wasNotSent {
                            continue   // never reached a server: it did not happen
                        } catch {
                            output = .unknown
                        }
                        switch (input, output) {
                        case (.get, .value(let seen)): lastSeen[key] = seen
                        case (.set(let written), .ok), (.cas(_, let written), .swapped(true)): lastSeen[key] = written
                        default: break
                        }
                        operations.append(.init(client: c, key: key, input: input, output: output, call: call, ret: now()))
                        progress.advance()
                    }
                    return operations
                }
            }
            group.addTask {
                try await faults(progress)
                return []
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// Checks `history`: some compare-and-sets took effect, most calls were answered, and
    /// no key's history is non-linearizable (else the history is saved and its file named).
    static func expectLinearizable(_ history: [LinearizabilityChecker.Operation], seed: UInt64, label: String) async {
        let answered = history.filter { $0.output != .unknown }.count
        let swapped = history.filter { $0.output == .swapped(true) }.count
        #expect(swapped > 0, "some compare-and-sets took effect")
        #expect(answered >= history.count / 2, "most operations were answered: \(answered) of \(history.count)")
        if let key = await LinearizabilityChecker.violationOffPool(in: history) {
            let file = LinearizabilityChecker.save(history, label: label)
            Issue.record("not linearizable on \(key) (seed \(seed)); history in \(file)")
        }
    }
}

/// How many operations the clients of a test have finished.
final class Progress: Sendable {
    private let done = Mutex(0)
    func advance() { done.withLock { $0 += 1 } }
    var count: Int { done.withLock { $0 } }
}

/// A condition `eventually` waits for does not hold yet.
struct NotYet: Error {}
