import HummingbirdCore
import Logging
import NIOCore
import NIOSSL
import SkynetRPC

/// HTTP/1 behind TLS whose context comes from an `RPCTLS` at each new connection, so the
/// HTTP port takes renewed certificates on SIGHUP as the RPC ports do (Hummingbird's own
/// TLS channel keeps the context it was built with).
struct ReloadableTLSChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let tls: RPCTLS

    var responder: HTTPChannelHandler.Responder { base.responder }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        guard let context = tls.serverContext else {
            return channel.eventLoop.makeFailedFuture(RPCError(.unavailable, "serving TLS needs a certificate and its key"))
        }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }

    /// The HTTP/1 server, behind TLS when `tls` is given.
    static func server(_ tls: RPCTLS?) -> HTTPServerBuilder {
        guard let tls else { return .http1() }
        return HTTPServerBuilder { responder in
            ReloadableTLSChannel(base: HTTP1Channel(responder: responder), tls: tls)
        }
    }
}
