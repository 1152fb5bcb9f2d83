import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// A service's `/metrics` listener: `GET /metrics` renders the registry in the Prometheus
/// text format; any other path is 404, any other method 405. Plain NIO HTTP/1, so a
/// service carries no web framework for one route.
final class MetricsEndpoint: Sendable {
    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Listens on `address` (port 0 picks a free one).
    static func start(_ address: HostPort, registry: PrometheusCollectorRegistry) async throws -> MetricsEndpoint {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsRequestHandler(registry: registry))
                }
            }
            .bind(host: address.host, port: address.port).get()
        return MetricsEndpoint(channel: channel)
    }

    /// The port it listens on.
    var port: Int { channel.localAddress?.port ?? 0 }

    /// Stops listening.
    func close() async {
        try? await channel.close()
    }
}

/// Answers one HTTP/1 request at a time on a connection.
private final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var head: HTTPRequestHead?

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            if path != "/metrics" {
                respond(context, head, .notFound, "text/plain; charset=utf-8", Array("only /metrics is served here\n".utf8))
            } else if head.method != .GET && head.method != .HEAD {
                respond(context, head, .methodNotAllowed, "text/plain; charset=utf-8", Array("GET /metrics\n".utf8))
            } else {
                var bytes: [UInt8] = []
                registry.emit(into: &bytes)
                respond(context, head, .ok, "text/plain; version=0.0.4; charset=utf-8", head.method == .HEAD ? [] : bytes)
            }
        }
    }

    private func respond(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, _ status: HTTPResponseStatus, _ type: String, _ body: [UInt8]) {
        var headers = HTTPHeaders([("content-type", type), ("content-length", "\(body.count)")])
        let keepAlive = request.isKeepAlive
        if !keepAlive { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if !body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
