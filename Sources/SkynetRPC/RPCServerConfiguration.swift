import MessagePack

/// How an `RPCServer` binds, what it accepts, and how it runs handlers.
public struct RPCServerConfiguration: Sendable {
    /// Where handler tasks run.
    public enum HandlerExecution: Sendable {
        /// On the connection's event loop: no thread hop per call, lowest latency. A
        /// handler that computes for long holds up the other connections of that loop;
        /// such handlers should move their work elsewhere.
        case eventLoop
        /// On Swift's global concurrent executor: handlers of one connection may use
        /// several cores, at the cost of two thread hops per call.
        case globalExecutor
    }

    /// Interface to bind; `127.0.0.1` unless told otherwise.
    public var host: String
    /// Port to bind; 0 picks a free one (read it from `RPCServer.start()`).
    public var port: Int
    /// Limits on every incoming frame.
    public var limits: MessagePackLimits
    /// How long a graceful shutdown waits for in-flight calls before closing connections.
    public var gracePeriod: Duration
    /// Where handlers run.
    public var handlerExecution: HandlerExecution
    /// Pending-connection queue length of the listening socket.
    public var backlog: Int32
    /// Open connections at most; one more is answered `ResourceExhausted` and closed.
    public var maxConnections: Int
    /// Calls one connection may have running before the server stops reading from it
    /// (a soft cap: what one read already brought in still runs).
    public var maxInFlightPerConnection: Int
    /// Requests of one connection started per turn of its event loop; the rest wait for
    /// the next turn, behind the loop's other connections, so one peer pipelining
    /// thousands of requests does not make the others wait for all of them.
    public var maxRequestsPerTurn: Int
    /// The kernel's send buffer of each connection (`SO_SNDBUF`; Linux doubles it), or
    /// `nil` for the system's autotuning (up to `net.ipv4.tcp_wmem`, 4 MiB by default). A
    /// fixed size bounds what a peer that never reads its answers can make the server
    /// serve and hold before the connection is held back: with autotuning, several
    /// megabytes of answers per connection, a second of CPU per flooding peer.
    public var sendBufferBytes: Int?
    /// A connection with no traffic either way for this long is told to go away and
    /// closed; `nil` keeps idle connections open.
    public var idleTimeout: Duration?
    /// After telling a connection to go away, how long requests already on the wire are
    /// still answered (refused unrun) before the connection closes.
    public var goAwayLinger: Duration
    /// TLS for every connection (it must have a certificate and key); `nil` serves plain
    /// TCP. A plain caller on a TLS port is answered `Unauthorized` and closed.
    public var tls: RPCTLS?

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1", port: Int = 0, limits: MessagePackLimits = .default,
        gracePeriod: Duration = .seconds(10), handlerExecution: HandlerExecution = .eventLoop, backlog: Int32 = 256,
        maxConnections: Int = 16_384, maxInFlightPerConnection: Int = 1_024, maxRequestsPerTurn: Int = 8,
        sendBufferBytes: Int? = 128 << 10, idleTimeout: Duration? = nil, goAwayLinger: Duration = .milliseconds(100), tls: RPCTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.limits = limits
        self.gracePeriod = gracePeriod
        self.handlerExecution = handlerExecution
        self.backlog = backlog
        self.maxConnections = maxConnections
        self.maxInFlightPerConnection = maxInFlightPerConnection
        self.maxRequestsPerTurn = maxRequestsPerTurn
        self.sendBufferBytes = sendBufferBytes
        self.idleTimeout = idleTimeout
        self.goAwayLinger = goAwayLinger
        self.tls = tls
    }
}
