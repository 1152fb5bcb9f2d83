import MessagePack
import NIOCore

/// The answer to one call of a replying handler (`RPCRouter.registerReplying`): call it
/// once, from any thread, with the result.
///
/// A replying handler runs without a task: it answers at once, or hands its reply to
/// whatever finishes the work (a batch completing on another thread) and returns. Answers
/// given off the connection's event loop are encoded on the caller's thread and reach the
/// loop through its mailbox, so a batch finishing many calls costs the loop one task.
/// Answering twice, or after the caller's deadline answered for you, sends nothing more.
public struct RPCReply: Sendable {
    let handler: NIOLoopBound<RPCServerConnectionHandler>
    let mailbox: RPCReplyMailbox
    let taskID: UInt64
    let msgid: UInt32
    let allocator: ByteBufferAllocator
    var observer: (@Sendable (Result<MessagePackValue, RPCError>) -> Void)?

    /// This reply, calling `observe` with the answer (on the answering thread) before
    /// sending it: for instrumentation. `observe` must be quick and must not block.
    public func observing(_ observe: @escaping @Sendable (Result<MessagePackValue, RPCError>) -> Void) -> RPCReply {
        var reply = self
        let earlier = observer
        reply.observer = { result in
            earlier?(result)
            observe(result)
        }
        return reply
    }

    /// Sends `result` as the call's answer.
    public func callAsFunction(_ result: Result<MessagePackValue, RPCError>) {
        observer?(result)
        let message: RPCMessage
        switch result {
        case .success(let value): message = .success(msgid, value)
        case .failure(let error): message = .failure(msgid, error)
        }
        let buffer = message.encoded(allocator: allocator)
        if mailbox.loop.inEventLoop {
            handler.value.finish(taskID: taskID, response: buffer)
        } else if let batch = RPCReplyBatch.open {
            batch.add(mailbox, .init(handler: handler, taskID: taskID, buffer: buffer))
        } else {
            mailbox.post(.init(handler: handler, taskID: taskID, buffer: buffer))
        }
    }

    /// Runs `body`, holding back the answers it gives off their event loops until it
    /// returns, then handing each loop's answers to its mailbox at once.
    ///
    /// For a thread finishing many calls together (a durable batch of writes): one lock
    /// and at most one wake-up per loop, not a lock per answer. Nested calls join the
    /// outermost one.
    public static func batching<R>(_ body: () throws -> R) rethrows -> R {
        try RPCReplyBatch.collecting(body)
    }
}
