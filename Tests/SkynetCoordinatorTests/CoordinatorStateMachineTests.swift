import MessagePack
import SkynetTree
import Testing
import SkynetCoordinator
import SkynetTestSupport

@Suite("Coordinator state machine")
struct CoordinatorStateMachineTests {
    private func p(_ s: String) -> TreePath { try! TreePath(s) }

    @Test("sessions: ephemeral files go in one revision when the session expires; unknown sessions are refused")
    func sessions() throws {
        var machine = CoordinatorStateMachine()
        var index: UInt64 = 0
        func apply(_ command: CoordinatorCommand) -> (Result<CommandResult, CoordinatorError>, [TreeEvent]) {
            index += 1
            // Every command goes through its log encoding, as it would from the WAL.
            return machine.apply(try! CoordinatorCommand(encoded: command.encoded), at: index)
        }
        #expect(apply(.openSession(ttlMilliseconds: 1000)).0 == .success(.sessionOpened(id: 1, ttlMilliseconds: 1000)))
        _ = apply(.txn(compares: [], success: [.set(path: p("/s/a"), value: [1], ifRev: -1, session: 1)], failure: []))
        _ = apply(.txn(compares: [], success: [.set(path: p("/s/b"), value: [2], ifRev: -1, session: 1)], failure: []))
        _ = apply(.txn(compares: [], success: [.set(path: p("/keep"), value: [3], ifRev: -1, session: nil)], failure: []))
        let (unknown, none) = apply(.txn(compares: [], success: [.set(path: p("/x"), value: [], ifRev: -1, session: 9)], failure: []))
        #expect(unknown == .failure(.sessionNotFound(9)))
        #expect(none.isEmpty)
        let (ended, events) = apply(.expireSession(1))
        #expect(ended == .success(.sessionEnded(id: 1, revision: 4, files: 2)))
        #expect(events.map(\.path.string) == ["/s/a", "/s/b"])
        #expect(events.allSatisfy { $0.rev == 4 && $0.kind == .delete })
        #expect(try machine.tree.get(p("/keep")) != nil)
        #expect(apply(.closeSession(1)).0 == .failure(.sessionNotFound(1)))
        #expect(apply(.openSession(ttlMilliseconds: 500)).0 == .success(.sessionOpened(id: 2, ttlMilliseconds: 500)), "ids are never reused")
    }

