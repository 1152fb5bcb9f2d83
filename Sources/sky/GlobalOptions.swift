import ArgumentParser
import Foundation
import Logging
import Skynet
import SkynetRPC

/// Options every `sky` command takes.
struct GlobalOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Coordinator addresses (default: $SKYNET_COORDINATORS, else 127.0.0.1:8046).", valueName: "host:port,..."))
    var coordinators: String?

    @Flag(help: "Machine-readable JSON output.")
    var json = false

    @Option(help: "Seconds to wait for the coordinator and for each instance.")
    var timeout: Double = 3

    @Option(help: ArgumentHelp("CA certificate (PEM) the coordinator's and instances' certificates must chain to; given, sky talks TLS (default: $SKYNET_TLS_CA).", valueName: "file"))
    var tlsCa: String?

    @Option(help: ArgumentHelp("Certificate (PEM) sky shows to servers that require one (default: $SKYNET_TLS_CERT).", valueName: "file"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("That certificate's private key (PEM) (default: $SKYNET_TLS_KEY).", valueName: "file"))
    var tlsKey: String?

    @Option(help: ArgumentHelp("The token sky presents to a coordinator with auth on, or @FILE to read it from (default: $SKYNET_TOKEN).", valueName: "token|@file"))
    var token: String?

    func validate() throws {
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds, found \(timeout)") }
        if let coordinators, coordinators.split(separator: ",").contains(where: { HostPort(String($0).trimmingCharacters(in: .whitespaces)) == nil }) {
            throw ValidationError("--coordinators must be host:port[,host:port...], found \"\(coordinators)\"")
        }
        do {
            _ = try tls()
            _ = try resolvedToken()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The token from the flag (or its file), else `SKYNET_TOKEN`; nil: anonymous.
    func resolvedToken() throws(ServiceConfigError) -> String? {
        let picked = token.map { ($0, "--token") } ?? ProcessInfo.processInfo.environment["SKYNET_TOKEN"].flatMap { $0.isEmpty ? nil : ($0, "SKYNET_TOKEN") }
        return try TokenFlag.token(picked)
    }

    /// TLS from the flags, else `SKYNET_TLS_*`; nil: plain TCP. Reads the files.
    func tls() throws(ServiceConfigError) -> RPCTLS? {
        let given = ["tls-ca": tlsCa, "tls-cert": tlsCert, "tls-key": tlsKey].compactMapValues { $0 }
        return try TLSFlags.tls(given, environment: ProcessInfo.processInfo.environment, current: nil)
    }

    /// The coordinator addresses to use.
    var addresses: [String] {
        let list = coordinators ?? ProcessInfo.processInfo.environment["SKYNET_COORDINATORS"] ?? "127.0.0.1:8046"
        return list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    var timeoutDuration: Duration { .milliseconds(Int(timeout * 1000)) }

    /// A coordinator client for this invocation (quiet: errors are reported by `sky`). It is
    /// not closed: `sky` exits as soon as the command returns, which closes the connection.
    func client() throws -> CoordinatorClient {
        var logger = Logger(label: "sky")
        logger.logLevel = .critical
        return CoordinatorClient(
            configuration: .init(addresses: addresses, callTimeout: timeoutDuration, connectTimeout: timeoutDuration, failFast: true, tls: try tls(), token: try resolvedToken()),
            logger: logger)
    }
}

/// The instance filters of the look and operate commands.
struct InstanceFilters: ParsableArguments {
    @Option(help: "Only this service.") var service: String?
    @Option(help: "Only this version.") var version: String?
    @Option(help: "Only this region.") var region: String?
    @Option(help: "Only this host.") var host: String?
    @Option(help: ArgumentHelp("Only instances in (true) or out of (false) rotation.", valueName: "true|false"))
    var registered: Bool?

    var query: Query { Query(service: service, version: version, region: region, host: host, registered: registered) }

    var isEmpty: Bool { service == nil && version == nil && region == nil && host == nil && registered == nil }
}
