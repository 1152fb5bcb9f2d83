// SkynetRPC on its own: a MessagePack-RPC server and a connection, no coordinator.
import SkynetRPC

var router = RPCRouter()
router.register("add") { (a: Int, b: Int) in a + b }           // positional, typed params
router.register("whoami") { (ctx: RPCCallContext) in ctx.metadata?.caller ?? "anonymous" }

let server = RPCServer(configuration: .init(host: "127.0.0.1", port: 0), router: router)
let address = try await server.start()                           // port 0: a free port

let connection = try await RPCConnection.connect(host: "127.0.0.1", port: address.port!)
let sum = try await connection.call("add", 2, 40, returning: Int.self)   // 42
await connection.close()
await server.shutdown()
print(sum)
