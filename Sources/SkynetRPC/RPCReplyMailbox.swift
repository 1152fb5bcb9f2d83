import NIOCore
import NIOConcurrencyHelpers

/// Answers encoded off one event loop, waiting to be written on it.
///
/// Posting to an empty mailbox schedules one task on the loop; answers posted before it
/// runs join it. So a batch of writes completed together on another thread (one fsync's
/// worth) costs the loop one task and each connection one flush, not one of each per call.
final class RPCReplyMailbox: Sendable {
    let loop: any EventLoop
    private let waiting = NIOLockedValueBox([Answer]())

    /// One encoded answer and the connection it goes to.
    struct Answer {
        let handler: NIOLoopBound<RPCServerConnectionHandler>
        let taskID: UInt64
        let buffer: ByteBuffer
    }

    init(loop: any EventLoop) {
        self.loop = loop
    }

    func post(_ answer: Answer) {
        let first = waiting.withLockedValue { waiting in
            waiting.append(answer)
            return waiting.count == 1
        }
        if first { loop.execute { self.deliver() } }
    }

    func post(contentsOf answers: [Answer]) {
        let first = waiting.withLockedValue { waiting in
            guard waiting.isEmpty else {
                waiting.append(contentsOf: answers)
                return false
            }
            // Taken whole: no answer is copied (and retained) one by one.
            waiting = answers
            return true
        }
        if first { loop.execute { self.deliver() } }
    }

    private func deliver() {
        let batch = waiting.withLockedValue { waiting in
            defer { waiting = [] }
            return waiting
        }
        var handlers: [ObjectIdentifier: RPCServerConnectionHandler] = [:]
        for answer in batch {
            let handler = answer.handler.value
            if handlers.updateValue(handler, forKey: ObjectIdentifier(handler)) == nil { handler.beginReplies() }
            handler.finish(taskID: answer.taskID, response: answer.buffer)
        }
        for handler in handlers.values { handler.endReplies() }
    }
}
