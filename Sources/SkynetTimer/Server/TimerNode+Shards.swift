import Foundation
import Skynet
import SkynetRPC

extension TimerNode {
    /// Keeps the held shards in line with the ring: releases the shards that moved away
    /// (stops firing them first), acquires the ones that moved here once their old owner
    /// let go (or its session expired), and loads their timers. Runs until cancelled,
    /// whenever rung (ring changes, owner files deleted, requests waiting) and every second.
    func reconcileLoop() async {
        while !Task.isCancelled {
            await reconcile()
            await reconcileAlarm.wait(.seconds(1))
        }
    }

    /// Follows the owner files: keeps `owners` (where to forward requests) current, and
    /// rings the reconcile loop when one goes (an old holder let go or died).
    func watchOwners() async {
        let glob = "\(TimerShards.root)/owners/*"
        func holder(_ value: [UInt8]) -> String { String(decoding: value.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self) }
        while !Task.isCancelled {
            do {
                let (revision, files) = try await coordinator.walkAtRevision(glob)
                state.withLock { state in
                    state.owners = [:]
                    for file in files { if let shard = TimerShards.shard(ownerPath: file.path.string) { state.owners[shard] = holder(file.value) } }
                }
                reconcileAlarm.ring()
                for try await update in coordinator.watch(glob, fromRev: revision + 1) {
                    var released = false
                    state.withLock { state in
                        for event in update.events {
                            guard let shard = TimerShards.shard(ownerPath: event.path.string) else { continue }
                            if event.kind == .delete {
                                state.owners[shard] = nil
                                released = true
                            } else {
                                state.owners[shard] = holder(event.value)
                            }
                        }
                    }
                    if released { reconcileAlarm.ring() }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func reconcile() async {
        guard let service = service.withLock({ $0 }), !state.withLock({ $0.stopping }) else { return }
        guard let session = await ensureSession() else { return }
        let wanted = Set((0..<TimerShards.count).filter { service.isMine(TimerShards.key($0)) })
        let held = state.withLock { $0.held }
        for (shard, rev) in held where !wanted.contains(shard) {
            lost(shard)
            _ = try? await coordinator.del(TimerShards.ownerPath(shard), ifRev: rev)
            logger.debug("timer shard released", metadata: ["timer.shard": "\(shard)"])
        }
        let missing = wanted.subtracting(held.keys).sorted()
        // The shards nobody holds are taken in one transaction (a fresh start takes all 64
        // in one round trip); the rest, or all when that loses a race, one by one.
        let free = state.withLock { state in missing.filter { state.owners[$0] == nil } }
        var taken: [Int: Int64] = [:]
        if free.count > 1, let paths = try? free.map({ try TreePath(TimerShards.ownerPath($0)) }),
           let result = try? await coordinator.txn(
               compares: paths.map { TxnCompare($0, .exists(false)) },
               success: paths.map { .set(path: $0, value: ownerValue, ifRev: 0, session: session.id) }),
           result.succeeded {
            for shard in free { taken[shard] = result.revision }
        }
        for shard in missing where taken[shard] == nil {
            if let rev = await claim(shard, session: session) { taken[shard] = rev }
        }
        await load(taken)
        if !wanted.isEmpty, state.withLock({ wanted.isSubset(of: $0.held.keys) }) { ready.ring() }
    }

    /// Writes this instance into `shard`'s owner file; its modRev, or `nil` when another holds it.
    private func claim(_ shard: Int, session: CoordinatorSession) async -> Int64? {
        let path = TimerShards.ownerPath(shard)
        do {
            return try await coordinator.set(path, ownerValue, ifRev: 0, session: session.id)
        } catch let error as RPCError where error.code == .revMismatch {
            // Someone holds it. If it is this instance's own file (a reconcile cut short), keep it.
            guard let file = try? await coordinator.get(path), file.value == ownerValue else { return nil }
            return file.stat.modRev
        } catch {
            return nil
        }
    }

    /// Loads the timers of shards just claimed (8 walks at a time) and starts firing them;
    /// a shard that fails to load is let go again.
    private func load(_ claimed: [Int: Int64]) async {
        await withTaskGroup(of: Void.self) { group in
            var pending = claimed.sorted { $0.key < $1.key }[...]
            func next() {
                guard let (shard, rev) = pending.popFirst() else { return }
                group.addTask {
                    do {
                        let files = try await self.coordinator.walk("\(TimerShards.directory(shard))/*")
                        let records = files.compactMap { TimerRecord(encoded: $0.value) }
                        self.state.withLock { state in
                            for record in records { state.engine.add(record, shard: shard) }
                            state.held[shard] = rev
                        }
                        self.logger.debug("timer shard acquired", metadata: ["timer.shard": "\(shard)", "timer.count": "\(records.count)"])
                    } catch {
                        _ = try? await self.coordinator.del(TimerShards.ownerPath(shard), ifRev: rev)
                    }
                }
            }
            for _ in 0..<8 { next() }
            while await group.next() != nil { next() }
        }
        alarm.ring()
    }

    /// The session owner files belong to, opened (again) when missing or lost.
    private func ensureSession() async -> CoordinatorSession? {
        if let session = state.withLock({ $0.session }), !session.isEnded { return session }
        // A lost session took its owner files with it: everything held is gone.
        for shard in state.withLock({ Array($0.held.keys) }) { lost(shard) }
        guard let session = try? await coordinator.openSession(ttl: service.withLock({ $0 })?.config.sessionTTL ?? .seconds(5)) else { return nil }
        state.withLock { $0.session = session }
        Task { [weak self] in
            for await _ in session.lost { self?.reconcileAlarm.ring() }
        }
        return session
    }

    /// Lets go of every shard (so other instances take them over at once) and closes the session.
    func shutdown() async {
        let (held, session) = state.withLock { state -> ([Int: Int64], CoordinatorSession?) in
            state.stopping = true
            return (state.held, state.session)
        }
        for shard in held.keys { lost(shard) }
        // Delivered timers' deletes commit before the shards go, so their next holders do
        // not fire them again (bounded: with the coordinator gone they would not commit).
        await batcher.idle(within: .seconds(5))
        // One transaction lets go of every shard, so a stop costs one round trip however
        // many it held, and is bounded even with the coordinator gone (then the session's
        // expiry frees them).
        if let deletes = try? held.map({ TreeOperation.del(path: try TreePath(TimerShards.ownerPath($0.key)), ifRev: $0.value) }), !deletes.isEmpty {
            _ = try? await coordinator.txn(compares: [], success: deletes)
        }
        try? await session?.close()
        let connections = state.withLock { state in
            defer { state.connections = [:] }
            return Array(state.connections.values)
        }
        for connection in connections { await connection.close() }
        try? await http.shutdown()
    }
}
