import Logging
import MessagePack
import NIOCore
import NIOPosix
@testable import SkynetRPC

/// A latch a handler can wait on until the test opens it: how tests hold a call in
/// flight without sleeping.
actor Gate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var arrivals = 0
    private var arrivalWaiters: [(Int, CheckedContinuation<Void, Never>)] = []

    /// Suspends until `open()`; counts as an arrival.
    func wait() async {
        arrivals += 1
        let ready = arrivalWaiters.filter { $0.0 <= arrivals }
        arrivalWaiters.removeAll { $0.0 <= arrivals }
        for (_, waiter) in ready { waiter.resume() }
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }

    /// Returns once `count` callers are waiting (or have passed).
    func waitForArrivals(_ count: Int) async {
        if arrivals >= count { return }
        await withCheckedContinuation { arrivalWaiters.append((count, $0)) }
    }

    func open() {
        isOpen = true
        for waiter in waiters { waiter.resume() }
        waiters.removeAll()
    }
}

struct Boom: Error, CustomStringConvertible {
    var description: String { "boom" }
}

/// The router the live tests serve.
func testRouter(gate: Gate, notifications: AsyncStream<RPCNotification>.Continuation? = nil) -> RPCRouter {
    var router = RPCRouter()
    router.register("echo") { (text: String) in text }
    router.register("add") { (a: Int, b: Int) in a + b }
    router.register("greet") { (name: String, title: String?) in title.map { "\($0) \(name)" } ?? name }
    router.register("hold") { (label: String) in
        await gate.wait()
        return label
    }
    router.register("fail") { (code: String) -> Bool in
        if code == "internal" { throw Boom() }
        throw RPCError(RPCErrorCode(rawValue: code), "failed on purpose")
    }
    router.register("whoami") { (context: RPCCallContext) in context.metadata?.caller ?? "anonymous" }
    router.register("push") { (context: RPCCallContext, count: Int) in
        for i in 0..<count { try await context.connection.notify("tick", [.int(Int64(i))]) }
        return count
    }
    router.registerRaw("raw") { params, _ in .array(params.reversed()) }
    if let notifications {
        router.onNotification("note") { params, context in
            notifications.yield(RPCNotification(method: context.method, params: params))
        }
    }
    return router
}

/// A logger that keeps test output to failures.
func quietLogger() -> Logger {
    var logger = Logger(label: "test.rpc")
    logger.logLevel = .critical
    return logger
}

/// Starts a server on 127.0.0.1 with a free port; the caller shuts it down.
func startServer(router: RPCRouter, configuration: RPCServerConfiguration = .init()) async throws -> (RPCServer, Int) {
    let server = RPCServer(configuration: configuration, router: router, logger: quietLogger())
    return (server, try await server.start().port!)
}

/// Starts a server on 127.0.0.1 with a free port, runs `body`, and always shuts it down.
func withServer<T>(
    router: RPCRouter, configuration: RPCServerConfiguration = .init(),
    _ body: (RPCServer, Int) async throws -> T
) async throws -> T {
    let (server, port) = try await startServer(router: router, configuration: configuration)
    do {
        let result = try await body(server, port)
        await server.shutdown(gracePeriod: .seconds(5))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(5))
        throw error
    }
}

/// Sends raw bytes on a fresh TCP connection and returns everything the server sends
/// back until it closes the connection.
func exchangeRaw(port: Int, bytes: [UInt8]) async throws -> [UInt8] {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(bytes: bytes))
        var received: [UInt8] = []
        for try await chunk in inbound { received += chunk.readableBytesView }
        return received
    }
}

/// Decodes every message in `bytes`.
func messages(in bytes: [UInt8]) throws -> [RPCMessage] {
    var decoder = RPCFrameDecoder()
    var buffer = ByteBuffer(bytes: bytes)
    var out: [RPCMessage] = []
    while let message = try decoder.nextMessage(&buffer) { out.append(message) }
    return out
}
