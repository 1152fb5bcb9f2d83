import Foundation
import Logging
import NIOCore
import Skynet
import Synchronization

/// The console's one watch on the registry, fanned out to every open dashboard: the
/// coordinator sees one watcher per `skynetd`, never one per browser.
///
/// A dashboard subscribes and gets a `snapshot` event (every instance), then a `put` or
/// `remove` event per change, in the coordinator's order, with nothing missed or repeated
/// between the two (both happen under one lock). A dashboard that falls
/// `maxBufferedFrames` behind is cut off; its browser reconnects and starts from a new
/// snapshot. When the watch cannot go on (the history it needed was compacted), the feed
/// reads the registry again and sends everyone a new snapshot.
final class RegistryFeed: Sendable {
    /// Frames buffered for one slow dashboard before it is cut off.
    static let maxBufferedFrames = 4096
    /// How often idle streams get a comment frame.
    static let keepAliveInterval: Duration = .seconds(15)

    private struct State {
        var mirror = RegistryMirror()
        var ready = false
        var closed = false
        var subscribers: [Int: AsyncStream<ByteBuffer>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private let state = Mutex(State())
    private let coordinator: CoordinatorClient
    private let logger: Logger

    init(coordinator: CoordinatorClient, logger: Logger) {
        self.coordinator = coordinator
        self.logger = logger
    }

    /// The registry's revision and instances as the feed holds them, once it has read them.
    var current: (revision: Int64, instances: [RegistryInstance])? {
        state.withLock { $0.ready ? ($0.mirror.revision, $0.mirror.sorted) : nil }
    }

    /// The instance whose record carries `uuid`.
    func instance(uuid: String) -> RegistryInstance? {
        state.withLock { state in state.mirror.instances.values.first { $0.info.uuid == uuid } }
    }

    /// Follows the registry until cancelled.
    func run() async {
        let glob = ServicePath.root + "/**"
        while !Task.isCancelled {
            do {
                let (revision, files) = try await coordinator.walkAtRevision(glob)
                state.withLock { state in
                    state.mirror.reset(revision: revision, files: files)
                    state.ready = true
                    let frame = Self.snapshotFrame(state.mirror)
                    for (id, subscriber) in state.subscribers { Self.send(frame, to: subscriber, id: id, &state) }
                }
                for try await update in coordinator.watch(glob, fromRev: revision + 1) where !update.isProgress {
                    state.withLock { state in
                        let changes = state.mirror.apply(revision: update.revision, events: update.events)
                        guard !changes.isEmpty, !state.subscribers.isEmpty else { return }
                        let frames = changes.map { Self.changeFrame($0, revision: update.revision) }
                        for (id, subscriber) in state.subscribers {
                            for frame in frames { Self.send(frame, to: subscriber, id: id, &state) }
                        }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                logger.notice("dashboard registry feed interrupted; reading the registry again", metadata: ["error": "\(error)"])
                // The client already rides out reconnects; this is for what it cannot (a
                // compacted history, a coordinator refusing the walk), so a pause will do.
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Sends every stream a comment frame every `keepAliveInterval`, until cancelled.
    func keepAlive() async {
        let frame = ByteBuffer(string: ServerSentEvent.keepAlive)
        while (try? await Task.sleep(for: Self.keepAliveInterval)) != nil {
            state.withLock { state in
                for (id, subscriber) in state.subscribers { Self.send(frame, to: subscriber, id: id, &state) }
            }
        }
    }

    /// A new dashboard's stream of frames: the snapshot first (as soon as the feed has one),
    /// then every change. Ends when the feed closes or the dashboard falls too far behind.
    func subscribe() -> AsyncStream<ByteBuffer> {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingOldest(Self.maxBufferedFrames))
        let id: Int? = state.withLock { state in
            guard !state.closed else { return nil }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            // Reconnect after a second, not the browser's default three.
            continuation.yield(ByteBuffer(string: "retry: 1000\n\n"))
            if state.ready { continuation.yield(Self.snapshotFrame(state.mirror)) }
            state.subscribers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    /// Ends every stream and refuses new ones (graceful shutdown: open event streams would
    /// otherwise hold the HTTP server's drain forever).
    func close() {
        let subscribers = state.withLock { state in
            state.closed = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in subscribers { subscriber.finish() }
    }

    /// Number of dashboards following the feed.
    var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    private static func send(_ frame: ByteBuffer, to subscriber: AsyncStream<ByteBuffer>.Continuation, id: Int, _ state: inout State) {
        if case .dropped = subscriber.yield(frame) {
            state.subscribers[id] = nil
            subscriber.finish()
        }
    }

    private static func snapshotFrame(_ mirror: RegistryMirror) -> ByteBuffer {
        frame("snapshot", RegistrySnapshot(revision: mirror.revision, instances: mirror.sorted))
    }

    private static func changeFrame(_ change: RegistryMirror.Change, revision: Int64) -> ByteBuffer {
        switch change {
        case .put(let instance): return frame("put", RegistryChange(revision: revision, instance: instance, path: instance.path))
        case .removed(let path): return frame("remove", RegistryChange(revision: revision, instance: nil, path: path))
        }
    }

    private static func frame(_ event: String, _ value: some Encodable) -> ByteBuffer {
        let data = (try? ConsoleJSON.encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return ByteBuffer(string: ServerSentEvent(event: event, data: data).text)
    }
}

/// The `snapshot` event and `GET /api/topology`: every instance at a revision.
struct RegistrySnapshot: Codable, Sendable {
    var revision: Int64
    var instances: [RegistryInstance]
}

/// The `put` and `remove` events: one instance's change at a revision.
struct RegistryChange: Codable, Sendable {
    var revision: Int64
    var instance: RegistryInstance?
    var path: String
}

/// The console's JSON form: sorted keys (stable for scripts), ISO 8601 dates.
enum ConsoleJSON {
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}
