import MessagePack
import Skynet
import SkynetCoordinator
import SkynetEtcd
import SkynetRPC
import SkynetTestSupport
import Testing

/// What every store must do the same: run against the embedded node and against a front
/// over a real etcd (Debian's etcd-server, started by the test).
@Suite("Coordinator conformance: the same behaviour on every store", .timeLimit(.minutes(2)),
       .enabled(if: EtcdCluster.binary != nil, "needs etcd (Debian: etcd-server; make test installs it)"))
struct CoordinatorConformanceTests {
    @Test("every operation: set, compare-and-set, get now and at a past revision, getdir, walk, stat, txn, del", arguments: StoreKind.allCases)
    func operations(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            let rev1 = try await client.set("/skynet/config/a", "one")
            let rev2 = try await client.set("/skynet/config/b", "two", ifRev: 0)
            #expect(rev2 == rev1 + 1)
            let file = try #require(try await client.get("/skynet/config/a"))
            #expect(file.value.text == "one")
            #expect(file.stat.createRev == rev1 && file.stat.modRev == rev1 && file.stat.version == 1 && file.stat.size == 3)
            let rev3 = try await client.set("/skynet/config/a", "uno", ifRev: rev1)
            #expect(try await client.get("/skynet/config/a")?.stat.version == 2)
            #expect(try await client.get("/skynet/config/a")?.stat.modRev == rev3)
            #expect(try await client.get("/skynet/config/a", atRev: rev1)?.value.text == "one")
            #expect(try await client.getdir("/skynet/config") == ["a", "b"])
            #expect(try await client.getdir("/") == ["skynet"])
            #expect(try await client.walk("/skynet/**").map(\.path.string) == ["/skynet/config/a", "/skynet/config/b"])
            #expect(try await client.stat("/skynet") == .directory(children: 1))
            #expect(try await client.stat("/skynet/config/b") == .file(try #require(try await client.get("/skynet/config/b")).stat))
            #expect(try await client.stat("/nothing") == nil)
            let txn = try await client.txn(
                compares: [TxnCompare(try TreePath("/skynet/config/b"), .value(Array("two".utf8)))],
                success: [.set(path: try TreePath("/skynet/config/c"), value: [1], ifRev: 0, session: nil), .get(path: try TreePath("/skynet/config/b"))],
                failure: [])
            #expect(txn.succeeded)
            #expect(txn.revision == rev3 + 1)
            #expect(txn.results.first == .written(rev: txn.revision))
            if case .read(let read) = txn.results[1] { #expect(read?.value.text == "two") } else { Issue.record("no read result") }
            let other = try await client.txn(
                compares: [TxnCompare(try TreePath("/skynet/config/b"), .exists(false))],
                success: [.del(path: try TreePath("/skynet/config/b"), ifRev: -1)],
                failure: [.get(path: try TreePath("/skynet/config/c"))])
            #expect(!other.succeeded, "the failure branch ran")
            #expect(other.revision == txn.revision, "a transaction that writes nothing keeps the revision")
            try await client.del("/skynet/config/c")
            #expect(try await client.get("/skynet/config/c") == nil)
            #expect(try await client.getdir("/skynet/config") == ["a", "b"])
            let status = try await client.status()
            #expect(status["revision"]?.int64Value == txn.revision + 1)
            #expect(status["files"]?.int64Value == 2)
            #expect(status["store"]?.stringValue == kind.rawValue)
            let members = status["members"]?.arrayValue ?? []
            #expect(members.count == 1)
            #expect(members.first?["healthy"] == true && members.first?["leader"] == true)
            #expect(status["leader"] == members.first?["name"])
        }
    }

