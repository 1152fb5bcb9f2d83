import Foundation

/// A `skynetd` started by a benchmark: the release binary beside `sky-bench`, a fresh data
/// directory, 127.0.0.1 with a free port; stopped (and its directory removed) by `stop()`.
final class DaemonProcess {
    let process: Process
    let port: Int
    let dataDir: String

    init(extra: [String] = []) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("skynetd").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("skynetd is not built beside sky-bench at \(binary); run `swift build -c release` (make bench does)")
        }
        dataDir = NSTemporaryDirectory() + "sky-bench-\(UUID().uuidString.prefix(8))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--listen", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warning"] + extra
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        self.process = process
        var line = [UInt8]()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { throw BenchError("skynetd exited before listening") }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = text.split(separator: ":").last.flatMap({ Int($0) }) else { throw BenchError("unexpected skynetd output: \(text)") }
        self.port = port
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Resident memory of the daemon, in MiB, from /proc.
    func residentMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = line.split(separator: " ").compactMap({ Double($0) }).first else { return -1 }
        return kib / 1024
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
