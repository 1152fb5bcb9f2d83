import Logging
import MessagePack
import NIOCore
import NIOSSL
import Synchronization

/// One call on its way out: already encoded, with the promise its response completes.
struct RPCOutboundCall {
    let msgid: UInt32
    let bytes: ByteBuffer
    let promise: EventLoopPromise<MessagePackValue>
    let deadline: NIODeadline?
}

/// What a connection writes: calls awaiting their answers (oldest first), or a notification.
enum RPCOutbound {
    case calls([RPCOutboundCall])
    case notification(ByteBuffer)
}

/// Asks the connection handler to forget a call whose caller gave up.
struct RPCCancelCall {
    let msgid: UInt32
    let error: RPCError
}

/// Asks the connection handler to complete the event's promise once no call is in flight.
struct RPCDrainEvent {}

/// Set once a connection takes no new calls: its user closed it, or the server asked it to
/// go away. Shared by the connection and its handler.
final class RPCClosingFlag: Sendable {
    private let value = Atomic<Bool>(false)
    private let lost = Mutex<RPCError?>(nil)

    /// Why the connection failed, once it did: what later calls on it are told.
    var lostReason: RPCError? { lost.withLock { $0 } }

    /// Records why the connection failed; the first reason stays.
    func lose(_ reason: RPCError) {
        lost.withLock { if $0 == nil { $0 = reason } }
    }

    /// True once set.
    var isSet: Bool { value.load(ordering: .relaxed) }

    /// Sets it; returns whether it was set already.
    @discardableResult
    func set() -> Bool { value.exchange(true, ordering: .relaxed) }
}

/// The client side of one connection: the NIO shell around `RPCPendingCalls`, which
/// decides what is pending, what expired and when the one deadline timer fires; this
/// handler completes the promises and schedules that timer.
final class RPCConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = RPCMessage
    typealias OutboundIn = RPCOutbound
    typealias OutboundOut = ByteBuffer

    private var calls = RPCPendingCalls<EventLoopPromise<MessagePackValue>, EventLoopPromise<Void>>()
    private var timer: Scheduled<Void>?
    private var eventLoop: (any EventLoop)?
    private let peer: String
    private let notifications: AsyncStream<RPCNotification>.Continuation
    private let closing: RPCClosingFlag
    private let logger: Logger

    init(peer: String, notifications: AsyncStream<RPCNotification>.Continuation, closing: RPCClosingFlag, logger: Logger) {
        self.peer = peer
        self.notifications = notifications
        self.closing = closing
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        eventLoop = context.eventLoop
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .notification(let bytes):
            context.write(wrapOutboundOut(bytes), promise: promise)
        case .calls(let batch):
            for (index, call) in batch.enumerated() {
                do {
                    if let deadline = try calls.add(call.msgid, call.promise, deadline: call.deadline?.uptimeNanoseconds) {
                        arm(at: deadline)
                    }
                } catch {
                    // The connection closed before these calls were written: they never left.
                    let failure = RPCError.notSent(error.message)
                    for unsent in batch[index...] { unsent.promise.fail(failure) }
                    promise?.fail(failure)
                    return
                }
                context.write(wrapOutboundOut(call.bytes), promise: index == batch.count - 1 ? promise : nil)
            }
        }
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let cancel = event as? RPCCancelCall {
            finish(calls.remove(cancel.msgid)) { $0.fail(cancel.error) }
            promise?.succeed()
        } else if event is RPCDrainEvent {
            if let promise { calls.whenIdle(promise)?.succeed() }
        } else {
            context.triggerUserOutboundEvent(event, promise: promise)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .response(msgid, error, result):
            // A late answer to a call that timed out or was cancelled finds nothing here.
            finish(calls.remove(msgid)) { promise in
                if error.isNil { promise.succeed(result) } else { promise.fail(RPCError(value: error)) }
            }
        case let .notification(method, params) where method == RPCNotification.goAway:
            // The server is closing this connection gracefully: send nothing more, let the
            // calls in flight finish, then close it ourselves.
            logger.debug("server asked to go away", metadata: ["rpc.peer": "\(peer)", "reason": "\(params.first?.stringValue ?? "")"])
            closing.set()
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let idle = context.eventLoop.makePromise(of: Void.self)
            idle.futureResult.whenComplete { _ in bound.value.close(promise: nil) }
            calls.whenIdle(idle)?.succeed()
        case let .notification(method, params):
            if case .dropped = notifications.yield(RPCNotification(method: method, params: params)) {
                // The consumer fell a whole buffer behind: losing a notification silently
                // would break whatever relies on them (watches), so the connection ends and
                // its user reconnects and resumes.
                errorCaught(context: context, error: RPCError(.unavailable, "notifications from \(peer) were not read: \(RPCConnection.maxBufferedNotifications) waiting"))
            }
        case .request(let msgid, let method, _):
            var buffer = context.channel.allocator.buffer(capacity: 64)
            RPCMessage.failure(msgid, RPCError(.noSuchMethod, "this client serves no method \"\(method)\"")).write(to: &buffer)
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError(.unavailable, "connection to \(peer) closed"))
        notifications.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let reason: RPCError
        if let violation = error as? RPCProtocolError {
            reason = RPCError(.unavailable, "\(peer) broke the protocol: \(violation.error.message)")
        } else if let own = error as? RPCError {
            reason = own
        } else if TLSFailure.isTLS(error) {
            // Under TLS 1.3 a server refuses a client certificate after the handshake.
            reason = RPCError(.unavailable, "TLS with \(peer) failed: \(TLSFailure.reason(error))")
        } else {
            reason = RPCError(.unavailable, "connection to \(peer) failed: \(error)")
        }
        logger.debug("closing connection", metadata: ["error": "\(reason)"])
        closing.lose(reason)
        failAll(reason)
        context.close(promise: nil)
    }

    private func finish(_ removed: (call: EventLoopPromise<MessagePackValue>?, idle: [EventLoopPromise<Void>]), _ complete: (EventLoopPromise<MessagePackValue>) -> Void) {
        if let call = removed.call { complete(call) }
        for waiter in removed.idle { waiter.succeed() }
    }

    private func failAll(_ error: RPCError) {
        timer?.cancel()
        timer = nil
        let (pending, idle) = calls.close(error)
        // The first reason recorded is the one every call and later caller sees.
        let reason = calls.closedError ?? error
        for call in pending { call.fail(reason) }
        for waiter in idle { waiter.succeed() }
    }

    private func arm(at deadline: UInt64) {
        guard let eventLoop else { return }
        timer?.cancel()
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        timer = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(deadline)) { bound.value.timerFired() }
    }

    private func timerFired() {
        timer = nil
        let (expired, rearm, idle) = calls.timerFired(now: NIODeadline.now().uptimeNanoseconds)
        let error = RPCError(.deadlineExceeded, "no answer from \(peer) before the deadline")
        for call in expired { call.fail(error) }
        for waiter in idle { waiter.succeed() }
        if let rearm { arm(at: rearm) }
    }
}
