import SkynetTree
import Logging
import Synchronization
import Testing
@testable import SkynetCoordinator

/// A clock the test moves by hand.
final class ManualClock: Sendable {
    private let time = Mutex<Duration>(.zero)
    var now: Duration { time.withLock { $0 } }
    func advance(by duration: Duration) { time.withLock { $0 += duration } }
}

@Suite("Coordinator node (real WAL, manual clock)", .timeLimit(.minutes(1)))
struct CoordinatorNodeTests {
    private func p(_ s: String) -> TreePath { try! TreePath(s) }

    /// A node on `dir` whose clock is `clock`.
    private func openNode(_ dir: TemporaryDirectory, _ clock: ManualClock) throws -> CoordinatorNode {
        try CoordinatorNode.open(configuration: .init(dataDirectory: dir.path), logger: StorageTests.logger, now: { clock.now })
    }

    private func set(_ path: String, session: UInt64? = nil) -> CoordinatorCommand {
        .txn(compares: [], success: [.set(path: p(path), value: [1], ifRev: -1, session: session)], failure: [])
    }

    @Test("expiry follows the injected clock and goes through the log; keepalives push it back")
    func expiryByClock() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let node = try openNode(dir, clock)
        defer { node.stop() }
        guard case .sessionOpened(let session, _) = try await node.write(.openSession(ttlMilliseconds: 1_000)) else {
            Issue.record("no session")
            return
        }
        _ = try await node.write(set("/eph/a", session: session))
        _ = try await node.write(set("/eph/b", session: session))

        clock.advance(by: .milliseconds(900))
        node.expireSessions()
        #expect(try node.keepAlive(session) == .seconds(1), "still alive at 900 ms; renewed to 1,900 ms")
        clock.advance(by: .milliseconds(900))
        node.expireSessions()
        // Entries apply in log order: once this later write is answered, any expiry proposed before it has applied.
        _ = try await node.write(set("/marker"))
        #expect(node.read { $0.tree.fileCount } == 3, "not expired at 1,800 ms")

        clock.advance(by: .milliseconds(200))
        node.expireSessions()
        _ = try await node.write(set("/marker"))
        #expect(node.read { machine in machine.tree.files(ofSession: session) }.isEmpty)
        #expect(node.read { $0.sessions[session] } == nil)
        #expect(throws: (any Error).self) { try node.keepAlive(session) }
        #expect(throws: (any Error).self, "writing with an expired session is refused before it is logged") {
            try node.precheck(.set(path: self.p("/eph/c"), value: [], ifRev: -1, session: session))
        }
    }

    @Test("the expiry alarm is told the next deadline when a session's comes earlier, and a check says when to look again")
    func expiryAlarm() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let clock = ManualClock()
        let node = try openNode(dir, clock)
        defer { node.stop() }
        let alarms = Mutex<[Duration]>([])
        node.setExpiryAlarm { deadline in alarms.withLock { $0.append(deadline) } }
        #expect(alarms.withLock { $0 }.isEmpty, "no session, nothing to wake for")
        #expect(node.expireSessions() == nil)

        guard case .sessionOpened(let long, _) = try await node.write(.openSession(ttlMilliseconds: 2_000)),
              case .sessionOpened(let short, _) = try await node.write(.openSession(ttlMilliseconds: 500)) else {
            Issue.record("no session")
            return
        }
        _ = try await node.write(.openSession(ttlMilliseconds: 3_000))
        #expect(alarms.withLock { $0 } == [.seconds(2), .milliseconds(500)], "only deadlines earlier than the armed one")

        clock.advance(by: .milliseconds(500))
        #expect(node.expireSessions() == .seconds(2), "the short session expires; the long one is next")
        _ = try await node.write(set("/marker"))
        #expect(node.read { $0.sessions[short] } == nil)
        #expect(node.read { $0.sessions[long] } != nil)
        #expect(alarms.withLock { $0 }.count == 2, "an expiry is no earlier deadline")

        clock.advance(by: .milliseconds(100))
        _ = try await node.write(.openSession(ttlMilliseconds: 200))
        #expect(alarms.withLock { $0 }.last == .milliseconds(800), "a new session due before the next check re-arms")
    }
}
