import Logging
import MessagePack
import NIOCore
import NIOSSL

/// Serves one connection: starts a task per request (a replying handler runs with none and
/// answers through its `RPCReply`), writes each response when its handler finishes (so
/// responses may leave out of order), starts a bounded slice of
/// requests per event-loop turn, holds back reading while too many calls run, requests
/// wait their turn or the peer does not read its answers, answers `DeadlineExceeded` (and
/// cancels the handler) when a caller's deadline passes, and goes away gracefully on
/// shutdown or when idle. The decisions are `RPCServerConnectionState`'s.
final class RPCServerConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RPCMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let router: RPCRouter
    private let executor: EventLoopTaskExecutor?
    private let ring: RPCTurnRing
    private let mailbox: RPCReplyMailbox
    private let goAwayLinger: Duration
    private var logger: Logger
    private var state: RPCServerConnectionState
    /// Calls whose handler has not finished; `tasks` holds the handles of those that suspended.
    private var active: Set<UInt64> = []
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    /// Deadline timers of calls whose caller said how long it waits.
    private var deadlines: [UInt64: Scheduled<Void>] = [:]
    /// Requests read and not yet started (over the turn's slice or the in-flight cap), in
    /// order; bounded by one read, since reading stops while any wait.
    private var queued = CircularBuffer<(msgid: UInt32, method: String, params: [MessagePackValue])>()
    private var drainScheduled = false
    private var nextTaskID: UInt64 = 0
    /// Why the connection is going away, once it is: the refusal of a late request says so.
    private var goAwayReason: String?
    private var flushScheduled = false
    /// Between `channelRead` and `channelReadComplete`: responses wait for one flush at the end.
    private var reading = false
    private var needsFlush = false
    /// The responses answered while `reading`, end to end: they go down the pipeline as one
    /// write at the flush, not one write each (a get's answer costs less than its trip
    /// through the pipeline's handlers).
    private var gathered: ByteBuffer?
    private var context: ChannelHandlerContext?
    private var remoteAddress: SocketAddress?

    /// True when the port verifies client certificates (mutual TLS): only then does a
    /// peer's certificate name mean anything.
    private let verifiesPeers: Bool
    /// The peer certificate's common name, once looked up (`.some(nil)`: it has none).
    private var peerName: String??

    init(router: RPCRouter, executor: EventLoopTaskExecutor?, ring: RPCTurnRing, mailbox: RPCReplyMailbox, maxInFlight: Int, maxPerTurn: Int, goAwayLinger: Duration, verifiesPeers: Bool = false, logger: Logger) {
        self.verifiesPeers = verifiesPeers
        self.router = router
        self.ring = ring
        self.mailbox = mailbox
        self.executor = executor
        self.goAwayLinger = goAwayLinger
        self.logger = logger
        state = RPCServerConnectionState(maxInFlight: maxInFlight, maxPerTurn: maxPerTurn)
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
            if state.requestArrived() {
                serve(msgid: msgid, method: method, params: params, context: context)
            } else {
                // Beyond this turn's slice or the cap: it waits its turn; reading has stopped.
                queued.append((msgid, method, params))
            }
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
            respond(.failure(msgid, RPCError.notSent("\(goAwayReason ?? "the server is shutting down"); the call did not run")), context: context)
            return
        }
        let handler = router.methods[method]
        let replying = handler == nil ? router.replying[method] : nil
        guard handler != nil || replying != nil else {
            respond(.failure(msgid, RPCError(.noSuchMethod, "no method named \"\(method)\"")), context: context)
            return
        }
        let (params, metadata) = RPCCallMetadata.split(params)
        if let timeout = metadata?.timeout, timeout <= .zero {
            respond(.failure(msgid, RPCError(.deadlineExceeded, "the caller's deadline had passed when the call arrived; it did not run")), context: context)
            return
        }
        let callContext = makeContext(method: method, msgid: msgid, metadata: metadata, context: context)
        state.callStarted()
        let id = nextTaskID
        nextTaskID += 1
        let loop = context.eventLoop
        let bound = NIOLoopBound(self, eventLoop: loop)
        let allocator = context.channel.allocator
        active.insert(id)
        guard let handler else {
            replying!(params, callContext, RPCReply(handler: bound, mailbox: mailbox, taskID: id, msgid: msgid, allocator: allocator))
            // It may have answered already.
            guard active.contains(id) else { return }
            armDeadline(metadata?.timeout, taskID: id, msgid: msgid, method: method, bound: bound)
            return
        }
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
        guard active.contains(id) else { return }
        tasks[id] = task
        armDeadline(metadata?.timeout, taskID: id, msgid: msgid, method: method, bound: bound)
    }

    private func armDeadline(_ timeout: Duration?, taskID: UInt64, msgid: UInt32, method: String, bound: NIOLoopBound<RPCServerConnectionHandler>) {
        guard let timeout, let context else { return }
        deadlines[taskID] = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { bound.value.expire(taskID: taskID, msgid: msgid, method: method) }
    }

    /// The caller's deadline passed: it has stopped waiting, so the handler is cancelled and
    /// the answer says so (a late result is dropped).
    private func expire(taskID: UInt64, msgid: UInt32, method: String) {
        deadlines[taskID] = nil
        guard active.contains(taskID), let context else { return }
        tasks[taskID]?.cancel()
        logger.debug("call cancelled at its caller's deadline", metadata: ["rpc.method": "\(method)", "rpc.msgid": "\(msgid)"])
        var buffer = context.channel.allocator.buffer(capacity: 96)
        RPCMessage.failure(msgid, RPCError(.deadlineExceeded, "\(method) did not finish before the caller's deadline; it was cancelled")).write(to: &buffer)
        finish(taskID: taskID, response: buffer)
    }

    private func makeContext(method: String, msgid: UInt32, metadata: RPCCallMetadata?, context: ChannelHandlerContext) -> RPCCallContext {
        RPCCallContext(
            method: method, msgid: msgid, metadata: metadata,
            deadline: metadata?.timeout.map { ContinuousClock.now + $0 },
            remoteAddress: remoteAddress, peerCertificateName: peerCertificateName(context),
            connection: RPCServerConnection(channel: context.channel), connectionLogger: logger)
    }

    /// The verified client certificate's common name, read from the TLS handler once per
    /// connection (requests arrive only after the handshake).
    private func peerCertificateName(_ context: ChannelHandlerContext) -> String? {
        guard verifiesPeers else { return nil }
        if let known = peerName { return known }
        let certificate = (try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self))?.peerCertificate
        let name = certificate?.subjectName.first { $0.type == .commonName }?.value
        peerName = .some(name)
        return name
    }

    /// Answers arriving together from the mailbox: one flush for them all at the end.
    func beginReplies() {
        reading = true
    }

    func endReplies() {
        reading = false
        if needsFlush, let context {
            needsFlush = false
            flush(context)
        }
    }

    /// Sends `response`: gathered while reading (flushed at the end of the batch), else
    /// written at once behind anything gathered.
    private func send(_ response: ByteBuffer, context: ChannelHandlerContext) {
        if reading {
            needsFlush = true
            if gathered == nil {
                gathered = response
            } else {
                gathered!.writeImmutableBuffer(response)
            }
        } else {
            writeGathered(context)
            context.write(wrapOutboundOut(response), promise: nil)
        }
    }

    private func writeGathered(_ context: ChannelHandlerContext) {
        guard let buffer = gathered else { return }
        gathered = nil
        context.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Every flush goes through here, so nothing gathered is left behind it.
    private func flush(_ context: ChannelHandlerContext) {
        writeGathered(context)
        context.flush()
    }

    func finish(taskID: UInt64, response: ByteBuffer) {
        guard active.remove(taskID) != nil, let context else { return }
        tasks[taskID] = nil
        deadlines.removeValue(forKey: taskID)?.cancel()
        let action = state.callFinished()
        send(response, context: context)
        if action == .close {
            flush(context)
            context.close(promise: nil)
            return
        }
        if state.mayDrain { scheduleDrain() }
        if action == .read, state.readRequested() { context.read() }
        if reading {
            // Flushed at the end of the batch.
        } else if state.inFlight == 0 {
            // Nothing else is about to answer: send now rather than wait for a batch.
            flush(context)
        } else {
            scheduleFlush(context)
        }
    }

    private func respond(_ message: RPCMessage, context: ChannelHandlerContext) {
        var buffer = context.channel.allocator.buffer(capacity: 64)
        message.write(to: &buffer)
        send(buffer, context: context)
        if !reading { scheduleFlush(context) }
    }

    /// Coalesces the responses finished in one event-loop tick into one write.
    private func scheduleFlush(_ context: ChannelHandlerContext) {
        guard !flushScheduled else { return }
        flushScheduled = true
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let handler = bound.value
            handler.flushScheduled = false
            if let context = handler.context { handler.flush(context) }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if needsFlush {
            needsFlush = false
            flush(context)
        }
        if state.turnEnded() { scheduleDrain() }
        context.fireChannelReadComplete()
    }

    /// Joins the loop's ring: the next slice of waiting requests starts in a turn of its own,
    /// after the loop's other connections had theirs.
    private func scheduleDrain() {
        guard !drainScheduled else { return }
        drainScheduled = true
        ring.enqueue(self)
    }

    /// The ring's turn: starts a slice of the waiting requests. True when more wait and
    /// may start, so the connection stays in the ring.
    func takeTurn() -> Bool {
        guard let context else {
            drainScheduled = false
            return false
        }
        reading = true
        for _ in 0..<state.drainTurn() {
            let next = queued.removeFirst()
            serve(msgid: next.msgid, method: next.method, params: next.params, context: context)
        }
        reading = false
        if needsFlush {
            needsFlush = false
            flush(context)
        }
        let (drainAgain, action) = state.drainEnded()
        drainScheduled = drainAgain
        if action == .read, state.readRequested() { context.read() }
        return drainAgain
    }

    // MARK: Backpressure

    func read(context: ChannelHandlerContext) {
        if state.readRequested() { context.read() }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if state.writabilityChanged(context.channel.isWritable) == .read { context.read() }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Going away

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is RPCServerQuiesceEvent {
            goAway(context, reason: "the server is shutting down")
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .all {
            if state.inFlight == 0 { goAway(context, reason: "the connection was idle") }
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    /// Tells the peer to send nothing more here (`skynet.goaway`), keeps answering what is
    /// in flight, and closes once that is done and the linger has passed.
    private func goAway(_ context: ChannelHandlerContext, reason: String) {
        guard state.quiesce() else { return }
        goAwayReason = reason
        // Requests waiting for a turn have not run: refuse them, safe to retry elsewhere.
        for request in queued { respond(.failure(request.msgid, RPCError.notSent("\(reason); the call did not run")), context: context) }
        queued.removeAll()
        var buffer = context.channel.allocator.buffer(capacity: 64)
        RPCMessage.notification(method: RPCNotification.goAway, params: [.string(reason)]).write(to: &buffer)
        writeGathered(context)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        let bound = NIOLoopBound(self, eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(in: TimeAmount(goAwayLinger)) {
            let handler = bound.value
            guard handler.state.lingerElapsed() == .close, let context = handler.context else { return }
            handler.flush(context)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.closed()
        for task in tasks.values { task.cancel() }
        for timer in deadlines.values { timer.cancel() }
        tasks.removeAll()
        deadlines.removeAll()
        active.removeAll()
        queued.removeAll()
        gathered = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let violation = error as? RPCProtocolError {
            logger.info("closing connection after a protocol violation", metadata: ["error": "\(violation)"])
            if let msgid = violation.msgid {
                var buffer = context.channel.allocator.buffer(capacity: 64)
                RPCMessage.failure(msgid, violation.error).write(to: &buffer)
                writeGathered(context)
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
