import Foundation
import Logging
import MessagePack
import Skynet
import SkynetRPC

// The platform end to end, on the pieces built so far: a service registers itself in the
// coordinator under an ephemeral file, a client finds it there and calls it, and when the
// service's session closes its entry vanishes and a watcher sees it go.
// Needs a running coordinator: `skynetd --dev` (make run starts one), or SKYNET_COORDINATORS.

struct Registration: Codable {
    var name, version, region, host, address: String
}

var logger = Logger(label: "registry-demo")
logger.logLevel = .warning
let coordinator = CoordinatorClient(configuration: .fromEnvironment(ProcessInfo.processInfo.environment), logger: logger)

// The service: MessagePack-RPC methods on a free port, registered with a session.
var router = RPCRouter()
router.register("echo") { (text: String) in text }
router.register("upcase") { (text: String) in text.uppercased() }
let server = RPCServer(router: router, logger: logger)
let port = try await server.start().port!
let session = try await coordinator.openSession(ttl: .seconds(5))
let registration = Registration(name: "echo", version: "1", region: "local", host: "127.0.0.1", address: "127.0.0.1:\(port)")
let path = "/skynet/services/echo/1/local/127.0.0.1/\(port)"
let rev = try await coordinator.set(path, try MessagePackEncoder().encode(registration), session: session.id)
print("registered   \(path) (rev \(rev))")

// The client: finds an echo instance in the tree and calls it.
guard let entry = try await coordinator.walk("/skynet/services/echo/*/*/*/*").first(where: { $0.path.string == path }) else {
    fatalError("the registration is not in the tree")
}
let found = try MessagePackDecoder().decode(Registration.self, from: entry.value)
print("found        \(found.name) v\(found.version) at \(found.address)")
let connection = try await RPCConnection.connect(host: found.host, port: Int(found.address.split(separator: ":").last!)!)
print("echo   -> \(try await connection.call("echo", "I'm connected!!", returning: String.self))")
print("upcase -> \(try await connection.call("upcase", "I'm connected!!", returning: String.self))")
await connection.close()

// The service stops: closing its session deletes its entry, and watchers see it at once.
let watch = coordinator.watch("/skynet/services/**", fromRev: rev + 1)
try await session.close()
for try await update in watch {
    if let gone = update.events.first(where: { $0.kind == .delete }) {
        print("unregistered \(gone.path) (rev \(gone.rev), session closed)")
        break
    }
}
await server.shutdown()
await coordinator.close()
