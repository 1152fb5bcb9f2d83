import Foundation
import Skynet

// Finds the echo service through the registry and calls it. SKYNET_COORDINATORS says
// where the coordinator is (default 127.0.0.1:8046).

let client = Client(config: .fromEnvironment(ProcessInfo.processInfo.environment))
let echo = client.service(name: "echo")
print("echo   -> \(try await echo.send("echo", "I'm connected!!", returning: String.self))")
print("upcase -> \(try await echo.send("upcase", "I'm connected!!", returning: String.self))")
await client.close()
