import ArgumentParser
import Foundation
import MessagePack
import Skynet
import SkynetCLI
import SkynetRPC

/// What happened to one instance an operate command touched.
struct OperationResult: Codable {
    var address: String
    var admin: String
    var service: String
    var version: String
    var region: String
    var host: String
    var ok: Bool
    var result: String?
    var error: String?
}

/// Calls admin `method` on every instance matching `filters`; prints a line per instance and
/// fails (exit 1) when any refused or could not be reached.
func operate(_ global: GlobalOptions, _ filters: InstanceFilters, method: String, params: [MessagePackValue], past: String) async throws {
    let coordinator = try global.client()
    let instances = try await filters.query.findInstances(coordinator)
    var results: [OperationResult] = []
    for info in instances {
        var result = OperationResult(address: info.serviceAddress, admin: info.adminAddress, service: info.name, version: info.version,
                                     region: info.region, host: info.host, ok: false)
        do {
            let answer = try await AdminCalls.call(info.adminAddress, method, params, timeout: global.timeoutDuration, tls: coordinator.configuration.tls, token: coordinator.configuration.token)
            result.ok = true
            result.result = answer.stringValue ?? past
        } catch let error as RPCError {
            result.error = error.message
        } catch {
            result.error = ErrorText.sentence(error)
        }
        results.append(result)
    }
    if global.json {
        try Output.json(results)
    } else if results.isEmpty {
        print("no instance matches")
    } else {
        for r in results {
            let name = "\(r.service) v\(r.version) \(r.address) (\(r.region)/\(r.host))"
            print(r.ok ? "\(name): \(r.result ?? past)" : "\(name): FAILED: \(r.error ?? "unknown error")")
        }
    }
    let failed = results.filter { !$0.ok }
    if !failed.isEmpty {
        throw SkyFailure("\(failed.count) of \(results.count) instances refused \(method): first was \(failed[0].address) (\(failed[0].error ?? ""))")
    }
}

/// `sky register`.
struct Register: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put matching instances back in rotation.",
        discussion: """
            Examples:
              sky register -service=echo -host=host-a
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters
    func run() async throws { try await operate(global, filters, method: "register", params: [], past: "registered") }
}

/// `sky unregister`.
struct Unregister: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take matching instances out of rotation (they keep running).",
        discussion: """
            Examples:
              sky unregister -service=echo -host=host-a
              sky unregister -region=eu -json
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters
    func run() async throws { try await operate(global, filters, method: "unregister", params: [], past: "unregistered") }
}

/// `sky stop`.
struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stop matching instances gracefully (asks first when no filter is given, unless --yes).",
        discussion: """
            Examples:
              sky stop -service=echo -region=eu
              sky stop -yes          (every instance of every service)
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters
    @Flag(help: "Do not ask before stopping every instance.") var yes = false

    func run() async throws {
        if filters.isEmpty && !yes {
            FileHandle.standardError.write(Data("stop every instance of every service? [y/N] ".utf8))
            guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                throw SkyFailure("not stopping: no filter given and not confirmed (use --yes, or filter with --service, --region, ...)")
            }
        }
        try await operate(global, filters, method: "stop", params: [], past: "stopping")
    }
}

/// `sky log-level <level>`.
struct LogLevel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "log-level", abstract: "Set the log level of matching instances.",
        discussion: """
            Examples:
              sky log-level debug -service=echo
              sky log-level info -host=host-a
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var filters: InstanceFilters
    @Argument(help: "trace, debug, info, notice, warning, error or critical") var level: String

    func validate() throws {
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(level) else { throw ValidationError("level must be one of \(levels.joined(separator: ", ")); found \"\(level)\"") }
    }

    func run() async throws { try await operate(global, filters, method: "logLevel", params: [.string(level)], past: level) }
}
