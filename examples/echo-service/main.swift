import Foundation
import Logging
import ServiceLifecycle
import Skynet
import SkynetRPC

// An echo service: implement ServiceProtocol, call start. Configure it with the seed's
// flags (-name -version -region -host -l -admin -coordinators) or SKYNET_* variables.

struct Echo: ServiceProtocol {
    func registerMethods(_ router: inout RPCRouter) {
        router.register("echo") { (text: String) in text }
        router.register("upcase") { (text: String) in text.uppercased() }
    }
}

LoggingSystem.bootstrap { label in
    var handler = StreamLogHandler.standardError(label: label)
    handler.logLevel = .info
    return handler
}
let config: ServiceConfig
do {
    config = try ServiceConfig(name: "echo", version: "1", region: "us", logger: Logger(label: "echo-service"))
        .overriding(environment: ProcessInfo.processInfo.environment, arguments: Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("echo-service: \(error)\n".utf8))
    exit(2)
}
let service = Skynet.Service(config: config, delegate: Echo())
let info = try await service.start()
FileHandle.standardOutput.write(Data("echo-service serving \(info.serviceAddress), registered at \(info.path ?? "?")\n".utf8))
// SIGTERM/SIGINT, or an admin `stop` (sky stop), end the service and then the process, with status 0.
try await ServiceGroup(configuration: ServiceGroupConfiguration(
    services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
    gracefulShutdownSignals: [.sigterm, .sigint], logger: config.logger)).run()
