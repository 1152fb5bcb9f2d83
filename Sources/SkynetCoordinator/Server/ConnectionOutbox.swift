import SkynetTree
import MessagePack
import SkynetRPC

/// The watch notifications bound for one connection from one batch of hub actions,
/// encoded into one buffer.
///
/// Deliveries with identical events are merged into one `watch` notification listing
/// every watch id; groups go out ordered by their first revision, which keeps each
/// watch's deliveries in revision order (a watch's deliveries cover disjoint, increasing
/// revision ranges). Progress and cancellations follow the deliveries, so a cancellation
/// never overtakes the events before it; progress for many idle watches is one
/// notification listing them (`["progress", [[id, ...], rev]]`), so a connection with
/// thousands of idle watches costs one message per tick, not thousands.
struct ConnectionOutbox {
    let connection: RPCServerConnection
    private var groups: [EventsKey: Int] = [:]
    private var deliveries: [(events: [TreeEvent], ids: [UInt64], charges: [(WatchID, Int)])] = []
    private var trailer: [RPCMessage] = []
    /// Idle watches told the same revision share one `progress` notification.
    private var progress: [Int64: [UInt64]] = [:]
    /// Charges of deliveries the connection's filter emptied: freed without a write.
    private var silentCharges: [(WatchID, Int)] = []

    init(connection: RPCServerConnection) {
        self.connection = connection
    }

    /// Adds an action for watch `clientID`; deliveries keep only the events `filter` lets through.
    mutating func add(_ clientID: UInt64, _ action: WatchAction, filter: WatchFilter? = nil) {
        switch action {
        case let .deliver(id, all):
            // The hub charged every event it handed out; the charge goes back whole.
            let charge = (id, all.reduce(0) { $0 + WatchHub.size(of: $1) })
            let events = filter.map { filter in all.filter { filter($0.path) } } ?? all
            guard !events.isEmpty else {
                silentCharges.append(charge)
                return
            }
            let key = EventsKey(events: events)
            if let index = groups[key] {
                deliveries[index].ids.append(clientID)
                deliveries[index].charges.append(charge)
            } else {
                groups[key] = deliveries.count
                deliveries.append((events, [clientID], [charge]))
            }
        case let .progress(_, revision):
            progress[revision, default: []].append(clientID)
        case let .cancel(_, error):
            trailer.append(.notification(method: "watchCancelled", params: [.uint(clientID), error.rpcError.value]))
        }
    }

    /// The encoded notifications and the budget charges to report once they are written.
    func encode() -> ([UInt8], [(WatchID, Int)]) {
        let writer = MessagePackWriter(capacity: 4096)
        var charges = silentCharges
        let ordered = deliveries.enumerated().sorted { a, b in
            (a.element.events[0].rev, a.offset) < (b.element.events[0].rev, b.offset)
        }
        for (_, delivery) in ordered {
            let ids: MessagePackValue = delivery.ids.count == 1 ? .uint(delivery.ids[0]) : .array(delivery.ids.map { .uint($0) })
            writer.pack(RPCMessage.notification(method: "watch", params: [ids, .array(delivery.events.map(\.wireValue))]).value)
            charges += delivery.charges
        }
        for (revision, ids) in progress.sorted(by: { $0.key < $1.key }) {
            let list: MessagePackValue = ids.count == 1 ? .uint(ids[0]) : .array(ids.map { .uint($0) })
            writer.pack(RPCMessage.notification(method: "progress", params: [list, .int(revision)]).value)
        }
        for message in trailer { writer.pack(message.value) }
        return (writer.bytes, charges)
    }
}

/// Deliveries' events as a grouping key: an event is the one change at its revision and
/// path, so revisions and paths tell two lists apart, and hashing them never reads the
/// values (up to 1 MiB each).
private struct EventsKey: Hashable {
    let events: [TreeEvent]

    func hash(into hasher: inout Hasher) {
        hasher.combine(events.count)
        for event in events {
            hasher.combine(event.rev)
            hasher.combine(event.path)
        }
    }

    static func == (a: EventsKey, b: EventsKey) -> Bool {
        a.events.count == b.events.count && zip(a.events, b.events).allSatisfy { $0.rev == $1.rev && $0.path == $1.path }
    }
}
