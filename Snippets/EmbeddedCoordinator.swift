// A coordinator inside your own process: the durable tree served over MessagePack-RPC, as
// `skynetd` does. Useful in tests; run `skynetd` for anything else.
import Foundation
import Logging
import SkynetCoordinator

let directory = NSTemporaryDirectory() + "skynet-embedded-\(getpid())"
let logger = Logger(label: "coordinator")
let node = try CoordinatorNode.open(configuration: .init(name: "embedded", dataDirectory: directory), logger: logger)
let server = CoordinatorServer(node: node, host: "127.0.0.1", port: 0, logger: logger)
let address = try await server.start()                           // port 0: a free port
print("coordinator on 127.0.0.1:\(address.port!)")
await server.shutdown()                                          // drains calls, closes the log
try FileManager.default.removeItem(atPath: directory)
