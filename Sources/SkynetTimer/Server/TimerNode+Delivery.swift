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
            if !due.isEmpty {
                figures.attempting(dues: due.map(\.record.due), now: now)
                enqueue(due)
            }
            let delay = wake - clock()
            if delay > 0 { await alarm.wait(.milliseconds(delay)) }
            state.withLock { $0.armedWake = nil }
        }
    }

    typealias Slot = (key: String, item: TimerEngine.Delivery)

    private func enqueue(_ deliveries: [TimerEngine.Delivery]) {
        let keyed = deliveries.map { (key: $0.record.spec.callback.destination, item: $0) }
        let start = state.withLock { $0.slots.enqueue(keyed) }
        for slot in start { run(slot) }
    }

    /// Runs attempts on a slot until one is under way (it frees the slot when it ends) or
    /// none waits. HTTP attempts run on NIO's futures, with no task of their own: the
    /// request, its answer and what follows stay on the connection's event loop.
    private func run(_ first: Slot) {
        var next: Slot? = first
        while let slot = next {
            guard state.withLock({ $0.engine.isCurrent(slot.item) }) else {
                next = state.withLock { $0.slots.finished(slot.key) }
                continue
            }
            let record = slot.item.record
            switch record.spec.callback {
            case .http(let method, let uri):
                let request: HTTPClient.Request
                do {
                    request = try self.request(record, method: method, uri: uri)
                } catch {
                    Task { await self.ended(slot, error: "\(uri): \(error)") }
                    return
                }
                http.execute(request: request, delegate: CallbackStatus(), deadline: .now() + Self.deliveryTimeAmount)
                    .futureResult.whenComplete { result in
                        switch result {
                        case .success(let status) where (200..<300).contains(status):
                            self.delivered(slot)
                        case .success(let status):
                            Task { await self.ended(slot, error: "HTTP \(status) from \(uri)") }
                        case .failure(let error):
                            Task { await self.ended(slot, error: "\(uri): \(error)") }
                        }
                    }
                return
            case .skynet(let service, let version, let method):
                Task { await self.ended(slot, error: await self.callSkynet(record, service: service, version: version, method: method)) }
                return
            }
        }
    }

    /// The slot's attempt ended: records its outcome, then the slot runs what waits next.
    private func ended(_ slot: Slot, error: String?) async {
        if let error {
            await failed(slot.item, error: error)
        } else if let delete = markDelivered(slot.item) {
            let shard = TimerShards.shard(of: slot.item.record.id)
            if deletesBehind { try? await write([delete], shard: shard) } else { writeDetached(delete, shard: shard) }
        }
        if let next = state.withLock({ $0.slots.finished(slot.key) }) { run(next) }
    }

    /// Delivered, from an event loop: the delete goes to the batcher without waiting for it
    /// (nobody waits on it, and a crash before it commits only means the timer fires again:
    /// at least once) and the slot moves on; unless deletes are behind, then a task waits
    /// for this one first.
    private func delivered(_ slot: Slot) {
        guard !deletesBehind else {
            Task { await self.ended(slot, error: nil) }
            return
        }
        if let delete = markDelivered(slot.item) { writeDetached(delete, shard: TimerShards.shard(of: slot.item.record.id)) }
        if let next = state.withLock({ $0.slots.finished(slot.key) }) { run(next) }
    }

    /// True once `maxPendingDeletes` deletes wait to commit: then slots wait for theirs, so
    /// a slow coordinator holds deliveries back instead of a queue that grows without bound.
    private var deletesBehind: Bool { batcher.backlog >= Self.maxPendingDeletes }

    /// Marks `delivery` delivered; the delete to write, or `nil` when the timer changed
    /// meanwhile (its outcome is then ignored).
    private func markDelivered(_ delivery: TimerEngine.Delivery) -> TreeOperation? {
        figures.delivered()
        guard state.withLock({ $0.engine.delivered(delivery) }), let path = try? TreePath(TimerShards.path(of: delivery.record.id)) else { return nil }
        return .del(path: path, ifRev: -1)
    }

    /// A failed attempt: a retry scheduled, or the timer kept as failed, written under this
    /// instance's hold on the shard.
    private func failed(_ delivery: TimerEngine.Delivery, error: String) async {
        let record = delivery.record
        logger.debug("timer callback failed", metadata: ["timer.id": "\(record.idText)", "timer.attempt": "\(record.attempts)", "error": "\(error)"])
        let now = clock()
        let updated = state.withLock { state in
            state.engine.failed(delivery, error: error, now: now, jitter: Double.random(in: 0...1, using: &state.rng))
        }
        guard let updated else { return }
        figures.attemptFailed(final: updated.state == .failed)
        alarm.ring()
        var operations = [try? Self.setOperation(updated)].compactMap { $0 }
        if updated.state == .failed, let index = try? TreePath(Self.failedPath(record.id)) {
            operations.append(.set(path: index, value: updated.encoded(), ifRev: -1, session: nil))
            logger.warning("timer failed after its last attempt", metadata: ["timer.id": "\(record.idText)", "error": "\(error)"])
        }
        try? await write(operations, shard: TimerShards.shard(of: record.id))
    }

    /// An HTTP callback's request: the timer's data as the body, its id and attempt as
    /// headers. Built from a template per method and URI, so a URI is parsed once rather
    /// than at every firing.
    private func request(_ record: TimerRecord, method: String, uri: String) throws -> HTTPClient.Request {
        let callback = record.spec.callback
        var request: HTTPClient.Request
        if let template = requestTemplates.withLock({ $0[callback] }) {
            request = template
        } else {
            request = try HTTPClient.Request(url: uri, method: HTTPMethod(rawValue: method))
            requestTemplates.withLock { templates in
                // Bounded: a fleet of distinct receivers only costs a parse each again.
                if templates.count >= Self.maxRequestTemplates { templates.removeAll(keepingCapacity: true) }
                templates[callback] = request
            }
        }
        request.headers.add(name: "x-skynet-timer-id", value: record.idText)
        request.headers.add(name: "x-skynet-timer-attempt", value: "\(record.attempts)")
        request.headers.add(name: "content-type", value: "application/octet-stream")
        if !record.spec.data.isEmpty || method != "GET" { request.body = .bytes(record.spec.data) }
        return request
    }

    /// Calls a Skynet callback through the pool; `nil` when delivered, else why not.
    private func callSkynet(_ record: TimerRecord, service: String, version: String?, method: String) async -> String? {
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
