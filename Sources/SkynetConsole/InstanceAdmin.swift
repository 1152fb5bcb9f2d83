import MessagePack
import Skynet
import SkynetRPC

/// Calls on instances' admin ports, made for the dashboard: one short connection per call,
/// with a deadline, so an instance that hangs costs the page a slow cell, not a stuck view.
enum InstanceAdmin {
    /// The admin actions the dashboard may take on an instance.
    static let actions: Set<String> = ["register", "unregister", "stop"]
    /// Most instances one figures request may ask about.
    static let maxStatsPerRequest = 256
    /// Admin calls in flight at once for one figures request.
    static let maxConcurrentCalls = 32

    /// Calls `method` on the admin port at `address`, within `timeout` (connecting included).
    static func call(_ address: String, _ method: String, timeout: Duration, tls: RPCTLS?) async throws -> MessagePackValue {
        try await AdminCalls.call(address, method, timeout: timeout, tls: tls)
    }

    /// The live figures (`stats`) of `instances`, asked concurrently: a figure per instance
    /// that answered, an error message per instance that did not.
    static func stats(of instances: [RegistryInstance], timeout: Duration, tls: RPCTLS?) async -> InstanceFigures {
        var figures = InstanceFigures()
        for (uuid, result) in await AdminCalls.stats(of: instances.map(\.info), timeout: timeout, tls: tls, concurrency: maxConcurrentCalls) {
            switch result {
            case .success(let stats): figures.stats[uuid] = stats
            case .failure(let error as RPCError): figures.errors[uuid] = error.message
            case .failure(let error): figures.errors[uuid] = "\(error)"
            }
        }
        return figures
    }
}

/// `GET /api/stats`: live figures by instance uuid, and why the others have none.
struct InstanceFigures: Codable, Sendable {
    var stats: [String: ServiceStatsSnapshot] = [:]
    var errors: [String: String] = [:]
}
