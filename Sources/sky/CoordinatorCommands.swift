import ArgumentParser
import MessagePack
import Skynet

/// `sky status`.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the coordinator's status: store, revision, data size, sessions, members, leader.",
        discussion: """
            Examples:
              sky status
              sky status -coordinators=10.0.0.1:8046,10.0.0.2:8046 -json
            """)
    @OptionGroup var global: GlobalOptions

    struct Row: Codable {
        var address: String
        var name: String
        var store: String
        var revision: Int64
        var oldestRevision: Int64
        var files: Int64
        var sessions: Int64
        var watches: Int64
        var dataSize: Int64
        var members: [String]
        var leader: String
    }

    func run() async throws {
        let coordinator = try global.client()
        let status = try await coordinator.status()
        let row = Row(
            address: global.addresses.joined(separator: ","), name: status["name"]?.stringValue ?? "?",
            store: status["store"]?.stringValue ?? "?",
            revision: status["revision"]?.int64Value ?? 0, oldestRevision: status["oldestRevision"]?.int64Value ?? 0,
            files: status["files"]?.int64Value ?? 0, sessions: status["sessions"]?.int64Value ?? 0,
            watches: status["watches"]?.int64Value ?? 0, dataSize: status["dataSize"]?.int64Value ?? 0,
            members: MemberRow.all(status).map(\.name), leader: status["leader"]?.stringValue ?? "?")
        if global.json {
            try Output.json(row)
            return
        }
        Output.table(["FIELD", "VALUE"], [
            ["coordinator", row.address], ["name", row.name], ["store", row.store], ["revision", "\(row.revision)"],
            ["oldest revision", "\(row.oldestRevision)"], ["files", "\(row.files)"], ["sessions", "\(row.sessions)"],
            ["watches", "\(row.watches)"], ["data size", "\(row.dataSize) bytes"], ["members", row.members.joined(separator: ", ")],
            ["leader", row.leader],
        ])
    }
}

/// One member of the coordinator's store, as `sky members` prints it.
struct MemberRow: Codable {
    var name: String
    var id: String
    var clientURLs: [String]
    var leader: Bool
    var raftTerm: UInt64
    var dbSize: Int64
    var healthy: Bool

    /// One member of a `status` answer.
    init(_ member: MessagePackValue) {
        name = member["name"]?.stringValue ?? "?"
        id = member["id"]?.stringValue ?? "?"
        clientURLs = member["clientURLs"]?.arrayValue?.compactMap(\.stringValue) ?? []
        leader = member["leader"] == .bool(true)
        raftTerm = member["raftTerm"]?.uint64Value ?? 0
        dbSize = member["dbSize"]?.int64Value ?? 0
        healthy = member["healthy"] == .bool(true)
    }

    /// The members a `status` answer lists.
    static func all(_ status: MessagePackValue) -> [MemberRow] {
        (status["members"]?.arrayValue ?? []).map(MemberRow.init)
    }
}

/// `sky members`.
struct Members: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the members of the coordinator's store: name, client URLs, leader, Raft term, database size, health.",
        discussion: """
            With the embedded store there is one member, the coordinator itself; over etcd, every etcd member,
            each asked for its own status.

            Examples:
              sky members
              sky members -coordinators=10.0.0.1:8046 -json
            """)
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let rows = MemberRow.all(try await global.client().status())
        if global.json {
            try Output.json(rows)
            return
        }
        Output.table(["NAME", "ID", "CLIENT URLS", "LEADER", "TERM", "DB SIZE", "HEALTH"], rows.map { row in
            [row.name, row.id, row.clientURLs.isEmpty ? "-" : row.clientURLs.joined(separator: ","), row.leader ? "leader" : "",
             "\(row.raftTerm)", "\(row.dbSize) bytes", row.healthy ? "healthy" : "unreachable"]
        })
    }
}
