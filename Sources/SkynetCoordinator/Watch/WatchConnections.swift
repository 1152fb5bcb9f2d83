import SkynetRPC
import SkynetTree

/// Which RPC connection holds which watch of a `WatchHub`, and how the hub's actions reach
/// them: the watch fan-out every store shares (the embedded node feeds its hub from the
/// log it applies, the etcd store from one etcd watch stream).
///
/// A value kept under the same lock as its hub; the sending (`send`) happens outside it.
/// Which events a connection may see: its caller's read permission, asked per event at
/// delivery, so a token revoked or a role narrowed takes effect on open watches at once.
public typealias WatchFilter = @Sendable (TreePath) -> Bool

package struct WatchConnections {
    /// A watch action with the connection and client id it goes to.
    package struct Routed {
        package var connection: RPCServerConnection
        package var clientID: UInt64
        package var action: WatchAction
        /// The connection's read filter, when access control is on.
        package var filter: WatchFilter?
    }

    /// The connections that hold watches, by the number their watches' tags carry
    /// (`WatchTag.owner`), and each one's watches by client id.
    private var connections: [UInt32: RPCServerConnection] = [:]
    private var owners: [ObjectIdentifier: UInt32] = [:]
    private var byConnection: [UInt32: [UInt64: WatchID]] = [:]
    /// Read filters of connections that have one (access control on).
    private var filters: [UInt32: WatchFilter] = [:]
    private var nextOwner: UInt32 = 0
    private let maxWatchesPerConnection: Int

    package init(maxWatchesPerConnection: Int) {
        self.maxWatchesPerConnection = maxWatchesPerConnection
    }

    /// Starts watch `clientID` of `connection` in `hub`; returns the catch-up actions routed,
    /// and whether this is the connection's first watch (the caller then arranges for
    /// `drop(_:hub:)` when it closes).
    package mutating func watch(
        connection: RPCServerConnection, clientID: UInt64, glob: TreeGlob, fromRev: Int64, filter: WatchFilter? = nil, hub: inout WatchHub
    ) throws(RPCError) -> (routed: [Routed], first: Bool) {
        let known = owners[connection.id]
        if let known, byConnection[known]?[clientID] != nil {
            throw RPCError(.badRequest, "watch id \(clientID) is already in use on this connection")
        }
        if let known, let held = byConnection[known]?.count, held >= maxWatchesPerConnection {
            throw RPCError(.resourceExhausted, "this connection already holds \(held) watches, the limit; cancel some or use another connection")
        }
        let owner = known ?? newOwner()
        let id: WatchID
        let actions: [WatchAction]
        do throws(WatchError) {
            (id, actions) = try hub.watch(glob, fromRev: fromRev, tag: WatchTag(owner: owner, clientID: clientID))
        } catch { throw error.rpcError }
        if known == nil {
            owners[connection.id] = owner
            connections[owner] = connection
            filters[owner] = filter
        }
        byConnection[owner, default: [:]][clientID] = id
        return (route(actions, hub: &hub), known == nil)
    }

    /// A number no connection holding watches has.
    private mutating func newOwner() -> UInt32 {
        while connections[nextOwner] != nil { nextOwner &+= 1 }
        defer { nextOwner &+= 1 }
        return nextOwner
    }

    /// Ends watch `clientID` of `connection`; false when there is no such watch.
    package mutating func unwatch(connection: RPCServerConnection, clientID: UInt64, hub: inout WatchHub) -> Bool {
        guard let owner = owners[connection.id], let id = byConnection[owner]?.removeValue(forKey: clientID) else { return false }
        hub.cancel(id)
        return true
    }

    /// Ends every watch of a connection that closed.
    package mutating func drop(_ connection: ObjectIdentifier, hub: inout WatchHub) {
        guard let owner = owners.removeValue(forKey: connection) else { return }
        connections[owner] = nil
        filters[owner] = nil
        for id in (byConnection.removeValue(forKey: owner) ?? [:]).values { hub.cancel(id) }
    }

    /// Pairs each action with where it goes (the tag its watch was started with); watches
    /// the hub cancelled leave their connection's table here.
    package mutating func route(_ actions: [WatchAction], hub: inout WatchHub) -> [Routed] {
        actions.compactMap { action in
            switch action {
            case .deliver(let id, _), .progress(let id, _):
                guard let tag = hub.tag(of: id), let connection = connections[tag.owner] else { return nil }
                return Routed(connection: connection, clientID: tag.clientID, action: action, filter: filters[tag.owner])
            case .cancel(let id, _):
                guard let tag = hub.tag(of: id) else { return nil }
                hub.forgetCancelled(id)
                byConnection[tag.owner]?[tag.clientID] = nil
                guard let connection = connections[tag.owner] else { return nil }
                return Routed(connection: connection, clientID: tag.clientID, action: action)
            }
        }
    }

    /// Sends routed actions, one write per connection, and reports what each watch was
    /// sent (`sent`, with the bytes per watch) once written, for the hub's flow control.
    ///
    /// Watches of one connection that receive the same events share one notification
    /// (`["watch", [[id, ...], events]]`), so 100 watches of a prefix cost one encoding and
    /// one decoding per change, not 100.
    package static func send(_ routed: [Routed], sent: @escaping @Sendable ([(WatchID, Int)]) -> Void) {
        guard !routed.isEmpty else { return }
        var outbox: [ObjectIdentifier: ConnectionOutbox] = [:]
        for item in routed {
            outbox[item.connection.id, default: ConnectionOutbox(connection: item.connection)].add(item.clientID, item.action, filter: item.filter)
        }
        for box in outbox.values {
            let (bytes, charges) = box.encode()
            guard !bytes.isEmpty else {
                // Every event was filtered out: nothing to write, but the hub's budget is freed.
                if !charges.isEmpty { sent(charges) }
                continue
            }
            box.connection.writeEncoded(bytes) { written in
                guard written, !charges.isEmpty else { return }
                sent(charges)
            }
        }
    }
}
