import ArgumentParser
import Skynet

/// `sky topology`: region -> host -> service -> version -> instance, drawn as a tree.
struct Topology: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the topology: region > host > service > version > instance, with each instance's live figures.",
        discussion: """
            Examples:
              sky topology
              sky topology -region=us
              sky topology -service echo -json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters

    @Flag(help: "From the registry alone, without asking each instance for its figures.")
    var noFigures = false

    struct Region: Codable { var region: String; var hosts: [Host] }
    struct Host: Codable { var host: String; var services: [Service] }
    struct Service: Codable { var service: String; var versions: [Version] }
    struct Version: Codable { var version: String; var instances: [InstanceRow] }

    func run() async throws {
        let coordinator = try global.client()
        let rows = try await InstanceRow.load(filters.query, coordinator, figures: !noFigures, timeout: global.timeoutDuration)
        let tree = Self.build(rows)
        if global.json {
            try Output.json(["regions": tree])
            return
        }
        guard !tree.isEmpty else {
            print("(no instances)")
            return
        }
        var out = ""
        for (ri, region) in tree.enumerated() {
            out += "\(region.region)\n"
            draw(region.hosts, last: ri == tree.count - 1, prefix: "", into: &out)
        }
        print(out, terminator: "")
    }

    private func draw(_ hosts: [Host], last _: Bool, prefix: String, into out: inout String) {
        for (hi, host) in hosts.enumerated() {
            let hostLast = hi == hosts.count - 1
            out += prefix + (hostLast ? "└── " : "├── ") + host.host + "\n"
            let hostPrefix = prefix + (hostLast ? "    " : "│   ")
            for (si, service) in host.services.enumerated() {
                let serviceLast = si == host.services.count - 1
                out += hostPrefix + (serviceLast ? "└── " : "├── ") + service.service + "\n"
                let servicePrefix = hostPrefix + (serviceLast ? "    " : "│   ")
                for (vi, version) in service.versions.enumerated() {
                    let versionLast = vi == service.versions.count - 1
                    out += servicePrefix + (versionLast ? "└── " : "├── ") + "v" + version.version + "\n"
                    let versionPrefix = servicePrefix + (versionLast ? "    " : "│   ")
                    for (ii, instance) in version.instances.enumerated() {
                        let mark = ii == version.instances.count - 1 ? "└── " : "├── "
                        out += versionPrefix + mark + instance.summary + "\n"
                    }
                }
            }
        }
    }

    static func build(_ rows: [InstanceRow]) -> [Region] {
        Dictionary(grouping: rows, by: \.region).sorted { $0.key < $1.key }.map { region, inRegion in
            Region(region: region, hosts: Dictionary(grouping: inRegion, by: \.host).sorted { $0.key < $1.key }.map { host, onHost in
                Host(host: host, services: Dictionary(grouping: onHost, by: \.name).sorted { $0.key < $1.key }.map { name, ofService in
                    Service(service: name, versions: Dictionary(grouping: ofService, by: \.version).sorted { $0.key < $1.key }.map {
                        Version(version: $0.key, instances: $0.value.sorted { $0.address < $1.address })
                    })
                })
            })
        }
    }
}
