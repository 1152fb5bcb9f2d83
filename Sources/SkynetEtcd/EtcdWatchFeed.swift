import EtcdAPI
import SkynetCoordinator
import SkynetTree

/// How one message of a front's etcd watch stream changes its `WatchHub` (pure: the
/// store's shell routes what comes out).
enum EtcdWatchFeed {
    /// What `message` did to `hub`: the watch actions it produced, and, when etcd compacted
    /// past the hub, the revision a fresh hub must start at once those actions are routed
    /// (every watch was cancelled with `Compacted`: what happened in between is gone).
    static func apply(_ message: Etcdserverpb_WatchResponse, to hub: inout WatchHub, keys: EtcdKeys) -> (actions: [WatchAction], restartAt: Int64?) {
        if message.compactRevision > 0 {
            let actions = hub.cancelAll(.compacted(requested: hub.revision + 1, oldest: message.compactRevision))
            return (actions, message.compactRevision - 1)
        }
        if message.events.isEmpty {
            // A progress report: every event up to its revision has been sent.
            guard !message.created, !message.canceled else { return ([], nil) }
            if message.header.revision > hub.revision { hub.advance(to: message.header.revision) }
            return (hub.onProgressTick(), nil)
        }
        var actions: [WatchAction] = []
        for (revision, events) in revisions(of: message, keys: keys) {
            guard revision > hub.revision else { continue }   // already fed before a reconnect
            // Revisions between are other data's, or writes with no event for this tree.
            if revision > hub.revision + 1 { hub.advance(to: revision - 1) }
            actions += hub.onCommit(revision: revision, events: events)
        }
        return (actions, nil)
    }

    /// The message's events as the tree's, grouped by revision in order (a transaction's
    /// events together); keys outside the tree are left out.
    static func revisions(of message: Etcdserverpb_WatchResponse, keys: EtcdKeys) -> [(Int64, [TreeEvent])] {
        var grouped: [(Int64, [TreeEvent])] = []
        for event in message.events {
            let revision = event.kv.modRevision
            if grouped.last?.0 != revision { grouped.append((revision, [])) }
            guard let path = keys.path(event.kv.key) else { continue }
            let deleted = event.type == .delete
            grouped[grouped.count - 1].1.append(TreeEvent(rev: revision, path: path, kind: deleted ? .delete : .put, value: deleted ? [] : Array(event.kv.value)))
        }
        return grouped
    }
}
