import EtcdAPI
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import SkynetRPC

/// A client of one etcd cluster through its gRPC API (not the JSON gateway).
///
/// It keeps an HTTP/2 connection to every member and spreads calls over those that are
/// ready (gRPC's `round_robin`), so a failed member is skipped at once. Calls on the service clients (`kv`, `watch`,
/// `lease`, `cluster`, `maintenance`) throw gRPC errors; the helpers here throw `RPCError`
/// with the coordinator's stable codes. Call `close()` when done.
public final class EtcdClient: Sendable {
    /// The members' client addresses, as given.
    public let endpoints: [EtcdEndpoint]
    /// etcd's KV service: range, put, delete range, txn, compact.
    public let kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>
    /// etcd's Watch service.
    public let watch: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix>
    /// etcd's Lease service.
    public let lease: Etcdserverpb_Lease.Client<HTTP2ClientTransport.Posix>
    /// etcd's Cluster service (members).
    public let cluster: Etcdserverpb_Cluster.Client<HTTP2ClientTransport.Posix>
    /// etcd's Maintenance service (status of a member).
    public let maintenance: Etcdserverpb_Maintenance.Client<HTTP2ClientTransport.Posix>
    /// How long a single call may take before it fails with `Unavailable`.
    public let callTimeout: Duration

    private let grpc: GRPCClient<HTTP2ClientTransport.Posix>
    private let running: Task<Void, Never>

    /// Connects (lazily) to the cluster whose members listen at `endpoints`. Host names are
    /// resolved once, here. Throws `Unavailable` when a name does not resolve.
    public init(endpoints: [EtcdEndpoint], callTimeout: Duration = .seconds(5), logger: Logger) throws {
        precondition(!endpoints.isEmpty, "an etcd client needs at least one endpoint")
        self.endpoints = endpoints
        self.callTimeout = callTimeout
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
        let transport = try HTTP2ClientTransport.Posix(
            target: .ipv4(pairs: pairs), transportSecurity: .plaintext,
            config: .defaults { config in
                // Notice a dead member quickly, and find the next one soon after.
                config.connection.maxIdleTime = nil
                config.http2.maxFrameSize = 1 << 20
                config.backoff = .init(initial: .milliseconds(100), max: .seconds(1), multiplier: 1.6, jitter: 0.2)
            },
            // A connection to every member, calls spread over the ready ones: a dead member is
            // skipped at once instead of being waited for.
            serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin]))
        let grpc = GRPCClient(transport: transport)
        self.grpc = grpc
        kv = Etcdserverpb_KV.Client(wrapping: grpc)
        watch = Etcdserverpb_Watch.Client(wrapping: grpc)
        lease = Etcdserverpb_Lease.Client(wrapping: grpc)
        cluster = Etcdserverpb_Cluster.Client(wrapping: grpc)
        maintenance = Etcdserverpb_Maintenance.Client(wrapping: grpc)
        running = Task {
            do { try await grpc.runConnections() } catch {
                logger.warning("etcd client stopped", metadata: ["etcd.error": "\(error)"])
            }
        }
    }

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
        grpc.beginGracefulShutdown()
        await running.value
    }
}
