import AsyncHTTPClient
import Foundation
import NIOCore

/// A reader of the dashboard's live registry stream (`GET /api/events`), as an open
/// browser tab holds it: each `put` or `remove` frame with its path and the instant it
/// arrived here.
final class DashboardStream: Sendable {
    struct Frame: Sendable {
        var event: String
        var path: String?
        var arrived: ContinuousClock.Instant
    }

    let frames: AsyncStream<Frame>
    private let reader: Task<Void, Never>

    /// Connects to the dashboard at `address` (`HOST:PORT`).
    init(_ address: String) {
        let (frames, sink) = AsyncStream.makeStream(of: Frame.self)
        self.frames = frames
        reader = Task {
            defer { sink.finish() }
            guard let response = try? await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(address)/api/events"), timeout: .hours(1)) else { return }
            var pending = ""
            var event = "message", data = ""
            do {
                for try await chunk in response.body {
                    pending += String(buffer: chunk)
                    while let newline = pending.firstIndex(of: "\n") {
                        let line = String(pending[..<newline])
                        pending = String(pending[pending.index(after: newline)...])
                        if line.isEmpty {
                            if !data.isEmpty {
                                let json = try? JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
                                sink.yield(Frame(event: event, path: json?["path"] as? String, arrived: .now))
                            }
                            (event, data) = ("message", "")
                        } else if line.hasPrefix("event: ") {
                            event = String(line.dropFirst(7))
                        } else if line.hasPrefix("data: ") {
                            data += line.dropFirst(6)
                        }
                    }
                }
            } catch {
                return
            }
        }
    }

    /// Stops reading.
    func close() {
        reader.cancel()
    }
}
