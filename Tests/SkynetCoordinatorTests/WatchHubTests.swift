import SkynetTree
import Testing
import SkynetCoordinator
import SkynetTestSupport

@Suite("Watch hub")
struct WatchHubTests {
    private func p(_ s: String) -> TreePath { try! TreePath(s) }
    private func put(_ rev: Int64, _ path: String, _ value: String = "v") -> TreeEvent {
        TreeEvent(rev: rev, path: p(path), kind: .put, value: Array(value.utf8))
    }

    @Test("live delivery: only matching events, a revision's events together, progress when idle")
    func live() throws {
        var hub = WatchHub(revision: 0)
        let (id, catchUp) = try hub.watch(try TreeGlob("/svc/**"), fromRev: 0)
        #expect(catchUp.isEmpty)
        let actions = hub.onCommit(revision: 1, events: [put(1, "/svc/a"), put(1, "/other"), put(1, "/svc/b/c")])
        #expect(actions == [.deliver(id, [put(1, "/svc/a"), put(1, "/svc/b/c")])])
        #expect(hub.onCommit(revision: 2, events: [put(2, "/other")]).isEmpty)
        #expect(hub.onProgressTick().isEmpty)          // it received something since the last tick
        #expect(hub.onProgressTick() == [.progress(id, revision: 2)])
    }

    @Test("a watch resumes from history, and a compacted start names the oldest revision")
    func resume() throws {
        var hub = WatchHub(revision: 0, limits: .init(maxHistoryEvents: 3))
        for rev in Int64(1)...5 { _ = hub.onCommit(revision: rev, events: [put(rev, "/k")]) }
        #expect(hub.historyStart == 3)
        let (id, catchUp) = try hub.watch(try TreeGlob("/k"), fromRev: 4)
        #expect(catchUp == [.deliver(id, [put(4, "/k"), put(5, "/k")])])
        #expect(throws: WatchError.compacted(requested: 2, oldest: 3)) { try hub.watch(try TreeGlob("/k"), fromRev: 2) }
    }

    @Test("a watcher that stops reading falls back to history, then is cancelled with where to resume")
    func slowConsumer() throws {
        var hub = WatchHub(revision: 0, limits: .init(maxHistoryEvents: 4, maxPendingBytes: 40))   // an event here costs 27 bytes
        let tag = WatchTag(owner: 7, clientID: 42)
        let (id, _) = try hub.watch(try TreeGlob("/**"), fromRev: 0, tag: tag)
        #expect(hub.tag(of: id) == tag)
        #expect(hub.onCommit(revision: 1, events: [put(1, "/a")]) == [.deliver(id, [put(1, "/a")])])
        #expect(hub.onCommit(revision: 2, events: [put(2, "/b")]).isEmpty)   // over budget: held back
        #expect(hub.onSent(id, bytes: 100) == [.deliver(id, [put(2, "/b")])])  // drained: catches up
        var cancelled: [WatchAction] = []
        for rev in Int64(3)...9 { cancelled += hub.onCommit(revision: rev, events: [put(rev, "/c")]).filter { if case .cancel = $0 { true } else { false } } }
        #expect(cancelled == [.cancel(id, .slowConsumer(resumeFrom: 3))])   // held at 3 when 3 left history
        #expect(hub.watchCount == 0)
        #expect(hub.tag(of: id) == tag, "the shell still needs to know where the cancellation goes")
        hub.forgetCancelled(id)
        #expect(hub.tag(of: id) == nil)
    }

    @Test("a watch's tag is what it was started with, and goes with a cancel by the shell")
    func tags() throws {
        var hub = WatchHub(revision: 0)
        let (a, _) = try hub.watch(try TreeGlob("/a/**"), fromRev: 0, tag: WatchTag(owner: 1, clientID: 5))
        let (b, _) = try hub.watch(try TreeGlob("/a/**"), fromRev: 0, tag: WatchTag(owner: 2, clientID: 5))
        #expect(hub.tag(of: a) == WatchTag(owner: 1, clientID: 5))
        #expect(hub.tag(of: b) == WatchTag(owner: 2, clientID: 5))
        hub.cancel(a)
        #expect(hub.tag(of: a) == nil)
        let (c, _) = try hub.watch(try TreeGlob("/c"), fromRev: 0, tag: WatchTag(owner: 3, clientID: 1))
        #expect(c != a && hub.tag(of: a) == nil, "a reused slot carries a new id; the old one stays unknown")
        #expect(hub.onCommit(revision: 1, events: [put(1, "/a/x")]) == [.deliver(b, [put(1, "/a/x")])], "the shared prefix keeps its other watcher")
    }

    @Test("20,000 watchers on distinct prefixes: a commit looks only at the watchers on its path, and cancelling them empties the index")
    func prefixIndex() throws {
        var hub = WatchHub(revision: 0)
        var ids: [WatchID] = []
        for i in 0..<20_000 { ids.append(try hub.watch(try TreeGlob("/skynet/services/svc\(i)/1/**"), fromRev: 0).0) }
        let everything = try hub.watch(try TreeGlob("/**"), fromRev: 0).0
        let wild = try hub.watch(try TreeGlob("/skynet/*/svc7/**"), fromRev: 0).0
        #expect(hub.onCommit(revision: 1, events: [put(1, "/skynet/config/x")]) == [.deliver(everything, [put(1, "/skynet/config/x")])])
        #expect(hub.candidatesLastCommit == 2, "only the watchers filed under /, /skynet and /skynet/config: /** and /skynet/*/svc7/**")
        let actions = hub.onCommit(revision: 2, events: [put(2, "/skynet/services/svc7/1/us/h/9000")])
        #expect(actions == [ids[7], everything, wild].map { .deliver($0, [put(2, "/skynet/services/svc7/1/us/h/9000")]) })
        #expect(hub.candidatesLastCommit == 3)
        #expect(hub.onProgressTick().count == 20_002 - 3, "the others are told the revision")
        for id in ids + [everything, wild] { hub.cancel(id) }
        #expect(hub.watchCount == 0 && hub.indexPrefixCount == 0, "the index is empty again")
        #expect(hub.onCommit(revision: 3, events: [put(3, "/skynet/services/svc7/1/x")]).isEmpty)
    }

