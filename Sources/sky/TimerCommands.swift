import ArgumentParser
import Foundation
import Logging
import MessagePack
import Skynet
import SkynetTimer

/// `sky timer ...`: the timer service (`skynet.timer`) over RPC, routed by the timer's shard.
struct TimerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timer", abstract: "Create, read, cancel and list timers of the timer service.",
        discussion: """
            Examples:
              sky timer create -delay=5000 -uri=http://127.0.0.1:8080/hook -data=hello
              sky timer create -delay=60000 -service=billing -call=expire -data=order-42
              sky timer get 0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3c
              sky timer list -failed
            """,
        subcommands: [TimerCreate.self, TimerGet.self, TimerCancel.self, TimerList.self])
}

/// A timer as `sky` prints it in JSON.
struct TimerRow: Codable {
    var id: String
    var due: Date
    var state: String
    var attempts: Int
    var retries: Int
    var callback: String
    var data: String
    var lastError: String?

    init(_ record: TimerRecord) {
        id = record.idText
        due = Date(timeIntervalSince1970: Double(record.due) / 1000)
        state = record.state.rawValue
        attempts = record.attempts
        retries = record.spec.retries
        switch record.spec.callback {
        case .http(let method, let uri): callback = "\(method) \(uri)"
        case .skynet(let service, let version, let method): callback = "skynet \(service)\(version.map { "@\($0)" } ?? "").\(method)"
        }
        data = String(decoding: record.spec.data, as: UTF8.self)
        lastError = record.lastError
    }

    static func print(_ records: [TimerRecord], json: Bool) throws {
        let rows = records.map(TimerRow.init)
        if json { return try Output.json(rows) }
        Output.table(["ID", "DUE", "STATE", "ATTEMPTS", "CALLBACK", "LAST ERROR"], rows.map {
            [$0.id, ISO8601DateFormatter().string(from: $0.due), $0.state, "\($0.attempts)/\($0.retries + 1)", $0.callback, $0.lastError ?? ""]
        })
    }
}

extension GlobalOptions {
    /// Calls `method` on the timer service; `key` routes to the shard's holder.
    func timerCall(_ method: String, _ params: [MessagePackValue], key: String?) async throws -> MessagePackValue {
        var logger = Logger(label: "sky")
        logger.logLevel = .critical
        var config = ClientConfig()
        config.coordinators = addresses
        config.timeout = timeoutDuration
        config.tls = try tls()
        let client = Client(config: config, logger: logger)
        return try await client.service(name: TimerServer.serviceName).sendRaw(method, params, key: key, timeout: timeoutDuration, idempotent: method == "get" || method == "list", retries: true)
    }

    func timerRecord(_ value: MessagePackValue) throws -> TimerRecord {
        guard let record = TimerRecord(wire: value) else { throw SkyFailure("the timer service answered something that is not a timer") }
        return record
    }
}

/// `sky timer create`.
struct TimerCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a timer: after -delay ms, call -uri over HTTP, or -call on -service.",
        discussion: """
            Examples:
              sky timer create -delay=5000 -uri=http://127.0.0.1:8080/hook -data=hello
              sky timer create -delay=5000 -uri=http://127.0.0.1:8080/hook -method=put -retries=2
              sky timer create -delay=60000 -service=billing -call=expire -data=order-42
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "Milliseconds until it fires, 1 ... 2147483647 (the API's `timeout`; -timeout is how long sky waits).") var delay: Int64
    @Option(help: "HTTP callback URL (http:// or https://).") var uri: String?
    @Option(help: "HTTP method of the callback.") var method = "post"
    @Option(help: "Skynet service to call instead of a URL.") var service: String?
    @Option(help: "Version of that service (default: any).") var serviceVersion: String?
    @Option(help: "Method to call on that service.") var call: String?
    @Option(help: "The callback's body (HTTP) or argument (Skynet).") var data = ""
    @Option(help: "Attempts after the first before the timer is kept as failed.") var retries: Int?

    func run() async throws {
        var callback: [(key: MessagePackValue, value: MessagePackValue)]
        switch (uri, service) {
        case (let uri?, nil): callback = [("transport", "http"), ("uri", .string(uri)), ("method", .string(method))]
        case (nil, let service?):
            callback = [("transport", "skynet"), ("service", .string(service)), ("method", .string(call ?? ""))]
            if let serviceVersion { callback.append(("version", .string(serviceVersion))) }
        default: throw ValidationError("give either -uri (an HTTP callback) or -service with -call (a Skynet call)")
        }
        var body: [(key: MessagePackValue, value: MessagePackValue)] = [("timeout", .int(delay)), ("data", .string(data)), ("callback", .map(callback))]
        if let retries { body.append(("retries", .int(Int64(retries)))) }
        // Refused here with the service's own words, before any network call.
        do { _ = try TimerSpecParser.parse(.map(body)) } catch { throw ValidationError(error.reason) }
        let id = UUID()
        let answer = try await global.timerCall("create", [.map(body), .string(id.lowercasedText)], key: TimerShards.key(TimerShards.shard(of: id)))
        let record = try global.timerRecord(answer)
        if global.json { try Output.json(TimerRow(record)) } else { print(record.idText) }
    }
}

/// `sky timer get <id>`.
struct TimerGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Show a timer: due time, state, attempts, callback, last error.",
        discussion: """
            Examples:
              sky timer get 0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3c
              sky timer get 0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3c -json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The timer's id.") var id: String

    func run() async throws {
        let answer = try await global.timerCall("get", [.string(id)], key: TimerCommandSupport.key(id))
        try TimerRow.print([try global.timerRecord(answer)], json: global.json)
    }
}

/// `sky timer cancel <id>`.
struct TimerCancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel", abstract: "Cancel a timer (it never fires).",
        discussion: """
            Examples:
              sky timer cancel 0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3c
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The timer's id.") var id: String

    func run() async throws {
        _ = try await global.timerCall("cancel", [.string(id)], key: TimerCommandSupport.key(id))
        if global.json { try Output.json(["cancelled": id]) } else { print("cancelled \(id)") }
    }
}

/// `sky timer list [-failed]`.
struct TimerList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List timers by id, a page at a time; -failed for the ones whose retries ran out.",
        discussion: """
            Examples:
              sky timer list
              sky timer list -failed -json
              sky timer list -limit=50 -after=0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3c
            """)
    @OptionGroup var global: GlobalOptions
    @Flag(help: "Only timers kept as failed.") var failed = false
    @Option(help: "Most timers to list (1 ... 1000).") var limit = 100
    @Option(help: "List after this id (the last of the previous page).") var after: String?

    func run() async throws {
        var options: [(key: MessagePackValue, value: MessagePackValue)] = [("limit", .int(Int64(limit)))]
        if failed { options.append(("state", "failed")) }
        if let after { options.append(("after", .string(after))) }
        let answer = try await global.timerCall("list", [.map(options)], key: nil)
        let records = try (answer["timers"]?.arrayValue ?? []).map { try global.timerRecord($0) }
        try TimerRow.print(records, json: global.json)
    }
}

enum TimerCommandSupport {
    /// The ring key of `id`'s shard; `nil` for text that is not an id (any instance answers NotFound).
    static func key(_ id: String) -> String? {
        UUID(text: id).map { TimerShards.key(TimerShards.shard(of: $0)) }
    }
}
