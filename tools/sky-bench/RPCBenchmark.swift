import ArgumentParser
import Foundation
import MessagePack
import NIOCore
import NIOPosix
import SkynetRPC
import SkynetTestSupport

/// `sky-bench rpc`: MessagePack-RPC latency and throughput against a raw NIO echo baseline.
struct RPCBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rpc",
        abstract: "Serial latency and pipelined throughput of SkynetRPC vs a raw NIO echo, plus Codable speed.",
        discussion: """
            With --tls, each round also measures a TLS server (a certificate made on the spot)
            and the report adds its figures against plaintext's from the same rounds.

            Examples:
              sky-bench rpc
              sky-bench rpc --tls
            """)

    @Option(help: "Serial calls measured per round (after as many warm-up calls).")
    var serialCalls = 10_000

    @Option(help: "Seconds each pipelined phase runs per round.")
    var pipelinedSeconds = 1.0

    @Option(help: "Rounds; each runs the RPC and the raw phase back to back, so drift on the machine hits both alike.")
    var rounds = 3

    @Option(help: "Connections in the pipelined phases.")
    var connections = 4

    @Option(help: "Calls in flight per connection in the pipelined phases.")
    var depth = 64

    @Option(help: "Where server handlers run: event-loop or global.")
    var handlers = "event-loop"

    @Flag(help: "Also measure RPC over TLS, against plaintext in the same rounds.")
    var tls = false

    static let payload = "0123456789abcdef"   // the 16-byte string echoed

    func run() async throws {
        // Servers and clients share the default group, a loop per core, as a user's
        // process would; the RPC and raw phases connect in the same order, so their
        // channels land on the loops the same way.
        let group = MultiThreadedEventLoopGroup.singleton
        let serverGroup = group
        var router = RPCRouter()
        router.register("echo") { (text: String) in text }
        let execution: RPCServerConfiguration.HandlerExecution = handlers == "global" ? .globalExecutor : .eventLoop
        let server = RPCServer(configuration: .init(handlerExecution: execution), router: router, eventLoopGroup: serverGroup)
        let port = try await server.start().port!
        let raw = try await RawEchoBaseline.startServer(group: serverGroup)
        let rawPort = raw.localAddress!.port!
        let frame = RPCMessage.request(msgid: 1, method: "echo", params: [.string(Self.payload)]).encoded()
        let secure = try await tls ? SecureEcho.start(router: router, execution: execution, group: serverGroup) : nil
        var tlsSerial = LatencySamples(capacity: rounds * serialCalls)
        var tlsRates: [Double] = []

        var rpcSerial = LatencySamples(capacity: rounds * serialCalls)
        var rawSerial = LatencySamples(capacity: rounds * serialCalls)
        var rpcRates: [Double] = []
        var rawRates: [Double] = []
        for _ in 0..<rounds {
            // Serial: one connection, one call at a time.
            rpcSerial.append(try await serialRPC(port: port, group: group))
            rawSerial.append(try await serialRaw(port: rawPort, frame: frame, group: group))
            // Pipelined: several connections, many calls in flight on each.
            rpcRates.append(try await pipelinedRPC(port: port, group: group))
            rawRates.append(try await pipelinedRaw(port: rawPort, frame: frame, group: group))
            if let secure {
                tlsSerial.append(try await serialRPC(port: secure.port, group: group, tls: secure.client))
                tlsRates.append(try await pipelinedRPC(port: secure.port, group: group, tls: secure.client))
            }
        }
        let rpcRate = rpcRates.reduce(0, +) / Double(rounds)
        let rawRate = rawRates.reduce(0, +) / Double(rounds)
        let codecRate = try codecRoundTrips()

        await server.shutdown()
        try await raw.close()
        await secure?.stop()

        let serialP50 = rpcSerial.percentileMicroseconds(0.5)
        let rawP50 = rawSerial.percentileMicroseconds(0.5)
        var report: [(String, Any)] = [
            ("scenario", "rpc"),
            ("serial_p50_us", rounded(serialP50)),
            ("serial_p99_us", rounded(rpcSerial.percentileMicroseconds(0.99))),
            ("pipelined_calls_per_s", Int(rpcRate)),
            ("raw_serial_p50_us", rounded(rawP50)),
            ("raw_serial_p99_us", rounded(rawSerial.percentileMicroseconds(0.99))),
            ("raw_pipelined_per_s", Int(rawRate)),
            ("msgpack_encode_decode_per_s", Int(codecRate)),
            ("serial_ratio", rounded(serialP50 / rawP50, 2)),
            ("pipelined_ratio", rounded(rpcRate / rawRate, 2)),
            ("targets_met", serialP50 <= 1.5 * rawP50 && rpcRate >= 0.5 * rawRate),
            ("handlers", handlers),
            ("rounds", rounds),
            ("connections", connections),
            ("depth", depth),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]
        if secure != nil {
            let tlsP50 = tlsSerial.percentileMicroseconds(0.5)
            let tlsRate = tlsRates.reduce(0, +) / Double(rounds)
            report += [
                ("tls_serial_p50_us", rounded(tlsP50)),
                ("tls_serial_p99_us", rounded(tlsSerial.percentileMicroseconds(0.99))),
                ("tls_pipelined_calls_per_s", Int(tlsRate)),
                ("tls_serial_ratio", rounded(tlsP50 / serialP50, 2)),
                ("tls_pipelined_ratio", rounded(tlsRate / rpcRate, 2)),
                ("tls_targets_met", tlsP50 <= 1.3 * serialP50 && tlsRate >= 0.7 * rpcRate),
            ]
        }
        print(JSONReport.render(report))
    }

    private func serialRPC(port: Int, group: any EventLoopGroup, tls: RPCTLS? = nil) async throws -> LatencySamples {
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: .init(tls: tls), eventLoopGroup: group)
        defer { Task { await connection.close() } }
        var samples = LatencySamples(capacity: serialCalls)
        let clock = ContinuousClock()
        for i in 0..<(2 * serialCalls) {
            let start = clock.now
            let echoed = try await connection.call("echo", Self.payload, returning: String.self)
            let elapsed = clock.now - start
            guard echoed == Self.payload else { throw ValidationError("echo returned \(echoed)") }
            if i >= serialCalls { samples.record(elapsed) }
        }
        return samples
    }

    private func serialRaw(port: Int, frame: ByteBuffer, group: any EventLoopGroup) async throws -> LatencySamples {
        let client = try await RawEchoBaseline.Client(port: port, frame: frame, group: group)
        defer { client.channel.close(promise: nil) }
        var samples = LatencySamples(capacity: serialCalls)
        let clock = ContinuousClock()
        for i in 0..<(2 * serialCalls) {
            let start = clock.now
            try await client.call()
            let elapsed = clock.now - start
            if i >= serialCalls { samples.record(elapsed) }
        }
        return samples
    }

    /// Runs `depth` callers on each of `clients` for the phase's duration; returns calls per second.
    private func pipelined<Client: Sendable>(_ clients: [Client], _ call: @escaping @Sendable (Client) async throws -> Void) async throws -> Double {
        let clock = ContinuousClock()
        // Warm up every caller path once before timing.
        for client in clients { try await call(client) }
        let start = clock.now
        let end = start + .milliseconds(Int(pipelinedSeconds * 1000))
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for client in clients {
                for _ in 0..<depth {
                    group.addTask {
                        var count = 0
                        while clock.now < end {
                            try await call(client)
                            count += 1
                        }
                        return count
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (clock.now - start).seconds
    }

    private func pipelinedRPC(port: Int, group: any EventLoopGroup, tls: RPCTLS? = nil) async throws -> Double {
        var clients: [RPCConnection] = []
        for _ in 0..<connections {
            clients.append(try await RPCConnection.connect(host: "127.0.0.1", port: port, configuration: .init(tls: tls), eventLoopGroup: group))
        }
        let rate = try await pipelined(clients) { connection in
            _ = try await connection.call("echo", Self.payload, returning: String.self)
        }
        for client in clients { await client.close() }
        return rate
    }

    private func pipelinedRaw(port: Int, frame: ByteBuffer, group: any EventLoopGroup) async throws -> Double {
        var clients: [RawEchoBaseline.Client] = []
        for _ in 0..<connections { clients.append(try await RawEchoBaseline.Client(port: port, frame: frame, group: group)) }
        let rate = try await pipelined(clients) { try await $0.call() }
        for client in clients { try await client.channel.close() }
        return rate
    }

    /// Encode + decode round trips per second of a ServiceInfo-like struct.
    private func codecRoundTrips() throws -> Double {
        let info = BenchServiceInfo(
            uuid: "0b7e4a3c-8f3e-4a8e-9c8f-2f2d4b0c1a9e", name: "echo", version: "1.0.3", region: "us-east",
            host: "host-a.example", serviceAddr: "10.0.0.12:9001", adminAddr: "10.0.0.12:9101", registered: true,
            metadata: ["team": "infra", "tier": "gold", "shard": "7"])
        let encoder = MessagePackEncoder()
        let decoder = MessagePackDecoder()
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while count % 1000 != 0 || clock.now - start < .seconds(1) {
            let bytes = try encoder.encode(info)
            let back = try decoder.decode(BenchServiceInfo.self, from: bytes)
            precondition(back == info)
            count += 1
        }
        return Double(count) / (clock.now - start).seconds
    }
}

/// The echo router served over TLS, with a CA and certificate made for the run.
struct SecureEcho {
    let server: RPCServer
    let port: Int
    let client: RPCTLS
    let certificates: TestCertificates

    static func start(router: RPCRouter, execution: RPCServerConfiguration.HandlerExecution, group: any EventLoopGroup) async throws -> SecureEcho {
        let certificates = try TestCertificates(name: "sky-bench CA")
        let pair = try certificates.issue("sky-bench")
        let serving = try RPCTLS(.init(certificatePath: pair.certificatePath, keyPath: pair.keyPath))
        let server = RPCServer(configuration: .init(handlerExecution: execution, tls: serving), router: router, eventLoopGroup: group)
        let port = try await server.start().port!
        return SecureEcho(server: server, port: port, client: try RPCTLS(.init(caPath: certificates.caPath)), certificates: certificates)
    }

    func stop() async {
        await server.shutdown()
        certificates.remove()
    }
}

struct BenchServiceInfo: Codable, Equatable {
    var uuid, name, version, region, host, serviceAddr, adminAddr: String
    var registered: Bool
    var metadata: [String: String]
}
