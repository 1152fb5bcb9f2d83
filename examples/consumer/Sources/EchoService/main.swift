import Skynet
import SkynetRPC

struct Echo: ServiceProtocol {
    func registerMethods(_ router: inout RPCRouter) {
        router.register("echo") { (text: String) in text }
        router.register("upcase") { (text: String) in text.uppercased() }
    }
}

// Flags (-name -version -region -host -l -admin -coordinators) over SKYNET_* variables over
// these defaults; -help lists them. start binds, registers and serves until SIGINT/SIGTERM
// or `sky stop`, then leaves rotation, drains and returns.
let config = ServiceConfig.commandLine(name: "echo", version: "1", region: "us")
try await Service(config: config, delegate: Echo()).start { info in
    print("echo-service serving \(info.serviceAddress), registered at \(info.path ?? "")")
}
