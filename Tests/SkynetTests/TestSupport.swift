import Foundation
import Logging
import Skynet
import SkynetCoordinator
import SkynetEtcd
import SkynetTestSupport
import Testing

/// A logger that keeps test output to failures.
func quietLogger(_ label: String = "test.skynet") -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

/// A fresh directory path under the system's temporary directory (not created).
func temporaryPath(_ label: String) -> String {
    NSTemporaryDirectory() + "\(label)-\(UUID().uuidString.prefix(8))"
}

/// Starts an in-process coordinator on 127.0.0.1 with a free port and a fresh data
/// directory, runs `body` with a client connected to it, and always stops both.
func withCoordinator<T>(
    _ configure: (inout CoordinatorNodeConfiguration) -> Void = { _ in },
    _ body: (CoordinatorServer, CoordinatorClient) async throws -> T
) async throws -> T {
    let dir = temporaryPath("skynet-live")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var configuration = CoordinatorNodeConfiguration(name: "test", dataDirectory: dir)
    configure(&configuration)
    let node = try CoordinatorNode.open(configuration: configuration, logger: quietLogger())
    let server = CoordinatorServer(node: node, host: "127.0.0.1", port: 0, logger: quietLogger())
    return try await serving(server, body)
}

/// Starts `server` on its free port, runs `body` with a client of it, and always closes
/// both (then runs `cleanup`).
private func serving<T>(
    _ server: CoordinatorServer, cleanup: () async -> Void = {}, _ body: (CoordinatorServer, CoordinatorClient) async throws -> T
) async throws -> T {
    let port = try await server.start().port!
    // A generous call timeout: these tests are about answers, and with every suite running
    // alongside on two cores (dozens of processes starting at once) a call can wait seconds.
    let client = CoordinatorClient(configuration: .init(addresses: ["127.0.0.1:\(port)"], callTimeout: .seconds(30)), logger: quietLogger())
    let result: Result<T, any Error>
    do { result = .success(try await body(server, client)) } catch { result = .failure(error) }
    await client.close()
    await server.shutdown()
    await cleanup()
    return try result.get()
}

/// Where a conformance test's tree lives.
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case embedded, etcd
    var testDescription: String { rawValue }
}

/// Starts a coordinator on 127.0.0.1 (a free port) over a fresh store of `kind` (the
/// embedded node in a fresh directory, or a front over a fresh one-member etcd), runs
/// `body` with a client of it, and always stops everything. `etcdCallsInFlight` bounds the
/// etcd front's calls out at once (the rest wait to share one).
func withStore<T>(
    _ kind: StoreKind, etcdCallsInFlight: Int = 8, _ body: (CoordinatorServer, CoordinatorClient) async throws -> T
) async throws -> T {
    guard kind == .etcd else { return try await withCoordinator({ _ in }, body) }
    let cluster = try await EtcdCluster.start(size: 1)
    defer { cluster.stop() }
    let etcd = try EtcdClient(endpoints: EtcdEndpoint.list(cluster.clientAddresses)!, logger: quietLogger())
    let store = try await eventually { try await EtcdStore(
        client: etcd, name: "test", progressInterval: .milliseconds(200), maxCallsInFlight: etcdCallsInFlight, logger: quietLogger()) }
    let server = CoordinatorServer(store: store, host: "127.0.0.1", port: 0, logger: quietLogger())
    return try await serving(server, cleanup: { await etcd.close() }, body)
}

/// Reads a watch until `done` says it has everything; the caller's test time limit bounds it.
func collect(
    _ watch: CoordinatorWatch, until done: ([TreeEvent]) -> Bool
) async throws -> [TreeEvent] {
    var events: [TreeEvent] = []
    for try await update in watch {
        events += update.events
        if done(events) { break }
    }
    return events
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// Runs `body`, which blocks (starting a process and waiting for its first line, waiting
/// for it to exit, reading a pipe), on a thread of its own. Tests run in parallel on a
/// cooperative pool of one thread per core: a test blocking two of them for seconds would
/// stall every other test's awaits meanwhile (and their coordinator calls would time out).
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
