// A service with a health check and its own load figure, leaving rotation by itself when
// it fails or stays over its load ceiling. Run against a coordinator named by
// SKYNET_COORDINATORS (default 127.0.0.1:8046).
import Foundation
import Skynet
import SkynetRPC

/// Stands in for whatever the service depends on.
struct Database: Sendable {
    func ping() async throws {}
}

struct Orders: ServiceProtocol {
    let database: Database

    func registerMethods(_ router: inout RPCRouter) {
        router.register("count") { () in 42 }
    }

    // Run every ServiceConfig.healthCheckInterval (3 s): throwing takes the instance out of
    // rotation with the error as the reason; passing again brings it back.
    func healthCheck(_ service: Service) async throws {
        try await database.ping()
    }

    // What ServiceConfig.loadCeiling applies to; the default is the process's CPU share.
    func load(_ report: LoadReport) -> Double {
        Double(report.inFlight) / 200
    }
}

let config = try ServiceConfig(name: "orders", serviceAddress: "127.0.0.1:0", adminAddress: "127.0.0.1:0", loadCeiling: 0.9, loadFloor: 0.6)
    .overriding(environment: ProcessInfo.processInfo.environment)
let service = Service(config: config, delegate: Orders(database: Database()))
let info = try await service.bind()
print("orders serving \(info.serviceAddress); in rotation: \(info.registered)")
let figures = service.statsSnapshot()                   // what the admin `stats` call answers
print("its figures, as `sky instances` asks for them: \(figures.requests) calls, \(figures.memoryBytes / 1_048_576) MiB resident")
await service.stop()
