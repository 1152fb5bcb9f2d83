import MessagePack
import SkynetRPC

/// Calls on instances' admin ports, as `sky` and the dashboard make them: one short
/// connection per call, with a deadline over connecting and answering, so an instance that
/// hangs costs its caller a slow cell, not a stuck view.
package enum AdminCalls {
    /// Calls `method` on the admin port at `address`, within `timeout`, presenting `token`
    /// first (`auth`) when given.
    package static func call(_ address: String, _ method: String, _ params: [MessagePackValue] = [], timeout: Duration, tls: RPCTLS? = nil, token: String? = nil) async throws -> MessagePackValue {
        guard let target = HostPort(address) else { throw RPCError(.badRequest, "bad admin address \(address)") }
        let connection = try await RPCConnection.connect(host: target.host, port: target.port, configuration: .init(connectTimeout: timeout, tls: tls))
        do {
            if let token { _ = try await connection.call("auth", [.string(token)], timeout: timeout) }
            let answer = try await connection.call(method, params, timeout: timeout)
            await connection.close()
            return answer
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The figures (`stats`) of `instances` by uuid, asked at most `concurrency` at a time:
    /// a snapshot for each instance that answered, the error for each that did not.
    package static func stats(of instances: [ServiceInfo], timeout: Duration, tls: RPCTLS? = nil, concurrency: Int = 32) async -> [String: Result<ServiceStatsSnapshot, any Error>] {
        var results: [String: Result<ServiceStatsSnapshot, any Error>] = [:]
        await withTaskGroup(of: (String, Result<ServiceStatsSnapshot, any Error>).self) { group in
            var pending = instances[...]
            func startNext() {
                guard let info = pending.popFirst() else { return }
                group.addTask {
                    do {
                        let value = try await call(info.adminAddress, "stats", timeout: timeout, tls: tls)
                        return (info.uuid, .success(try MessagePackDecoder().decode(ServiceStatsSnapshot.self, from: value)))
                    } catch {
                        return (info.uuid, .failure(error))
                    }
                }
            }
            for _ in 0..<max(1, concurrency) { startNext() }
            for await (uuid, result) in group {
                results[uuid] = result
                startNext()
            }
        }
        return results
    }
}
