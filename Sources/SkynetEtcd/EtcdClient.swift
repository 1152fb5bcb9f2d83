import EtcdAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import SkynetRPC
import Synchronization

/// A client of one etcd cluster through its gRPC API (not the JSON gateway).
///
/// It keeps an HTTP/2 connection to every member and spreads calls over those that are
/// ready (gRPC's `round_robin`), so a failed member is skipped at once. Calls on the
/// service clients (`kv`, `watch`, `lease`, `cluster`, `maintenance`) throw gRPC errors;
/// `call` turns them into `RPCError`s with the coordinator's stable codes. Call `close()`
/// when done.
///
/// Its connections are renewed every `callsPerConnection` calls: with etcd 3.4, every
/// unary call leaves swift-nio-http2 a stream error on the connection (a frame for a
/// stream it has closed), and its denial-of-service guard resets a connection after 200
/// of those, failing whatever is in flight. A fresh set of connections takes new calls
/// well before; the old one finishes its calls (and streams) and closes.
public final class EtcdClient: Sendable {
    /// The members' client addresses, as given.
    public let endpoints: [EtcdEndpoint]
    /// How long a single call may take before it fails with `Unavailable`.
    public let callTimeout: Duration
    /// Calls made on one set of connections before a fresh one takes over.
    static let callsPerConnection = 120

    private typealias Client = GRPCClient<HTTP2ClientTransport.Posix>

    private struct Connections {
        var current: Client
        var running: Task<Void, Never>
        var calls = 0
        var closed = false
    }

    private let pairs: [(host: String, port: Int)]
    private let logger: Logger
    private let tls: TLSSettings?
    private let connections: Mutex<Connections>

    /// Connects (lazily) to the cluster whose members listen at `endpoints`, over TLS when
    /// given `tls` (its CA checks the members' certificates, against the members' IP
    /// addresses; its certificate and key are shown when etcd asks, `--client-cert-auth`).
    /// Host names are resolved once, here. Throws `Unavailable` when a name does not resolve.
    public init(endpoints: [EtcdEndpoint], tls: TLSSettings? = nil, callTimeout: Duration = .seconds(5), logger: Logger) throws {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints
        self.callTimeout = callTimeout
        self.logger = logger
        var pairs: [(host: String, port: Int)] = []
        for endpoint in endpoints {
            do {
                let address = try SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
                guard let ip = address.ipAddress else { throw SkynetRPC.RPCError(.unavailable, "\(endpoint) has no IP address") }
                pairs.append((ip, endpoint.port))
            } catch {
                throw SkynetRPC.RPCError(.unavailable, "etcd endpoint \(endpoint): cannot resolve its host name")
            }
        }
        self.pairs = pairs
        self.tls = tls
        let (client, task) = try Self.connect(pairs, tls: tls, logger: logger)
        connections = Mutex(Connections(current: client, running: task))
    }

    private static func security(_ tls: TLSSettings?) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let tls else { return .plaintext }
        return .tls { config in
            if let ca = tls.caPath { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
            if let certificate = tls.certificatePath, let key = tls.keyPath {
                config.certificateChain = [.file(path: certificate, format: .pem)]
                config.privateKey = .file(path: key, format: .pem)
            }
        }
    }

    private static func connect(_ pairs: [(host: String, port: Int)], tls: TLSSettings?, logger: Logger) throws -> (Client, Task<Void, Never>) {
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(pairs: pairs), transportSecurity: security(tls),
            config: .defaults { config in
                // Find a restarted member again soon.
                config.backoff = .init(initial: .milliseconds(100), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
            },
            // A connection to every member, calls spread over the ready ones: a dead member is
            // skipped at once instead of being waited for.
            serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin]))
        let client = GRPCClient(transport: transport)
        let task = Task {
            do { try await client.runConnections() } catch {
                logger.warning("etcd client stopped", metadata: ["etcd.error": "\(error)"])
            }
        }
        return (client, task)
    }

    /// The connections the next call goes on, renewed every `callsPerConnection` calls.
    private func next() -> Client {
        let (client, retired): (Client, Client?) = connections.withLock { state in
            state.calls += 1
            guard state.calls > Self.callsPerConnection, !state.closed,
                  let (fresh, task) = try? Self.connect(pairs, tls: tls, logger: logger)
            else { return (state.current, nil) }
            let old = state.current
            state.current = fresh
            state.running = task
            state.calls = 1
            return (fresh, old)
        }
        // The old connections close by themselves once their calls and streams have finished.
        // Not at once: under load a set can be retired before its `runConnections` task has
        // even begun, and a client shut down before it runs refuses every call handed to it.
        if let retired {
            Task {
                try? await Task.sleep(for: .seconds(5))
                retired.beginGracefulShutdown()
            }
        }
        return client
    }

    /// etcd's KV service: range, put, delete range, txn, compact.
    public var kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix> { .init(wrapping: next()) }
    /// etcd's Watch service.
    public var watch: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix> { .init(wrapping: next()) }
    /// etcd's Lease service.
    public var lease: Etcdserverpb_Lease.Client<HTTP2ClientTransport.Posix> { .init(wrapping: next()) }
    /// etcd's Cluster service (members).
    public var cluster: Etcdserverpb_Cluster.Client<HTTP2ClientTransport.Posix> { .init(wrapping: next()) }
    /// etcd's Maintenance service (status of a member).
    public var maintenance: Etcdserverpb_Maintenance.Client<HTTP2ClientTransport.Posix> { .init(wrapping: next()) }

    /// Call options with this client's timeout.
    public var options: CallOptions {
        var options = streamOptions
        options.timeout = callTimeout
        return options
    }

    /// Call options for a stream that lasts (no timeout). Answers may carry many values of
    /// up to 1 MiB each, over gRPC's default 4 MiB.
    public var streamOptions: CallOptions {
        var options = CallOptions.defaults
        options.maxRequestMessageBytes = Self.maxMessageBytes
        options.maxResponseMessageBytes = Self.maxMessageBytes
        return options
    }

    /// The largest message sent or received.
    static let maxMessageBytes = 64 << 20

    /// Runs `body`, turning its failure into an `RPCError` about `what`.
    public func call<T: Sendable>(_ what: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw EtcdFailure.rpcError(error, what) }
    }

    /// Stops accepting calls, lets those in flight finish and closes the connections.
    public func close() async {
        let (current, running) = connections.withLock { state in
            state.closed = true
            return (state.current, state.running)
        }
        current.beginGracefulShutdown()
        await running.value
    }
}
