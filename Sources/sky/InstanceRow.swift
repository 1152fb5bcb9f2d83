import Foundation
import MessagePack
import Skynet

/// One instance as `sky` shows it: its registry record joined with its load figures.
struct InstanceRow: Codable {
    var name: String
    var version: String
    var region: String
    var host: String
    var address: String
    var admin: String
    var registered: Bool
    var pid: Int32
    var uuid: String
    var started: Date
    var uptimeSeconds: Double
    var requests: Int?
    var errors: Int?
    var meanLatencyMs: Double?

    /// The instances matching `query`, with their stats when published, sorted by region,
    /// host, service, version, address.
    static func load(_ query: Query, _ coordinator: CoordinatorClient) async throws -> [InstanceRow] {
        let instances = try await query.findInstances(coordinator)
        let stats = try await coordinator.walk("/skynet/stats/**")
        var byPath: [String: ServiceStatsSnapshot] = [:]
        let decoder = MessagePackDecoder()
        for file in stats {
            byPath[String(file.path.string.dropFirst("/skynet/stats".count))] = try? decoder.decode(ServiceStatsSnapshot.self, from: file.value)
        }
        let now = Date()
        return instances.map { info in
            let suffix = info.path.map { String($0.dropFirst(ServicePath.root.count)) } ?? ""
            let stat = byPath[suffix]
            return InstanceRow(
                name: info.name, version: info.version, region: info.region, host: info.host, address: info.serviceAddress,
                admin: info.adminAddress, registered: info.registered, pid: info.pid, uuid: info.uuid, started: info.started,
                uptimeSeconds: (now.timeIntervalSince(info.started) * 10).rounded() / 10, requests: stat?.requests, errors: stat?.errors,
                meanLatencyMs: stat.map { ($0.meanLatencyMs * 100).rounded() / 100 })
        }.sorted { ($0.region, $0.host, $0.name, $0.version, $0.address) < ($1.region, $1.host, $1.name, $1.version, $1.address) }
    }

    /// The columns of the human table.
    var cells: [String] {
        [name, version, region, host, address, registered ? "yes" : "no", Output.age(uptimeSeconds),
         requests.map(String.init) ?? "-", meanLatencyMs.map { String(format: "%.2f", $0) } ?? "-"]
    }

    static let headers = ["SERVICE", "VERSION", "REGION", "HOST", "ADDRESS", "REGISTERED", "UPTIME", "REQUESTS", "MEAN_MS"]
}
