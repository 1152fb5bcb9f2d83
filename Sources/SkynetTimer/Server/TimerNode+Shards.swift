import Foundation
import Skynet
import SkynetCoordinator
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

    /// Rings the reconcile loop whenever an owner file changes (an old owner let go).
    func watchOwners() async {
        while !Task.isCancelled {
            do {
                for try await _ in coordinator.watch("\(TimerShards.root)/owners/*") { reconcileAlarm.ring() }
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
        for shard in wanted.subtracting(held.keys).sorted() {
            await acquire(shard, session: session)
        }
    }

    private func acquire(_ shard: Int, session: CoordinatorSession) async {
        let path = TimerShards.ownerPath(shard)
        var rev: Int64
        do {
            rev = try await coordinator.set(path, Array(token.utf8), ifRev: 0, session: session.id)
        } catch let error as RPCError where error.code == .revMismatch {
            // Someone holds it. If it is this instance's own file (a reconcile cut short), keep it.
            guard let file = try? await coordinator.get(path), file.value == Array(token.utf8) else { return }
            rev = file.stat.modRev
        } catch {
            return
        }
        do {
            let files = try await coordinator.walk("\(TimerShards.directory(shard))/*")
            let records = files.compactMap { TimerRecord(encoded: $0.value) }
            state.withLock { state in
                for record in records { state.engine.add(record, shard: shard) }
                state.held[shard] = rev
            }
            logger.debug("timer shard acquired", metadata: ["timer.shard": "\(shard)", "timer.count": "\(records.count)"])
            resumeWaiters(shard, held: true)
            alarm.ring()
        } catch {
            _ = try? await coordinator.del(path, ifRev: rev)
        }
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
        for (shard, rev) in held {
            lost(shard)
            _ = try? await coordinator.del(TimerShards.ownerPath(shard), ifRev: rev)
        }
        try? await session?.close()
        try? await http.shutdown()
    }
}
