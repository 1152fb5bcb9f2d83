import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A real HTTP server on 127.0.0.1 that timer callbacks land on: it records each request
/// (path, timer id and attempt headers, body, arrival time) and answers the statuses
/// scripted for its path (then 200).
final class CallbackReceiver: Sendable {
    struct Arrival: Sendable {
        var path: String
        var id: String
        var attempt: Int
        var body: String
        var at: Date
    }

    private struct State {
        var arrivals: [Arrival] = []
        var script: [String: [Int]] = [:]
        var waiters: [(count: Int, continuation: CheckedContinuation<[Arrival], Never>)] = []
    }

    private let state = Mutex(State())
    private let task = Mutex<Task<Void, any Error>?>(nil)
    let port: Int

    private init(port: Int) { self.port = port }

    /// Starts a receiver on a free port.
    static func start() async throws -> CallbackReceiver {
        let bound = AsyncStream<Int>.makeStream()
        let holder = Mutex<CallbackReceiver?>(nil)
        let router = Router()
        router.on("/**", method: .post) { request, _ -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            let status = holder.withLock { $0 }?.record(request, body: String(buffer: body)) ?? 500
            return Response(status: .init(code: status))
        }
        // Stopping is by cancellation, which Hummingbird reports at error level: keep it quiet.
        var logger = Logger(label: "callback-receiver")
        logger.logLevel = .critical
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in bound.continuation.yield(channel.localAddress?.port ?? 0) }, logger: logger)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var ports = bound.stream.makeAsyncIterator()
        guard let port = await ports.next() else { throw CancellationError() }
        let receiver = CallbackReceiver(port: port)
        holder.withLock { $0 = receiver }
        receiver.task.withLock { $0 = task }
        return receiver
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Answers `statuses` in turn to requests on `path`, then 200.
    func script(_ path: String, _ statuses: [Int]) {
        state.withLock { $0.script[path] = statuses }
    }

    /// Waits until `count` requests have arrived in all, and returns them in arrival order.
    func arrivals(atLeast count: Int) async -> [Arrival] {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [Arrival]? in
                if state.arrivals.count >= count { return state.arrivals }
                state.waiters.append((count, continuation))
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Waits for the first request on `path`.
    func first(on path: String) async -> Arrival {
        var seen = 0
        while true {
            let all = await arrivals(atLeast: seen + 1)
            if let hit = all.first(where: { $0.path == path }) { return hit }
            seen = all.count
        }
    }

    /// Everything received so far.
    var received: [Arrival] { state.withLock { $0.arrivals } }

    func stop() { task.withLock { $0?.cancel() } }

    private func record(_ request: Request, body: String) -> Int {
        let arrival = Arrival(
            path: request.uri.path, id: request.headers[HTTPField.Name("x-skynet-timer-id")!] ?? "",
            attempt: Int(request.headers[HTTPField.Name("x-skynet-timer-attempt")!] ?? "") ?? 0, body: body, at: Date())
        let (status, ready) = state.withLock { state -> (Int, [(CheckedContinuation<[Arrival], Never>, [Arrival])]) in
            state.arrivals.append(arrival)
            var status = 200
            if var statuses = state.script[arrival.path], !statuses.isEmpty {
                status = statuses.removeFirst()
                state.script[arrival.path] = statuses
            }
            let count = state.arrivals.count
            let ready = state.waiters.filter { $0.count <= count }.map { ($0.continuation, state.arrivals) }
            state.waiters.removeAll { $0.count <= count }
            return (status, ready)
        }
        for (waiter, arrivals) in ready { waiter.resume(returning: arrivals) }
        return status
    }
}
