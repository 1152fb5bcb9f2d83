import NIOCore
import Skynet

/// `GET /api/tree/events`: one browser following a file or directory of the config tree.
///
/// Unlike the registry feed this is a coordinator watch per following browser, held only
/// while someone looks at that part of the tree; a `change` event per revision names the
/// paths written, and the page reads what it shows again.
enum TreeFollower {
    /// Frames for the changes under `glob`, from now on; ends when the stream is dropped.
    static func follow(_ coordinator: CoordinatorClient, _ glob: String) -> AsyncStream<ByteBuffer> {
        let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(64))
        continuation.yield(ByteBuffer(string: "retry: 1000\n\n"))
        let watch = Task {
            do {
                for try await update in coordinator.watch(glob) where !update.isProgress {
                    let change = TreeChange(revision: update.revision, events: update.events.map { .init(kind: $0.kind.rawValue, path: $0.path.string) })
                    let data = String(decoding: try ConsoleJSON.encoder.encode(change), as: UTF8.self)
                    continuation.yield(ByteBuffer(string: ServerSentEvent(event: "change", data: data).text))
                }
            } catch {}
            continuation.finish()
        }
        // A browser that went away is noticed only when a write to it fails: write something
        // now and then, so a quiet path does not hold its watch forever.
        let keepAlive = Task {
            while (try? await Task.sleep(for: RegistryFeed.keepAliveInterval)) != nil {
                continuation.yield(ByteBuffer(string: ServerSentEvent.keepAlive))
            }
        }
        continuation.onTermination = { _ in
            watch.cancel()
            keepAlive.cancel()
        }
        return stream
    }
}

/// A `change` event: the paths written at one revision.
struct TreeChange: Codable, Sendable {
    struct Event: Codable, Sendable {
        /// `put` or `delete`.
        var kind: String
        var path: String
    }

    var revision: Int64
    var events: [Event]
}
