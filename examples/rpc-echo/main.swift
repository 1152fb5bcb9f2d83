import Logging
import SkynetRPC

// A MessagePack-RPC echo service and a client calling it, both on 127.0.0.1.
// Until the coordinator and the registry land, this is the whole stack end to end.

var router = RPCRouter()
router.register("echo") { (text: String) in text }
router.register("upcase") { (text: String) in text.uppercased() }

let server = RPCServer(router: router, logger: Logger(label: "rpc-echo.server"))
let address = try await server.start()
let port = address.port!

let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
let reply = try await connection.call("echo", "I'm connected!!", returning: String.self)
let shout = try await connection.call("upcase", "I'm connected!!", returning: String.self)
print("echo   -> \(reply)")
print("upcase -> \(shout)")
await connection.close()
await server.shutdown()
