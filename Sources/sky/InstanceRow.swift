import Foundation
import MessagePack
import Skynet
import SkynetRPC

/// One instance as `sky` shows it: its registry record, joined (for `instances` and
/// `topology`) with the figures it answers to an admin `stats` call.
struct InstanceRow: Codable {
    var name: String
    var version: String
    var region: String
    var host: String
    var address: String
    var admin: String
    var registered: Bool
    /// Why it is out of rotation (`unregistered`, `unhealthy`, `overloaded`), and the detail.
    var reason: String?
    var pid: Int32
    var uuid: String
    var started: Date
    var uptimeSeconds: Double
    var requests: Int?
    var errors: Int?
    var callsPerSecond: Double?
    var meanLatencyMs: Double?
    var p99LatencyMs: Double?
    /// CPU use over the last second, as a percentage of the machine.
    var cpuPercent: Double?
    var memoryBytes: Int?
    /// Why the figures are missing, when the instance did not answer `stats`.
    var statsError: String?

    /// The instances matching `query`, sorted by region, host, service, version, address;
    /// with `figures`, each one's live figures, asked of all of them concurrently within `timeout`.
    static func load(_ query: Query, _ coordinator: CoordinatorClient, figures: Bool = false, timeout: Duration = .seconds(2)) async throws -> [InstanceRow] {
        let instances = try await query.findInstances(coordinator)
        let stats = figures ? await AdminCalls.stats(of: instances, timeout: timeout, tls: coordinator.configuration.tls) : [:]
        let now = Date()
        func rounded(_ value: Double, _ places: Double = 100) -> Double { (value * places).rounded() / places }
        return instances.map { info in
            var row = InstanceRow(
                name: info.name, version: info.version, region: info.region, host: info.host, address: info.serviceAddress,
                admin: info.adminAddress, registered: info.registered,
                reason: info.outOfRotation.map { "\($0.cause.rawValue): \($0.detail)" }, pid: info.pid, uuid: info.uuid,
                started: info.started, uptimeSeconds: rounded(now.timeIntervalSince(info.started), 10))
            switch stats[info.uuid] {
            case .success(let s)?:
                row.requests = s.requests
                row.errors = s.errors
                row.callsPerSecond = rounded(s.callsPerSecond, 10)
                row.meanLatencyMs = rounded(s.meanLatencyMs)
                row.p99LatencyMs = rounded(s.p99LatencyMs)
                row.cpuPercent = rounded(s.cpu * 100, 10)
                row.memoryBytes = s.memoryBytes
            case .failure(let error)?:
                row.statsError = (error as? RPCError)?.message ?? "\(error)"
            case nil:
                break
            }
            return row
        }.sorted { ($0.region, $0.host, $0.name, $0.version, $0.address) < ($1.region, $1.host, $1.name, $1.version, $1.address) }
    }

    /// The columns of the human table.
    var cells: [String] {
        [name, version, region, host, address, registered ? "yes" : "no", Output.age(uptimeSeconds),
         requests.map(String.init) ?? "-", callsPerSecond.map { String(format: "%.1f", $0) } ?? "-",
         meanLatencyMs.map { String(format: "%.2f", $0) } ?? "-", p99LatencyMs.map { String(format: "%.2f", $0) } ?? "-",
         cpuPercent.map { String(format: "%.1f", $0) } ?? "-", reason ?? statsError.map { "no figures: \($0)" } ?? ""]
    }

    static let headers = ["SERVICE", "VERSION", "REGION", "HOST", "ADDRESS", "REGISTERED", "UPTIME", "REQUESTS", "CALLS/S", "MEAN_MS", "P99_MS", "CPU%", "REASON"]

    /// The instance's one-line summary in `sky topology`.
    var summary: String {
        var parts = [address, registered ? "registered" : "UNREGISTERED", "up \(Output.age(uptimeSeconds))"]
        if let requests, let callsPerSecond, let meanLatencyMs, let p99LatencyMs, let cpuPercent {
            parts += ["\(requests) req", String(format: "%.1f/s", callsPerSecond), String(format: "mean %.2f ms", meanLatencyMs),
                      String(format: "p99 %.2f ms", p99LatencyMs), String(format: "cpu %.1f%%", cpuPercent)]
        } else if let statsError {
            parts.append("(no figures: \(statsError))")
        }
        if let reason { parts.append("[\(reason)]") }
        return parts.joined(separator: "  ")
    }
}
