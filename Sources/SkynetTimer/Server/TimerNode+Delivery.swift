import AsyncHTTPClient
import Foundation
import MessagePack
import NIOCore
import NIOHTTP1
import Skynet
import SkynetRPC

extension TimerNode {
    /// Fires what is due, then sleeps until the next due time or until a sooner timer
    /// arrives. Runs until cancelled.
    func fireLoop() async {
        while !Task.isCancelled {
            let now = clock()
            let (due, wake) = state.withLock { state in
                let due = state.engine.fire(now: now)
                let wake = min(state.engine.nextWake() ?? .max, now + 1_000)
                state.armedWake = wake
                return (due, wake)
            }
            if !due.isEmpty { enqueue(due) }
            let delay = wake - clock()
            if delay > 0 { await alarm.wait(.milliseconds(delay)) }
            state.withLock { $0.armedWake = nil }
        }
    }

    private func enqueue(_ deliveries: [TimerEngine.Delivery]) {
        let keyed = deliveries.map { (key: $0.record.spec.callback.destination, item: $0) }
        let start = state.withLock { $0.slots.enqueue(keyed) }
        for delivery in start { Task { await self.deliver(delivery) } }
    }

    /// Runs attempts on one slot until none waits.
    private func deliver(_ first: (key: String, item: TimerEngine.Delivery)) async {
        var next: (key: String, item: TimerEngine.Delivery)? = first
        while let delivery = next {
            await attempt(delivery.item)
            next = state.withLock { $0.slots.finished(delivery.key) }
        }
    }

    /// One attempt, then the outcome: delivered (deleted from the store) or failed (retry
    /// scheduled, or kept as failed), written under this instance's hold on the shard.
    private func attempt(_ delivery: TimerEngine.Delivery) async {
        guard state.withLock({ $0.engine.isCurrent(delivery) }) else { return }
        let record = delivery.record
        let shard = TimerShards.shard(of: record.id)
        let error = await call(record)
        if let error {
            logger.debug("timer callback failed", metadata: ["timer.id": "\(record.idText)", "timer.attempt": "\(record.attempts)", "error": "\(error)"])
            let now = clock()
            let updated = state.withLock { state in
                state.engine.failed(delivery, error: error, now: now, jitter: Double.random(in: 0...1, using: &state.rng))
            }
            guard let updated else { return }
            alarm.ring()
            var operations = [try? Self.setOperation(updated)].compactMap { $0 }
            if updated.state == .failed, let index = try? TreePath(Self.failedPath(record.id)) {
                operations.append(.set(path: index, value: updated.encoded(), ifRev: -1, session: nil))
                logger.warning("timer failed after its last attempt", metadata: ["timer.id": "\(record.idText)", "error": "\(error)"])
            }
            try? await write(operations, shard: shard)
        } else {
            guard state.withLock({ $0.engine.delivered(delivery) }), let path = try? TreePath(TimerShards.path(of: record.id)) else { return }
            // The slot moves on while the delete commits (with the next ones, in one
            // transaction): nobody waits for it, and a crash before it commits only means
            // the timer fires again (at least once). Past a backlog the slot waits too, so
            // a slow coordinator holds deliveries back instead of a queue that grows without bound.
            if batcher.backlog < Self.maxPendingDeletes {
                writeDetached(.del(path: path, ifRev: -1), shard: shard)
            } else {
                try? await write([.del(path: path, ifRev: -1)], shard: shard)
            }
        }
    }

    /// Makes the callback; `nil` when delivered, else why not.
    private func call(_ record: TimerRecord) async -> String? {
        switch record.spec.callback {
        case .http(let method, let uri):
            var request = HTTPClientRequest(url: uri)
            request.method = HTTPMethod(rawValue: method)
            request.headers.add(name: "x-skynet-timer-id", value: record.idText)
            request.headers.add(name: "x-skynet-timer-attempt", value: "\(record.attempts)")
            request.headers.add(name: "content-type", value: "application/octet-stream")
            if !record.spec.data.isEmpty || method != "GET" { request.body = .bytes(ByteBuffer(bytes: record.spec.data)) }
            do {
                let response = try await http.execute(request, timeout: Self.deliveryTimeAmount)
                // Read (and drop) the body so the connection goes back to the pool.
                _ = try? await response.body.collect(upTo: 1 << 20)
                guard (200..<300).contains(response.status.code) else { return "HTTP \(response.status.code) from \(uri)" }
                return nil
            } catch {
                return "\(uri): \(error)"
            }
        case .skynet(let service, let version, let method):
            do {
                let data = String(decoding: record.spec.data, as: UTF8.self)
                _ = try await client.service(name: service, version: version)
                    .send(method, data, returning: MessagePackValue.self, timeout: Self.deliveryTimeout)
                return nil
            } catch {
                return "\(service).\(method): \(error)"
            }
        }
    }
}
