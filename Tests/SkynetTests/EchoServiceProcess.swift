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
            stderrPath: logDirectory + "-\(label).stderr.log", marker: "echo-service serving ")
        guard let served = EchoServiceProcess.servedAddress(in: line) else {
            kill(process.processIdentifier, SIGKILL)
            throw SkynetdError("unexpected serving line from echo-service: \(line)")
        }
        address = served
        super.init(process: process)
    }

    /// The address in the example's line "echo-service serving 127.0.0.1:PORT, registered at PATH".
    static func servedAddress(in line: String) -> String? {
        guard let range = line.range(of: "echo-service serving ") else { return nil }
        return line[range.upperBound...].split(separator: " ").first.map { String($0.dropLast($0.hasSuffix(",") ? 1 : 0)) }
    }
}
