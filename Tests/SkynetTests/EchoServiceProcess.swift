import Foundation

/// A real `echo-service` process (the example), registered with the coordinator at `coordinator`.
final class EchoServiceProcess: TestChildProcess, @unchecked Sendable {
    // @unchecked: every stored property is set in init and never changed (see TestChildProcess).
    /// Where it serves, `127.0.0.1:PORT`.
    let address: String

    init(coordinator: String, logDirectory: String, label: String, extra: [String] = []) throws {
        let (process, line) = try SkynetdProcess.launch(
            SkynetdProcess.builtBinary("echo-service"),
            ["-coordinators", coordinator, "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"] + extra,
            stderrPath: logDirectory + "-\(label).stderr.log")
        // "echo-service serving 127.0.0.1:PORT, registered at PATH"
        guard let served = line.split(separator: " ").dropFirst(2).first?.trimmingCharacters(in: CharacterSet(charactersIn: ",")) else {
            kill(process.processIdentifier, SIGKILL)
            throw SkynetdError("unexpected first line from echo-service: \(line)")
        }
        address = served
        super.init(process: process)
    }
}
