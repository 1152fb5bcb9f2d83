import Logging
import MessagePack
import NIOCore

/// Serves one connection: starts a task per request, writes each response when its
/// handler finishes (so responses may leave out of order), and drains on shutdown.
final class RPCServerConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = RPCMessage
    typealias OutboundOut = ByteBuffer

    private let router: RPCRouter
    private let executor: EventLoopTaskExecutor?
    private var logger: Logger
    private var state = RPCServerConnectionState()
    /// Calls whose handler has not finished; `tasks` holds the handles of those that suspended.
    private var active: Set<UInt64> = []
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var nextTaskID: UInt64 = 0
    private var flushScheduled = false
    /// Between `channelRead` and `channelReadComplete`: responses wait for one flush at the end.
    private var reading = false
    private var needsFlush = false
    private var context: ChannelHandlerContext?
    private var remoteAddress: SocketAddress?

    init(router: RPCRouter, executor: EventLoopTaskExecutor?, logger: Logger) {
        self.router = router
        self.executor = executor
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        remoteAddress = context.remoteAddress
        logger[metadataKey: "rpc.remote"] = "\(remoteAddress.map { "\($0)" } ?? "?")"
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        switch unwrapInboundIn(data) {
        case let .request(msgid, method, params):
            serve(msgid: msgid, method: method, params: params, context: context)
        case let .notification(method, params):
            guard state.isAccepting, let handler = router.notifications[method] else {
                logger.debug("dropping notification", metadata: ["rpc.method": "\(method)"])
                return
            }
            let (params, metadata) = RPCCallMetadata.split(params)
            let callContext = makeContext(method: method, msgid: 0, metadata: metadata, context: context)
            Task(executorPreference: executor) { await handler(params, callContext) }
        case .response(let msgid, _, _):
            // This server makes no calls of its own on client connections.
            logger.debug("ignoring unexpected response", metadata: ["rpc.msgid": "\(msgid)"])
        }
    }

    private func serve(msgid: UInt32, method: String, params: [MessagePackValue], context: ChannelHandlerContext) {
        guard state.isAccepting else {
            respond(.failure(msgid, RPCError.notSent("server is shutting down; the call did not run")), context: context)
            return
        }
        guard let handler = router.methods[method] else {
            respond(.failure(msgid, RPCError(.noSuchMethod, "no method named \"\(method)\"")), context: context)
            return
        }
        let (params, metadata) = RPCCallMetadata.split(params)
        let callContext = makeContext(method: method, msgid: msgid, metadata: metadata, context: context)
        state.callStarted()
        let id = nextTaskID
        nextTaskID += 1
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let allocator = context.channel.allocator
        active.insert(id)
        let operation: @Sendable () async -> Void = {
            let response: RPCMessage
            do {
                response = .success(msgid, try await handler(params, callContext))
            } catch let error as RPCError {
                response = .failure(msgid, error)
            } catch {
                if Task.isCancelled { response = .failure(msgid, RPCError(.unavailable, "call cancelled: connection closed")) }
                else { response = .failure(msgid, RPCError(.internal, "\(error)")) }
            }
            let buffer = response.encoded(allocator: allocator)
            if loop.inEventLoop {
                bound.value.finish(taskID: id, response: buffer)
            } else {
                loop.execute { bound.value.finish(taskID: id, response: buffer) }
            }
        }
        // On the event loop a handler that does not suspend finishes right here, with no
        // job enqueued; one that suspends resumes on this loop.
        let task = executor.map { Task.immediate(executorPreference: $0, operation: operation) } ?? Task(operation: operation)
        if active.contains(id) { tasks[id] = task }
    }

    private func makeContext(method: String, msgid: UInt32, metadata: RPCCallMetadata?, context: ChannelHandlerContext) -> RPCCallContext {
        RPCCallContext(
            method: method, msgid: msgid, metadata: metadata,
            deadline: metadata?.timeout.map { ContinuousClock.now + $0 },
            remoteAddress: remoteAddress, connection: RPCServerConnection(channel: context.channel),
            connectionLogger: logger)
    }

    private func finish(taskID: UInt64, response: ByteBuffer) {
        guard active.remove(taskID) != nil, let context else { return }
        tasks[taskID] = nil
        let action = state.callFinished()
        context.write(wrapOutboundOut(response), promise: nil)
        if action == .close {
            context.flush()
            context.close(promise: nil)
        } else if reading {
            needsFlush = true
        } else if state.inFlight == 0 {
            // Nothing else is about to answer: send now rather than wait for a batch.
            context.flush()
        } else {
            scheduleFlush(context)
        }
    }

    private func respond(_ message: RPCMessage, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        message.write(to: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        if reading { needsFlush = true } else { scheduleFlush(context) }
    }

    /// Coalesces the responses finished in one event-loop tick into one write.
    private func scheduleFlush(_ context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushScheduled = false
            handler.context?.flush()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is RPCServerQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if state.quiesce() == .close {
            context.flush()
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.closed()
        for task in tasks.values { task.cancel() }
        tasks.removeAll()
        active.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let violation = error as? RPCProtocolError {
            logger.info("closing connection after a protocol violation", metadata: ["error": "\(violation)"])
            if let msgid = violation.msgid {
                var buffer = context.channel.allocator.buffer(capacity: 64)
                RPCMessage.failure(msgid, violation.error).write(to: &buffer)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(buffer)).whenComplete { _ in bound.value.close(promise: nil) }
                return
            }
        } else {
            logger.debug("closing connection after an error", metadata: ["error": "\(error)"])
        }
        context.close(promise: nil)
    }
}
