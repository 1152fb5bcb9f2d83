import ArgumentParser
import Skynet

/// `sky instances`: every matching instance with its load figures.
struct Instances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List instances (address, registered and why not, uptime, and the figures each one answers: requests, calls/s, mean and p99 latency, CPU).",
        discussion: """
            Examples:
              sky instances -service=echo
              sky instances -registered=false
              sky instances -region eu -json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    @Flag(help: "From the registry alone, without asking each instance for its figures.")
    var noFigures = false

    func run() async throws {
        let coordinator = try global.client()
        let rows = try await InstanceRow.load(filters.query, coordinator, figures: !noFigures, timeout: global.timeoutDuration)
        if global.json { try Output.json(rows) } else { Output.table(InstanceRow.headers, rows.map(\.cells)) }
    }
}

/// A grouping of instances: one row per distinct key, with counts.
struct GroupRow: Codable {
    var name: String
    var instances: Int
    var registered: Int
    var regions: [String]
    var hosts: [String]
    var services: [String]
    var versions: [String]

    static func group(_ rows: [InstanceRow], by key: (InstanceRow) -> String) -> [GroupRow] {
        Dictionary(grouping: rows, by: key).map { name, members in
            GroupRow(
                name: name, instances: members.count, registered: members.filter(\.registered).count,
                regions: Set(members.map(\.region)).sorted(), hosts: Set(members.map(\.host)).sorted(),
                services: Set(members.map(\.name)).sorted(), versions: Set(members.map(\.version)).sorted())
        }.sorted { $0.name < $1.name }
    }
}

/// Shared body of `services`, `hosts`, `regions` and `service-versions`.
func runGrouped(_ global: GlobalOptions, _ filters: InstanceFilters, title: String, key: @escaping (InstanceRow) -> String, columns: [String], cells: @escaping (GroupRow) -> [String]) async throws {
    let coordinator = try global.client()
    let groups = GroupRow.group(try await InstanceRow.load(filters.query, coordinator), by: key)
    if global.json { try Output.json(groups) } else { Output.table([title] + columns, groups.map { [$0.name] + cells($0) }) }
}

/// `sky services`.
struct Services: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List services with their versions, regions and instance counts.",
        discussion: """
            Examples:
              sky services
              sky services -region=us
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    func run() async throws {
        try await runGrouped(global, filters, title: "SERVICE", key: \.name, columns: ["VERSIONS", "REGIONS", "INSTANCES", "REGISTERED"]) {
            [$0.versions.joined(separator: ","), $0.regions.joined(separator: ","), "\($0.instances)", "\($0.registered)"]
        }
    }
}

/// `sky hosts`.
struct Hosts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List hosts with their regions, services and instance counts.",
        discussion: """
            Examples:
              sky hosts
              sky hosts -service=echo
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    func run() async throws {
        try await runGrouped(global, filters, title: "HOST", key: \.host, columns: ["REGIONS", "SERVICES", "INSTANCES"]) {
            [$0.regions.joined(separator: ","), $0.services.joined(separator: ","), "\($0.instances)"]
        }
    }
}

/// `sky regions`.
struct Regions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List regions with their hosts, services and instance counts.",
        discussion: """
            Examples:
              sky regions
              sky regions -service=echo -json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    func run() async throws {
        try await runGrouped(global, filters, title: "REGION", key: \.region, columns: ["HOSTS", "SERVICES", "INSTANCES"]) {
            ["\($0.hosts.count)", $0.services.joined(separator: ","), "\($0.instances)"]
        }
    }
}

/// `sky service-versions` (alias `versions`).
struct ServiceVersions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-versions", abstract: "List service versions with their instance counts.",
        discussion: """
            Examples:
              sky service-versions
              sky versions -service=echo
            """,
        aliases: ["versions"])
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    func run() async throws {
        try await runGrouped(global, filters, title: "SERVICE/VERSION", key: { "\($0.name)/\($0.version)" }, columns: ["REGIONS", "INSTANCES", "REGISTERED"]) {
            [$0.regions.joined(separator: ","), "\($0.instances)", "\($0.registered)"]
        }
    }
}
