import Foundation

/// A real `echo-service` process (the example), registered with the coordinator at `coordinator`.
final class EchoServiceProcess: @unchecked Sendable {
    // @unchecked: every stored property is set in init and never changed; Process itself
    // is thread-safe for kill/waitUntilExit.
    let process: Process
    /// Where it serves, `127.0.0.1:PORT`.
    let address: String

    init(coordinator: String, logDirectory: String, label: String, extra: [String] = []) throws {
        let (process, line) = try SkynetdProcess.launch(
            SkynetdProcess.builtBinary("echo-service"),
            ["-coordinators", coordinator, "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"] + extra,
            stderrPath: logDirectory + "-\(label).stderr.log")
        self.process = process
        // "echo-service serving 127.0.0.1:PORT, registered at PATH"
        guard let served = line.split(separator: " ").dropFirst(2).first?.trimmingCharacters(in: CharacterSet(charactersIn: ",")) else {
            throw SkynetdError("unexpected first line from echo-service: \(line)")
        }
        address = served
    }

    /// Sends `signal` and waits for the exit; returns the status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}