    @Test("a watch started ahead of the tree gets nothing before its revision, then everything")
    func startAhead() throws {
        var hub = WatchHub(revision: 0)
        let (id, catchUp) = try hub.watch(try TreeGlob("/k"), fromRev: 3)
        #expect(catchUp.isEmpty)
        #expect(hub.onCommit(revision: 1, events: [put(1, "/k")]).isEmpty)
        #expect(hub.onCommit(revision: 2, events: [put(2, "/k")]).isEmpty)
        #expect(hub.onCommit(revision: 3, events: [put(3, "/k")]) == [.deliver(id, [put(3, "/k")])])
        #expect(hub.behindCount == 0)
    }

    @Test("randomized: every subscription sees each matching event once, in order, whole revisions", arguments: 0..<20)
    func randomized(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let paths = ["/a", "/a/b", "/a/c", "/b", "/b/x/y", "/c/1"].map { try! TreePath($0) }
        let globs = ["/**", "/a/*", "/a/**", "/b/**", "/?", "/c/*"].map { try! TreeGlob($0) }
        var hub = WatchHub(revision: 0, limits: .init(maxHistoryEvents: 25, maxHistoryBytes: 10_000, maxPendingBytes: 150))
        var log: [TreeEvent] = []

        /// One consumer's view across re-watches after slow-consumer cancellations.
        struct Subscription { var glob: TreeGlob; var start: Int64; var received: [TreeEvent] = []; var current: WatchID?; var lostAt: Int64? }
        var subscriptions: [Subscription] = []
        var owner: [WatchID: Int] = [:]

        func handle(_ actions: [WatchAction]) {
            for action in actions {
                switch action {
                case let .deliver(id, events):
                    let s = owner[id]!
                    // Whole revisions: every matching event of each revision in the batch is there.
                    for rev in Set(events.map(\.rev)) {
                        let all = log.filter { $0.rev == rev && subscriptions[s].glob.matches($0.path) }
                        #expect(events.filter { $0.rev == rev } == all, "seed \(seed): partial revision \(rev)")
                    }
                    subscriptions[s].received += events
                case let .cancel(id, .slowConsumer(resumeFrom)):
                    let s = owner.removeValue(forKey: id)!
                    subscriptions[s].current = nil
                    // Resume where told, if history still reaches; else the subscription is lost there.
                    do {
                        let (next, catchUp) = try hub.watch(subscriptions[s].glob, fromRev: resumeFrom)
                        subscriptions[s].current = next
                        owner[next] = s
                        handle(catchUp)
                    } catch {
                        #expect(error == .compacted(requested: resumeFrom, oldest: hub.historyStart))
                        subscriptions[s].lostAt = resumeFrom
                    }
                case .cancel(_, .compacted):
                    Issue.record("seed \(seed): live watches are never cancelled as compacted")
                case let .progress(id, rev):
                    #expect(owner[id] != nil && rev == hub.revision)
                }
            }
        }

        var rev: Int64 = 0
        for _ in 0..<400 {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...4:
                rev += 1
                let events = (0..<Int.random(in: 1...3, using: &rng)).map { _ in
                    TreeEvent(rev: rev, path: paths.randomElement(using: &rng)!, kind: Bool.random(using: &rng) ? .put : .delete,
                              value: Array(repeating: 1, count: Int.random(in: 0...20, using: &rng)))
                }
                log += events
                handle(hub.onCommit(revision: rev, events: events))
            case 5:
                let glob = globs.randomElement(using: &rng)!
                let from = Int64.random(in: max(0, hub.historyStart - 2)...(hub.revision + 2), using: &rng)
                do {
                    let (id, catchUp) = try hub.watch(glob, fromRev: from)
                    subscriptions.append(Subscription(glob: glob, start: from == 0 ? hub.revision + 1 : from, current: id))
                    owner[id] = subscriptions.count - 1
                    handle(catchUp)
                } catch {
                    #expect(from != 0 && from < hub.historyStart, "seed \(seed): refused a start in history")
                }
            case 6, 7, 8:
                if let id = owner.keys.randomElement(using: &rng) { handle(hub.onSent(id, bytes: Int.random(in: 0...200, using: &rng))) }
            default:
                handle(hub.onProgressTick())
            }
        }
        // Drain everyone fully.
        for _ in 0..<1000 {
            let active = owner.keys.sorted()
            var delivered = false
            for id in active {
                let actions = hub.onSent(id, bytes: Int.max / 2)
                delivered = delivered || !actions.isEmpty
                handle(actions)
            }
            if !delivered { break }
        }
        for (i, subscription) in subscriptions.enumerated() {
            let end = subscription.lostAt ?? (hub.revision + 1)
            let expected = log.filter { $0.rev >= subscription.start && $0.rev < end && subscription.glob.matches($0.path) }
            #expect(subscription.received == expected, "seed \(seed): subscription \(i) from \(subscription.start)")
        }
        #expect(subscriptions.count > 5)
        #expect(hub.historyCount <= 25)
    }
}
