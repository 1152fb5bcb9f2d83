import Foundation

/// A real `skynetd` process on 127.0.0.1, started from the binary built beside the tests.
final class SkynetdProcess: @unchecked Sendable {
    // @unchecked: `process` is created in init and only read afterwards; Process itself
    // is thread-safe for terminate/waitUntilExit/terminationStatus.
    let process: Process
    let port: Int
    let dataDir: String
    let stderrPath: String

    /// The built binary, next to the test bundle (`.build/<triple>/debug/skynetd`).
    static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("skynetd").path
    }

    /// Starts skynetd on `port` (0 = a free one) with `dataDir`, and waits until it serves.
    init(dataDir: String, port: Int = 0, extra: [String] = []) throws {
        let binary = Self.binary
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw SkynetdError("skynetd is not built at \(binary); run `swift build` first")
        }
        self.dataDir = dataDir
        stderrPath = dataDir + ".stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--listen", "127.0.0.1:\(port)", "--data-dir", dataDir, "--log-level", "info"] + extra
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        self.process = process
        // The first stdout line says where it listens; EOF first means it died.
        var line = [UInt8]()
        let handle = stdout.fileHandleForReading
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                throw SkynetdError("skynetd exited (\(process.terminationStatus)) before listening:\n\(log)")
            }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard let colon = text.lastIndex(of: ":"), let bound = Int(text[text.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SkynetdError("unexpected first line from skynetd: \(text)")
        }
        self.port = bound
    }

    var address: String { "127.0.0.1:\(port)" }

    /// Sends `signal` and waits for the process to exit; returns its status.
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

struct SkynetdError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
