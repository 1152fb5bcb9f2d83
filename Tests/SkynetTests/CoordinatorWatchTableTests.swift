import Testing
@testable import Skynet

/// A sink the table hands updates to, known by name.
private final class Recorder: Sendable {
    let name: String
    init(_ name: String) { self.name = name }
}

// Mutating calls are made before #expect: the macro cannot take them.
@Suite("Coordinator client watch table (pure core)")
struct CoordinatorWatchTableTests {
    private final class Connection {}
    private let first = ObjectIdentifier(Connection.self)
    private let second = ObjectIdentifier(Recorder.self)

    /// Adds a watch of `glob` and subscribes it on `first` at revision `current`; returns its id and wire id.
    private func subscribedWatch(_ table: inout CoordinatorWatchTable<Recorder>, _ glob: String, current: Int64) throws -> (id: UInt64, wire: UInt64) {
        let id = table.add(glob: glob, fromRev: 0, sink: Recorder(String(glob.dropFirst())))
        let claimed = table.claim(id, on: first)
        let wire = try #require(claimed).wire
        let accepted = table.subscribed(id, wire: wire, on: first, current: current)
        #expect(accepted)
        return (id, wire)
    }

    private func put(_ rev: Int64, _ path: String = "/k") -> TreeEvent {
        TreeEvent(rev: rev, path: try! TreePath(path), kind: .put, value: [1])
    }

    @Test("a subscription answers with the revision; events move the resume point; a reconnect resubscribes from there, dropping repeats")
    func resumeWithoutGapOrDuplicate() throws {
        var table = CoordinatorWatchTable<Recorder>(maxBuffered: 8)
        let sink = Recorder("a")
        let id = table.add(glob: "/k/**", fromRev: 0, sink: sink)
        let claimed1 = table.claim(id, on: first)
        let claim = try #require(claimed1)
        #expect(claim.fromRev == 0 && claim.glob == "/k/**")
        let twice = table.claim(id, on: first)
        #expect(twice == nil, "one subscription at a time")
        let accepted = table.subscribed(id, wire: claim.wire, on: first, current: 10)
        #expect(accepted && table.entry(id)?.nextRev == 11)

        let delivered = table.events([put(11), put(12)], for: [claim.wire])
        #expect(delivered.updates.map(\.1) == [WatchUpdate(revision: 12, events: [put(11), put(12)])])
        #expect(delivered.updates.first?.0 === sink)

        table.connectionLost(first)
        let claimed2 = table.claim(id, on: second)
        let again = try #require(claimed2)
        #expect(again.fromRev == 13 && again.wire != claim.wire, "resumes after the last delivered revision, under a new wire id")
        let late = table.events([put(13)], for: [claim.wire])
        #expect(late.updates.isEmpty, "the old subscription feeds nothing any more")
        let acceptedAgain = table.subscribed(id, wire: again.wire, on: second, current: 13)
        #expect(acceptedAgain)
        let repeated = table.events([put(12), put(13)], for: [again.wire])
        #expect(repeated.updates.map(\.1) == [WatchUpdate(revision: 13, events: [put(13)])], "what was delivered is not delivered twice")
    }

    @Test("a consumer that falls behind pauses the watch; it resumes from where it was once half the buffer drained")
    func pauseAndResume() throws {
        var table = CoordinatorWatchTable<Recorder>(maxBuffered: 4)
        let id = table.add(glob: "/**", fromRev: 5, sink: Recorder("a"))
        let claimed3 = table.claim(id, on: first)
        let claim = try #require(claimed3)
        let accepted = table.subscribed(id, wire: claim.wire, on: first, current: 9)
        #expect(accepted && table.entry(id)?.nextRev == 5, "an explicit start is kept")
        for rev in Int64(5)...8 {
            let delivered = table.events([put(rev)], for: [claim.wire])
            #expect(delivered.updates.count == 1)
        }
        let overflow = table.events([put(9)], for: [claim.wire])
        #expect(overflow.updates.isEmpty && overflow.paused == [claim.wire], "full: pause and unwatch")
        let whilePaused = table.claim(id, on: second)
        #expect(whilePaused == nil, "a paused watch does not subscribe")
        let early = table.consumed(id)
        let resume = table.consumed(id)
        #expect(!early && resume, "resumes once half drained")
        let claimed4 = table.claim(id, on: first)
        let again = try #require(claimed4)
        #expect(again.fromRev == 9, "from the first revision not delivered")
    }

    @Test("progress goes only to idle consumers; a slow consumer's cancellation resubscribes it, any other ends the watch")
    func progressAndCancellations() throws {
        var table = CoordinatorWatchTable<Recorder>(maxBuffered: 4)
        let (a, wa) = try subscribedWatch(&table, "/a", current: 3)
        let (b, wb) = try subscribedWatch(&table, "/b", current: 3)
        let delivered = table.events([put(4, "/a")], for: [wa])
        #expect(delivered.updates.count == 1)
        let progress = table.progress(6, for: [wa, wb])
        #expect(progress.map(\.0.name) == ["b"], "a has an update waiting")
        #expect(table.entry(b)?.nextRev == 7)

        let slow = table.cancelled(wire: wa, slowConsumer: true)
        if case .resubscribe(let id)? = slow { #expect(id == a) } else { Issue.record("a slow consumer resubscribes: \(String(describing: slow))") }
        let resubscription = table.claim(a, on: first)
        #expect(resubscription != nil, "no longer counted as subscribed there")
        let ended = table.cancelled(wire: wb, slowConsumer: false)
        if case .finish(let sink)? = ended { #expect(sink.name == "b") } else { Issue.record("b ends: \(String(describing: ended))") }
        let again = table.cancelled(wire: wb, slowConsumer: false)
        #expect(!table.contains(b) && again == nil)
    }

    @Test("a dropped watch is unwatched only where it lives; a subscription answered after the drop is undone; close ends every watch")
    func dropAndClose() throws {
        var table = CoordinatorWatchTable<Recorder>(maxBuffered: 4)
        let c = try subscribedWatch(&table, "/c", current: 6).id
        let elsewhere = table.drop(c, live: second)
        #expect(elsewhere == nil, "subscribed on another connection: nothing to unwatch")
        let d = table.add(glob: "/d", fromRev: 0, sink: Recorder("d"))
        let claimed8 = table.claim(d, on: first)
        let wd = try #require(claimed8).wire
        let droppedWhileSubscribing = table.drop(d, live: first)
        #expect(droppedWhileSubscribing == nil, "its subscription is not live yet")
        let late = table.subscribed(d, wire: wd, on: first, current: 6)
        #expect(!late, "answered after it was dropped: the shell undoes it")
        let (e, we) = try subscribedWatch(&table, "/e", current: 6)
        let dropped = table.drop(e, live: first)
        #expect(dropped == we, "live on the current connection: unwatch it there")
        _ = table.add(glob: "/e", fromRev: 0, sink: Recorder("e"))
        let sinks = table.removeAll()
        #expect(sinks.map(\.name) == ["e"] && table.isEmpty)
    }
}

extension CoordinatorWatchTable.Cancellation: CustomStringConvertible {
    public var description: String {
        switch self {
        case .resubscribe(let id): "resubscribe(\(id))"
        case .finish: "finish"
        }
    }
}
