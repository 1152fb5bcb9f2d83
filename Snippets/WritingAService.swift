// A service with typed methods and lifecycle hooks, bound in code: the form for tests and
// for programs that need the address before serving. Run against a coordinator named by
// SKYNET_COORDINATORS (default 127.0.0.1:8046).
import Foundation
import Skynet
import SkynetRPC

struct Greeter: ServiceProtocol {
    struct Greeting: Codable, Sendable {
        var name: String
        var excited: Bool
    }

    func registerMethods(_ router: inout RPCRouter) {
        router.register("greet") { (greeting: Greeting) in
            "Hello, \(greeting.name)" + (greeting.excited ? "!" : ".")
        }
        router.register("add") { (a: Int, b: Int) in a + b }
        router.register("divide") { (a: Int, b: Int) throws in
            guard b != 0 else { throw RPCError(.badRequest, "b must not be 0") }
            return a / b
        }
    }

    func registered(_ service: Service) async {
        service.log.info("in rotation: clients may call")
    }

    func stopped(_ service: Service) async {
        service.log.info("stopped")
    }
}

let config = try ServiceConfig(name: "greeter", version: "2", region: "eu", serviceAddress: "127.0.0.1:0", adminAddress: "127.0.0.1:0")
    .overriding(environment: ProcessInfo.processInfo.environment)
let service = Service(config: config, delegate: Greeter())
let info = try await service.bind()                      // registered and serving; returns at once
print("greeter serving \(info.serviceAddress), registered at \(info.path ?? "")")

let client = Client(config: .fromEnvironment(ProcessInfo.processInfo.environment))
let greeter = client.service(name: "greeter", version: "2")
print(try await greeter.send("greet", Greeter.Greeting(name: "Ada", excited: true), returning: String.self))
print(try await greeter.send("add", 2, 40, returning: Int.self))
await client.close()
await service.stop()                                     // out of rotation, drained, session closed
