// Calling a service through its pool: deadlines, retries, key affinity, errors, and finding
// instances with Query. Needs the echo service of `make run` (region us).
import Foundation
import Skynet
import SkynetRPC

let client = Client(config: .fromEnvironment(ProcessInfo.processInfo.environment))
let echo = client.service(name: "echo", version: "1")          // one pool, following the registry

// One deadline covers every attempt. A call that never reached a server is retried on
// another instance; an idempotent one also after a lost connection or a timeout.
let reply = try await echo.send("echo", "hi", returning: String.self, timeout: .seconds(2), idempotent: true)

// The same key reaches the same instance while the set of instances is stable.
let first = try await echo.send("echo", "cart", returning: String.self, key: "user-42")
let again = try await echo.send("echo", "cart", returning: String.self, key: "user-42")

// Errors carry stable codes.
do {
    _ = try await echo.send("no-such-method", "x", returning: String.self)
} catch let error as RPCError where error.code == .noSuchMethod {
    print("as expected: \(error.message)")
}
print(reply, first, again)

// Query finds instances, hosts, services, regions and versions, or watches them.
let coordinator = CoordinatorClient(configuration: .init(addresses: client.config.coordinators))
let instances = try await Query(service: "echo", region: "us").findInstances(coordinator)
for instance in instances { print(instance.serviceAddress, instance.registered ? "in rotation" : "out of rotation") }
for try await current in Query(service: "echo").watch(coordinator) {
    print("\(current.count) instance(s) of echo")       // again whenever the set changes
    break
}
await coordinator.close()
await client.close()