    @Test("12,000 random commands through the log codec agree with the model; replaying the log onto a midway copy reaches the same state", arguments: 0..<20)
    func randomized(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var machine = CoordinatorStateMachine()
        var model = TreeModel()
        var liveSessions: Set<UInt64> = []
        var outcomes: [String: Int] = [:]
        let paths = ConfigTreeModelTests.universe.map { try! TreePath($0) }
        var index: UInt64 = 0
        var midway: CoordinatorStateMachine?
        var log: [CoordinatorCommand] = []
        for step in 0..<600 {
            let context = "seed \(seed) step \(step)"
            let command: CoordinatorCommand
            switch Int.random(in: 0..<10, using: &rng) {
            case 0:
                command = .openSession(ttlMilliseconds: Int64.random(in: 100...5000, using: &rng))
            case 1:
                command = .expireSession(UInt64.random(in: 1...machine.nextSession, using: &rng))
            default:
                let path = paths.randomElement(using: &rng)!
                let session: UInt64? = Bool.random(using: &rng) ? UInt64.random(in: 1...machine.nextSession, using: &rng) : nil
                let ifRev: Int64 = [-1, 0, model.files[path.string]?.modRev ?? 0, Int64.random(in: 1...max(1, model.revision), using: &rng)].randomElement(using: &rng)!
                let op: TreeOperation = Int.random(in: 0..<4, using: &rng) == 0
                    ? .del(path: path, ifRev: ifRev)
                    : .set(path: path, value: [UInt8.random(in: 0...3, using: &rng)], ifRev: ifRev, session: session)
                let compare = TxnCompare(paths.randomElement(using: &rng)!, .exists(Bool.random(using: &rng)))
                command = .txn(compares: Bool.random(using: &rng) ? [compare] : [], success: [op], failure: [])
            }
            log.append(command)
            index += 1
            let decoded = try CoordinatorCommand(encoded: command.encoded)
            #expect(decoded == command, "\(context): codec round trip")
            let (result, events) = machine.apply(decoded, at: index)
            // The model's answer.
            switch command {
            case .openSession:
                liveSessions.insert(machine.nextSession - 1)
                outcomes["open", default: 0] += 1
            case .expireSession(let id), .closeSession(let id):
                if liveSessions.remove(id) != nil {
                    model.deleteSession(id)
                    guard case .success(.sessionEnded) = result else { Issue.record("\(context): expire of live \(id) -> \(result)"); break }
                    outcomes[events.isEmpty ? "expire-empty" : "expire-files", default: 0] += 1
                } else {
                    #expect(result == .failure(.sessionNotFound(id)), "\(context)")
                    outcomes["expire-unknown", default: 0] += 1
                }
            case let .txn(compares, success, failure):
                if case let .set(_, _, _, session?) = success[0], !liveSessions.contains(session) {
                    #expect(result == .failure(.sessionNotFound(session)), "\(context)")
                    outcomes["write-unknown-session", default: 0] += 1
                } else {
                    let (ok, expected) = model.txn(compares, success: success, failure: failure)
                    switch result {
                    case .success(.txn(let r)):
                        #expect(expected == nil && r.succeeded == ok, "\(context): txn disagrees")
                        outcomes[ok ? "txn" : "txn-failure", default: 0] += 1
                    case .failure(.tree(let error)):
                        #expect(error.code == expected, "\(context): \(error) vs model \(expected ?? "ok")")
                        outcomes[error.code, default: 0] += 1
                    default:
                        Issue.record("\(context): unexpected \(result)")
                    }
                }
            }
            #expect(machine.tree.revision == model.revision, "\(context): revision")
            if step == 300 { midway = machine }
        }
        for path in paths {
            #expect(try machine.tree.get(path)?.value == model.files[path.string]?.value, "seed \(seed): \(path)")
            #expect(try machine.tree.get(path)?.stat.session == model.files[path.string]?.session, "seed \(seed): session of \(path)")
        }
        #expect(Set(machine.sessions.keys) == liveSessions)
        // Replaying the log's tail onto the midway state gives the same end state.
        var replayed = try #require(midway)
        for (i, command) in log.enumerated().dropFirst(301) { _ = replayed.apply(command, at: UInt64(i + 1)) }
        #expect(replayed.tree.revision == machine.tree.revision)
        for path in paths { #expect(try replayed.tree.get(path) == machine.tree.get(path)) }
        for outcome in ["open", "expire-files", "expire-unknown", "write-unknown-session", "txn", "RevMismatch"] {
            #expect(outcomes[outcome, default: 0] > 0, "seed \(seed): no \(outcome) in \(outcomes)")
        }
    }
}

@Suite("The log form of commands")
struct CoordinatorCommandEncodingTests {
    @Test("a transaction is streamed into the same bytes as packing its value tree (logs written either way read alike)")
    func streamedEqualsTree() throws {
        let p = { (s: String) in try! TreePath(s) }
        let operations: [TreeOperation] = [
            .set(path: p("/a/b"), value: [1, 2, 3], ifRev: -1, session: nil),
            .set(path: p("/a/c"), value: [UInt8](repeating: 7, count: 300), ifRev: 42, session: 9),
            .set(path: p("/e"), value: [], ifRev: 0, session: nil),
            .del(path: p("/a/b"), ifRev: -1),
            .del(path: p("/a/d"), ifRev: 70_000),
            .get(path: p("/x/y/z")),
        ]
        let compares = [
            TxnCompare(p("/a/b"), .modRev(3)),
            TxnCompare(p("/a/c"), .value([9]), .notEqual),
        ]
        for (success, failure) in [(operations, []), ([], operations), (Array(operations.prefix(1)), Array(operations.suffix(2)))] {
            for compares in [[], compares] {
                let tree: MessagePackValue = [1, .array(compares.map(\.wireValue)), .array(success.map(\.wireValue)), .array(failure.map(\.wireValue))]
                let command = CoordinatorCommand.txn(compares: compares, success: success, failure: failure)
                #expect(command.encoded == tree.packed())
                #expect(try CoordinatorCommand(encoded: command.encoded) == command)
            }
        }
    }
}
