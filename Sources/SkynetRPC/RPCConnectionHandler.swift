import Logging
import MessagePack
import NIOCore

/// One call on its way out: already encoded, with the promise its response completes.
struct RPCOutboundCall {
    let msgid: UInt32
    let bytes: ByteBuffer
    let promise: EventLoopPromise<MessagePackValue>
    let deadline: NIODeadline?
}

/// What a connection writes: a call awaiting its answer, or a notification.
enum RPCOutbound {
    case call(RPCOutboundCall)
    case notification(ByteBuffer)
}

/// Asks the connection handler to forget a call whose caller gave up.
struct RPCCancelCall {
    let msgid: UInt32
    let error: RPCError
}

/// Asks the connection handler to complete the event's promise once no call is in flight.
struct RPCDrainEvent {}

/// The client side of one connection: matches responses to calls by msgid, fails calls
/// at their deadline, and fails every call in flight when the connection goes.
final class RPCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RPCMessage
    typealias OutboundIn = RPCOutbound
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        let promise: EventLoopPromise<MessagePackValue>
        let deadline: NIODeadline?
    }

    private var pending: [UInt32: Pending] = [:]
    /// One timer per connection, armed for the earliest pending deadline: with the usual
    /// uniform timeouts each call costs O(1) here instead of a scheduled task of its own.
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private var eventLoop: (any EventLoop)?
    private var closedError: RPCError?
    private var drainWaiters: [EventLoopPromise<Void>] = []
    private let peer: String
    private let notifications: AsyncStream<RPCNotification>.Continuation
    private let logger: Logger

    init(peer: String, notifications: AsyncStream<RPCNotification>.Continuation, logger: Logger) {
        self.peer = peer
        self.notifications = notifications
        self.logger = logger
    }

    /// Calls awaiting an answer.
    var inFlight: Int { pending.count }

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call: RPCOutboundCall
        switch unwrapOutboundIn(data) {
        case .notification(let bytes):
            context.write(wrapOutboundOut(bytes), promise: promise)
            return
        case .call(let outbound):
            call = outbound
        }
        if let closedError {
            call.promise.fail(closedError)
            promise?.fail(closedError)
            return
        }
        pending[call.msgid] = Pending(promise: call.promise, deadline: call.deadline)
        if let deadline = call.deadline { armTimer(for: deadline) }
        context.write(wrapOutboundOut(call.bytes), promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let cancel = event as? RPCCancelCall {
            fail(cancel.msgid, cancel.error)
            promise?.succeed()
        } else if event is RPCDrainEvent {
            if pending.isEmpty { promise?.succeed() } else if let promise { drainWaiters.append(promise) }
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .response(msgid, error, result):
            // A late answer to a call that timed out or was cancelled finds nothing here.
            guard let call = pending.removeValue(forKey: msgid) else { return }
            if error.isNil { call.promise.succeed(result) } else { call.promise.fail(RPCError(value: error)) }
            wakeDrainWaiters()
        case let .notification(method, params):
            notifications.yield(RPCNotification(method: method, params: params))
        case .request(let msgid, let method, _):
            var buffer = context.channel.allocator.buffer(capacity: 64)
            RPCMessage.failure(msgid, RPCError(.noSuchMethod, "this client serves no method \"\(method)\"")).write(to: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(closedError ?? RPCError(.unavailable, "connection to \(peer) closed"))
        notifications.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: RPCError
        if let violation = error as? RPCProtocolError {
            reason = RPCError(.unavailable, "\(peer) broke the protocol: \(violation.error.message)")
        } else {
            reason = RPCError(.unavailable, "connection to \(peer) failed: \(error)")
        }
        logger.debug("closing connection", metadata: ["error": "\(reason)"])
        failAll(reason)
        context.close(promise: nil)
    }

    private func fail(_ msgid: UInt32, _ error: RPCError) {
        guard let call = pending.removeValue(forKey: msgid) else { return }
        call.promise.fail(error)
        wakeDrainWaiters()
    }

    private func armTimer(for deadline: NIODeadline) {
        if let timerDeadline, timerDeadline <= deadline { return }
        guard let eventLoop else { return }
        timer?.cancel()
        timerDeadline = deadline
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(deadline: deadline) { bound.value.expireCalls() }
    }

    /// Fails every call past its deadline and re-arms for the earliest one left.
    private func expireCalls() {
        timer = nil
        timerDeadline = nil
        let now = NIODeadline.now()
        var next: NIODeadline?
        var expired: [UInt32] = []
        for (msgid, call) in pending {
            guard let deadline = call.deadline else { continue }
            if deadline <= now { expired.append(msgid) } else { next = min(next ?? deadline, deadline) }
        }
        for msgid in expired { fail(msgid, RPCError(.deadlineExceeded, "no answer from \(peer) before the deadline")) }
        if let next { armTimer(for: next) }
    }

    private func wakeDrainWaiters() {
        guard pending.isEmpty, !drainWaiters.isEmpty else { return }
        let waiters = drainWaiters
        drainWaiters.removeAll()
        for waiter in waiters { waiter.succeed() }
    }

    private func failAll(_ error: RPCError) {
        closedError = closedError ?? error
        let calls = pending
        pending.removeAll()
        timer?.cancel()
        timer = nil
        timerDeadline = nil
        for call in calls.values { call.promise.fail(error) }
        wakeDrainWaiters()
    }
}
