import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import Synchronization

/// What an HTTP callback's answer comes to: its status code. The body is read and dropped
/// as it arrives (so the connection goes back to the pool, and a large one costs nothing).
final class CallbackStatus: HTTPClientResponseDelegate {
    typealias Response = UInt

    private let status = Mutex<UInt>(0)

    func didReceiveHead(task: HTTPClient.Task<UInt>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        status.withLock { $0 = head.status.code }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<UInt>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<UInt>) throws -> UInt { status.withLock { $0 } }
}
