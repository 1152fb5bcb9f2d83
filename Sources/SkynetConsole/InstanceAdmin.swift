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
    static func call(_ address: String, _ method: String, timeout: Duration) async throws -> MessagePackValue {
        guard let target = HostPort(address) else { throw RPCError(.badRequest, "bad admin address \(address)") }
        let connection = try await RPCConnection.connect(host: target.host, port: target.port, configuration: .init(connectTimeout: timeout))
        defer { Task { await connection.close() } }
        return try await connection.call(method, [], timeout: timeout)
    }

    /// The live figures (`stats`) of `instances`, asked concurrently: a figure per instance
    /// that answered, an error message per instance that did not.
    static func stats(of instances: [RegistryInstance], timeout: Duration) async -> InstanceFigures {
        var figures = InstanceFigures()
        await withTaskGroup(of: (String, Result<ServiceStatsSnapshot, any Error>).self) { group in
            var pending = instances[...]
            func startNext() {
                guard let instance = pending.popFirst() else { return }
                group.addTask {
                    do {
                        let value = try await call(instance.info.adminAddress, "stats", timeout: timeout)
                        return (instance.info.uuid, .success(try MessagePackDecoder().decode(ServiceStatsSnapshot.self, from: value)))
                    } catch {
                        return (instance.info.uuid, .failure(error))
                    }
                }
            }
            for _ in 0..<maxConcurrentCalls { startNext() }
            for await (uuid, result) in group {
                switch result {
                case .success(let stats): figures.stats[uuid] = stats
                case .failure(let error as RPCError): figures.errors[uuid] = error.message
                case .failure(let error): figures.errors[uuid] = "\(error)"
                }
                startNext()
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
