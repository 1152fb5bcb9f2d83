import Foundation
import Logging
import Skynet
import SkynetRPC
import Synchronization

/// A test service: `echo`, and `whoami` answering with its label; records key moves.
struct LabeledEcho: ServiceProtocol {
    let label: String
    let moves = MoveLog()

    func registerMethods(_ router: inout RPCRouter) {
        let label = self.label
        router.register("echo") { (text: String) in text }
        router.register("whoami") { () in label }
    }

    func keysMoved(_ service: Service, _ moves: [KeyRangeMove]) async {
        self.moves.append(moves)
    }
}

/// The key-range moves a service was told about.
final class MoveLog: Sendable {
    private let state = Mutex<[KeyRangeMove]>([])
    func append(_ moves: [KeyRangeMove]) { state.withLock { $0 += moves } }
    var all: [KeyRangeMove] { state.withLock { $0 } }
}

/// Starts an in-process service `label` of `name` against the coordinator at `port`, on free ports.
func startService(
    _ label: String, name: String = "echo", region: String = "local", coordinatorPort: Int, register: Bool = true,
    delegate: LabeledEcho? = nil
) async throws -> Service {
    var config = try ServiceConfig(
        name: name, version: "1", region: region, host: "127.0.0.1", serviceAddress: "127.0.0.1:0", adminAddress: "127.0.0.1:0",
        coordinators: ["127.0.0.1:\(coordinatorPort)"], sessionTTL: .seconds(5), logger: quietLogger())
    config.coordinatorTimeout = testCoordinatorTimeout
    let service = Service(config: config, delegate: delegate ?? LabeledEcho(label: label), loadInterval: .milliseconds(200))
    try await service.bind(register: register)
    return service
}

/// A client of the coordinator at `port`, preferring nothing in particular. Calls wait
/// `testCoordinatorTimeout` unless the test is about their deadline.
func makeClient(coordinatorPort: Int, timeout: Duration = testCoordinatorTimeout) -> Client {
    var config = ClientConfig(coordinators: ["127.0.0.1:\(coordinatorPort)"], region: "elsewhere", host: "elsewhere", timeout: timeout)
    config.coordinatorTimeout = testCoordinatorTimeout
    return Client(config: config, logger: quietLogger())
}

/// The coordinator call timeout (and default call timeout) of the services and clients
/// tests make: the in-process coordinator and services can stall past the 5 s default
/// while 74 suites and a package build start at once on 2 cores.
let testCoordinatorTimeout: Duration = .seconds(30)

/// Reads a query's watch until `done` holds for the matching set.
func waitForInstances(_ query: Query, _ coordinator: CoordinatorClient, until done: ([ServiceInfo]) -> Bool) async throws -> [ServiceInfo] {
    for try await instances in query.watch(coordinator) where done(instances) { return instances }
    throw SkynetdError("the registry watch ended")
}

/// Sends warm-up calls (at most 10,000) until `ready` holds for the pool; throws if it never does.
func warmUp(_ pool: ServiceClient, until ready: (ServiceClient) -> Bool) async throws {
    for _ in 0..<10_000 where !ready(pool) {
        _ = try await pool.send("echo", "warm", returning: String.self)
    }
    guard ready(pool) else { throw SkynetdError("the pool never became ready: \(pool.availableInstances)") }
}
