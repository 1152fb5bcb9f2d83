import EtcdAPI
import GRPCCore
import SkynetCoordinator
import SkynetRPC
import SkynetTree

extension EtcdStore {
    public func watch(connection: RPCServerConnection, clientID: UInt64, glob: TreeGlob, fromRev: Int64, filter: WatchFilter?) async throws -> Int64 {
        let (revision, routed, first) = try watching.withLock { (state) throws(SkynetRPC.RPCError) in
            let (routed, first) = try state.watchers.watch(connection: connection, clientID: clientID, glob: glob, fromRev: fromRev, filter: filter, hub: &state.hub)
            return (state.hub.revision, routed, first)
        }
        if first {
            connection.onClose { [weak self] in
                self?.watching.withLock { state in state.watchers.drop(connection.id, hub: &state.hub) }
            }
        }
        perform(routed)
        return revision
    }

    public func unwatch(connection: RPCServerConnection, clientID: UInt64) async -> Bool {
        watching.withLock { state in state.watchers.unwatch(connection: connection, clientID: clientID, hub: &state.hub) }
    }

    /// Follows the tree through one etcd watch stream from `start`, feeding the hub, and
    /// asks etcd for progress every `progressInterval` (idle watchers learn the revision).
    /// A lost stream is opened again from the revision after the last one fed: nothing is
    /// missed or repeated.
    func follow(from start: Int64) async {
        var failures = 0
        while !Task.isCancelled {
            let next = watching.withLock { $0.hub.revision } + 1
            do {
                try await client.watch.watch(options: client.streamOptions, requestProducer: { [keys, progressInterval] writer in
                    let all = keys.below(.root)
                    try await writer.write(.with {
                        $0.createRequest = .with {
                            $0.key = all.start
                            $0.rangeEnd = all.end
                            $0.startRevision = next
                        }
                    })
                    while true {
                        try await Task.sleep(for: progressInterval)
                        try await writer.write(.with { $0.progressRequest = Etcdserverpb_WatchProgressRequest() })
                    }
                }, onResponse: { [weak self] response in
                    for try await message in response.messages {
                        guard let self else { return }
                        self.absorb(message)
                    }
                })
            } catch {
                if Task.isCancelled { return }
                // Log once per outage: a stream that fed anything ended a healthy spell.
                failures = watching.withLock { $0.hub.revision } + 1 > next ? 1 : failures + 1
                if failures == 1 {
                    logger.warning("lost the etcd watch stream; opening it again", metadata: ["etcd.error": "\(EtcdFailure.rpcError(error, "watch").message)"])
                }
                try? await Task.sleep(for: .milliseconds(min(1_000, 50 * failures)))
            }
        }
    }

    /// Feeds one message of the etcd watch stream to the hub and sends what it produced.
    private func absorb(_ message: Etcdserverpb_WatchResponse) {
        let routed = watching.withLock { state -> [WatchConnections.Routed] in
            let (actions, restartAt) = EtcdWatchFeed.apply(message, to: &state.hub, keys: keys)
            let routed = state.watchers.route(actions, hub: &state.hub)
            if let restartAt { state.hub = WatchHub(revision: restartAt, limits: state.hub.limits) }
            return routed
        }
        perform(routed)
    }

    /// Sends routed actions; reports delivered bytes back to the hub (its flow control).
    func perform(_ routed: [WatchConnections.Routed]) {
        WatchConnections.send(routed) { [weak self] charges in
            guard let self else { return }
            let routed = self.watching.withLock { state in
                state.watchers.route(charges.flatMap { state.hub.onSent($0.0, bytes: $0.1) }, hub: &state.hub)
            }
            self.perform(routed)
        }
    }
}
