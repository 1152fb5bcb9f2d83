import Foundation
import Skynet

// -coordinators -region -host -timeout (or SKYNET_* variables); -help lists them.
let client = Client(config: .commandLine())
let echo = client.service(name: "echo")            // version:, region:, host: narrow it
do {
    print("echo   -> " + (try await echo.send("echo", "I'm connected!!", returning: String.self)))
    print("upcase -> " + (try await echo.send("upcase", "I'm connected!!", returning: String.self)))
    print("sticky -> " + (try await echo.send("echo", "user-42", returning: String.self, key: "user-42")))   // same key, same instance
} catch {
    print("echo failed: \(error)")                  // NoInstances, DeadlineExceeded, ... and why
    exit(1)
}
await client.close()