    @Test("the tree rules and compare-and-set refusals carry the same codes and data", arguments: StoreKind.allCases)
    func refusals(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            let rev = try await client.set("/r/file", "x")
            try await client.set("/r/dir/child", "y")
            func refusal(_ body: () async throws -> Void) async -> RPCError? {
                do { try await body(); return nil } catch let error as RPCError { return error } catch { return nil }
            }
            let underFile = await refusal { try await client.set("/r/file/below", "z") }
            #expect(underFile?.code == .badPath)
            #expect(underFile?.message.contains("/r/file is a file") == true, "\(underFile?.message ?? "")")
            let onDirectory = await refusal { try await client.set("/r/dir", "z") }
            #expect(onDirectory?.code == .badPath)
            #expect(onDirectory?.message.contains("/r/dir is a directory") == true, "\(onDirectory?.message ?? "")")
            let stale = await refusal { try await client.set("/r/file", "z", ifRev: rev + 100) }
            #expect(stale?.code == .revMismatch)
            #expect(stale?.data?["current"]?.int64Value == rev)
            #expect(stale?.data?["expected"]?.int64Value == rev + 100)
            let exists = await refusal { try await client.set("/r/file", "z", ifRev: 0) }
            #expect(exists?.code == .revMismatch)
            let missing = await refusal { try await client.del("/r/none") }
            #expect(missing?.code == .notFound)
            let missingCAS = await refusal { try await client.del("/r/none", ifRev: 5) }
            #expect(missingCAS?.code == .revMismatch)
            #expect(missingCAS?.data?["current"]?.int64Value == 0)
            let root = await refusal { try await client.set("/", "z") }
            #expect(root?.code == .badPath)
            let future = await refusal { _ = try await client.get("/r/file", atRev: rev + 1_000) }
            #expect(future?.code == .badRequest)
            #expect(future?.message.contains("in the future") == true, "\(future?.message ?? "")")
            let notDirectory = await refusal { _ = try await client.getdir("/r/none") }
            #expect(notDirectory?.code == .notFound)
            let unknownSession = await refusal { try await client.set("/r/eph", "z", session: 424_242) }
            #expect(unknownSession?.code == .sessionNotFound)
            // A branch whose operation is refused writes nothing, not even its other operations.
            let partial = await refusal {
                _ = try await client.txn(compares: [], success: [
                    .set(path: try TreePath("/r/new"), value: [1], ifRev: -1, session: nil),
                    .set(path: try TreePath("/r/dir2/x"), value: [1], ifRev: 7, session: nil),
                ])
            }
            #expect(partial?.code == .revMismatch)
            #expect(try await client.get("/r/new") == nil, "nothing of a refused transaction is written")
            #expect(try await client.get("/r/file")?.stat.modRev == rev, "refusals changed nothing")
        }
    }

    @Test("a transaction's operations apply one after another, and value != x holds of a missing file", arguments: StoreKind.allCases)
    func sequentialOperations(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            func path(_ text: String) throws -> TreePath { try TreePath(text) }
            try await client.set("/s/a/x", "only child")
            // The delete empties /s/a, so a file may take its place in the same revision.
            let replaced = try await client.txn(compares: [], success: [
                .del(path: try path("/s/a/x"), ifRev: -1),
                .set(path: try path("/s/a"), value: Array("file".utf8), ifRev: 0, session: nil),
                .get(path: try path("/s/a")),
            ])
            #expect(replaced.results.count == 3)
            if case .read(let file) = replaced.results[2] { #expect(file?.value.text == "file") } else { Issue.record("no read result") }
            #expect(try await client.get("/s/a")?.value.text == "file")
            #expect(try await client.get("/s/a")?.stat.modRev == replaced.revision)
            // The second operation sees the first: /s/n is a file by then.
            do {
                _ = try await client.txn(compares: [], success: [
                    .set(path: try path("/s/n"), value: [1], ifRev: -1, session: nil),
                    .set(path: try path("/s/n/below"), value: [2], ifRev: -1, session: nil),
                ])
                Issue.record("a file under a file made in the same transaction was accepted")
            } catch let error as RPCError {
                #expect(error.code == .badPath)
                #expect(error.message.contains("/s/n is a file"), "\(error.message)")
            }
            #expect(try await client.get("/s/n") == nil, "nothing of the refused transaction was written")
            let absent = try await client.txn(
                compares: [TxnCompare(try path("/s/none"), .value(Array("x".utf8)), .notEqual)],
                success: [.set(path: try path("/s/flag"), value: [1], ifRev: -1, session: nil)], failure: [])
            #expect(absent.succeeded, "a missing file's value differs from any value")
            #expect(try await client.get("/s/flag") != nil)
        }
    }

    @Test("walk pages in the tree's order (a name before its longer siblings), at one revision", arguments: StoreKind.allCases)
    func walkOrder(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            for path in ["/o/b", "/o/a.c", "/o/a/x", "/o/a-b", "/o/a/y/z"] { try await client.set(path, "v") }
            let expected = ["/o/a/x", "/o/a/y/z", "/o/a-b", "/o/a.c", "/o/b"]
            #expect(try await client.walk("/o/**").map(\.path.string) == expected)
            #expect(try await client.walk("/o/*").map(\.path.string) == ["/o/a-b", "/o/a.c", "/o/b"])
            #expect(try await client.getdir("/o") == ["a", "a-b", "a.c", "b"])
            // Values over one answer's size: the client pages through them.
            for i in 0..<4 { try await client.set("/big/\(i)", [UInt8](repeating: 1, count: 1 << 20)) }
            #expect(try await client.walk("/big/**").map(\.path.string) == ["/big/0", "/big/1", "/big/2", "/big/3"])
        }
    }

    @Test("a watch gets whole revisions in order, from a past revision too, and progress while idle", arguments: StoreKind.allCases)
    func watches(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            let start = try await client.set("/w/seed", "0")
            let ops = (0..<3).map { TreeOperation.set(path: try! TreePath("/w/t\($0)"), value: [UInt8($0)], ifRev: -1, session: nil) }
            _ = try await client.txn(compares: [], success: ops)
            try await client.set("/other", "ignored")
            // Started after the writes: the past comes from history.
            let watch = client.watch("/w/**", fromRev: start)
            try await client.del("/w/t1")
            var updates: [WatchUpdate] = []
            var sawProgress = false
            for try await update in watch {
                if update.isProgress {
                    sawProgress = true
                    if updates.flatMap(\.events).count == 5 { break }
                    continue
                }
                updates.append(update)
            }
            let events = updates.flatMap(\.events)
            #expect(events.map(\.path.string) == ["/w/seed", "/w/t0", "/w/t1", "/w/t2", "/w/t1"])
            #expect(events.map(\.kind) == [.put, .put, .put, .put, .delete])
            #expect(events.map(\.rev) == [start, start + 1, start + 1, start + 1, start + 3])
            for rev in Set(events.map(\.rev)) {
                #expect(updates.filter { $0.events.contains { $0.rev == rev } }.count == 1, "revision \(rev) is split across updates")
            }
            #expect(sawProgress, "an idle watcher hears progress")
        }
    }

    @Test("writes sent together each get their own answer: distinct files, one create race, a write under a file, a dead session", arguments: StoreKind.allCases)
    func concurrentWrites(kind: StoreKind) async throws {
        try await withStore(kind) { _, client in
            try await client.set("/c/file", "f")
            enum Outcome: Equatable { case written(Int64), refused(RPCErrorCode) }
            // Sent at once over one connection: on etcd, most share etcd Txns (a front batches
            // the writes that arrive while its etcd calls are busy).
            let outcomes = try await withThrowingTaskGroup(of: (String, Outcome).self) { group in
                func add(_ name: String, _ write: @escaping @Sendable () async throws -> Int64) {
                    group.addTask {
                        do { return (name, .written(try await write())) } catch let error as RPCError { return (name, .refused(error.code)) }
                    }
                }
                for i in 0..<100 { add("k\(i)") { try await client.set("/c/k\(i)", "v\(i)") } }
                for i in 0..<10 { add("race\(i)") { try await client.set("/c/race", "r\(i)", ifRev: 0) } }
                add("under") { try await client.set("/c/file/below", "x") }
                add("dead") { try await client.set("/c/eph", "x", session: 424_242) }
                var outcomes: [String: Outcome] = [:]
                for try await (name, outcome) in group { outcomes[name] = outcome }
                return outcomes
            }
            for i in 0..<100 {
                let file = try #require(try await client.get("/c/k\(i)"))
                #expect(file.value.text == "v\(i)")
                #expect(outcomes["k\(i)"] == .written(file.stat.modRev), "k\(i) was acknowledged at the revision it holds")
            }
            let winners = (0..<10).filter { if case .written = outcomes["race\($0)"] { true } else { false } }
            #expect(winners.count == 1, "exactly one create-if-absent wins: \(winners)")
            #expect((0..<10).filter { outcomes["race\($0)"] == .refused(.revMismatch) }.count == 9)
            if let winner = winners.first {
                #expect(try await client.get("/c/race")?.value.text == "r\(winner)")
            }
            #expect(outcomes["under"] == .refused(.badPath))
            #expect(outcomes["dead"] == .refused(.sessionNotFound))
            #expect(try await client.get("/c/eph") == nil)
            #expect(try await client.get("/c/file")?.value.text == "f")
        }
    }

    @Test("a session's files go together when it is closed or expires; keepAlive renews; a lost session is reported once", arguments: StoreKind.allCases)
    func sessions(kind: StoreKind) async throws {
        try await withStore(kind) { server, client in
            let session = try await client.openSession(ttl: .seconds(5))
            try await client.set("/eph/a", "x", session: session.id)
            try await client.set("/eph/b", "y", session: session.id)
            let kept = try await client.set("/eph/keep", "z")
            #expect(try await client.get("/eph/a")?.stat.session == session.id)
            let raw = try await RPCConnection.connect(host: "127.0.0.1", port: server.localAddress!.port!)
            let renewed = try await raw.call("keepAlive", [.uint(session.id)])
            #expect((renewed["ttlMs"]?.int64Value ?? 0) >= 1_000)
            let watch = client.watch("/eph/**", fromRev: kept + 1)
            // Someone else closes it (as expiry would): the next keepalive learns it is gone.
            let closed = try await raw.call("closeSession", [.uint(session.id)])
            #expect(closed["deleted"]?.int64Value == 2)
            var reasons: [RPCError] = []
            for await reason in session.lost { reasons.append(reason) }
            #expect(reasons.map(\.code) == [.sessionNotFound])
            let deletions = try await collect(watch) { $0.filter { $0.kind == .delete }.count == 2 }.filter { $0.kind == .delete }
            #expect(Set(deletions.map(\.path.string)) == ["/eph/a", "/eph/b"])
            #expect(Set(deletions.map(\.rev)) == [closed["rev"]?.int64Value ?? -1], "a session's files go in one revision")
            #expect(try await client.walk("/eph/**").map(\.path.string) == ["/eph/keep"])

            // Expiry: a session nobody keeps alive.
            let opened = try await raw.call("openSession", [.int(1_000)])
            let lapsing = try #require(opened["session"]?.uint64Value)
            let placed = try await raw.call("set", [.string("/eph/lapse"), .binary([1]), .int(-1), .uint(lapsing)])
            let gone = client.watch("/eph/lapse", fromRev: (placed["rev"]?.int64Value ?? 0) + 1)
            _ = try await collect(gone) { $0.contains { $0.kind == .delete } }
            #expect(try await client.get("/eph/lapse") == nil)
            do {
                _ = try await raw.call("keepAlive", [.uint(lapsing)])
                Issue.record("keepAlive after expiry succeeded")
            } catch let error as RPCError {
                #expect(error.code == .sessionNotFound)
            }
            await raw.close()
        }
    }

    @Test("etcd compacted: a read before the compaction is Compacted and names the oldest revision kept")
    func etcdCompacted() async throws {
        try await withStore(.etcd) { server, client in
            let first = try await client.set("/c/x", "1")
            try await client.set("/c/x", "2")
            let kept = try await client.set("/c/x", "3")
            let store = try #require(server.store as? EtcdStore)
            _ = try await store.client.kv.compact(.with { $0.revision = kept }, options: store.client.options)
            do {
                _ = try await client.get("/c/x", atRev: first)
                Issue.record("a read at a compacted revision succeeded")
            } catch let error as RPCError {
                #expect(error.code == .compacted)
                #expect(error.data?["oldest"]?.int64Value == kept, "\(error)")
            }
            #expect(try await client.get("/c/x", atRev: kept)?.value.text == "3")
        }
    }
}
