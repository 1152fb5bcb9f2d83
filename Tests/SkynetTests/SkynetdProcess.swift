import Foundation

/// A real `skynetd` process on 127.0.0.1, started from the binary built beside the tests.
final class SkynetdProcess: TestChildProcess, @unchecked Sendable {
    // @unchecked: every stored property is set in init and never changed (see TestChildProcess).
    let port: Int
    let dataDir: String
    let stderrPath: String
    /// The timer service's HTTP port, when started with `timer: true`.
    let httpPort: Int?

    /// A binary built beside the tests (`.build/<triple>/debug/NAME`).
    static func builtBinary(_ name: String) -> String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent(name).path
    }

    /// Starts `binary` with `arguments`, stderr to `stderrPath`, and returns the process and
    /// the first stdout line containing `marker` (EOF first means it died: the error carries
    /// its log). Later output is drained into `stderrPath + ".out"`, so a chatty child never
    /// blocks on a full pipe.
    static func launch(_ binary: String, _ arguments: [String], stderrPath: String, marker: String = "") throws -> (Process, String) {
        let (process, line, _) = try launchSeeing(binary, arguments, stderrPath: stderrPath, marker: marker)
        return (process, line)
    }

    /// `launch`, also returning every stdout line read up to the marker's.
    static func launchSeeing(_ binary: String, _ arguments: [String], stderrPath: String, marker: String = "") throws -> (Process, String, [String]) {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw SkynetdError("\(binary) is not built; run `swift build` first")
        }
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
        let handle = stdout.fileHandleForReading
        var pending = [UInt8]()
        var seen: [String] = []
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                seen.append(line)
                if line.contains(marker) { break }
                continue
            }
            let chunk = handle.availableData
            if chunk.isEmpty {
                process.waitUntilExit()
                let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                throw SkynetdError("\(URL(fileURLWithPath: binary).lastPathComponent) exited (\(process.terminationStatus)) before serving:\n\(seen.joined(separator: "\n"))\n\(log)")
            }
            pending += chunk
        }
        drain(handle, into: stderrPath + ".out", after: pending)
        return (process, seen.last!, seen)
    }

    /// Copies what `handle` still produces into `path` until EOF, on a thread of its own.
    private static func drain(_ handle: FileHandle, into path: String, after pending: [UInt8]) {
        _ = FileManager.default.createFile(atPath: path, contents: Data(pending))
        let thread = Thread {
            let file = FileHandle(forWritingAtPath: path)
            file?.seekToEndOfFile()
            while case let chunk = handle.availableData, !chunk.isEmpty { file?.write(chunk) }
            try? file?.close()
        }
        thread.start()
    }

    /// Starts skynetd on `port` (0 = a free one) with `dataDir`, and waits until it serves.
    /// With `timer`, its timer service runs too (HTTP API on a free port), and it waits
    /// until that serves as well; without, skynetd runs with `--no-timer --http none`.
    init(dataDir: String, port: Int = 0, timer: Bool = false, extra: [String] = []) throws {
        self.dataDir = dataDir
        stderrPath = dataDir + ".stderr.log"
        let timerFlags = timer ? ["--http", "127.0.0.1:0"] : ["--no-timer", "--http", "none"]
        // A front over etcd keeps no data of its own; `dataDir` then only names its logs.
        let storeFlags = extra.contains("--store") ? [] : ["--data-dir", dataDir]
        let (process, text, lines) = try Self.launchSeeing(
            Self.builtBinary("skynetd"), ["--listen", "127.0.0.1:\(port)", "--log-level", "info"] + storeFlags + timerFlags + extra,
            stderrPath: stderrPath, marker: timer ? "timer serving" : "listening on")
        func lastPort(_ line: String?) -> Int? {
            guard let line, let colon = line.lastIndex(of: ":") else { return nil }
            return Int(line[line.index(after: colon)...])
        }
        guard let bound = lastPort(lines.first { $0.contains("listening on") }) else {
            kill(process.processIdentifier, SIGKILL)
            throw SkynetdError("unexpected first line from skynetd: \(text)")
        }
        self.port = bound
        httpPort = timer ? lastPort(text) : nil
        super.init(process: process)
    }

    var address: String { "127.0.0.1:\(port)" }

    /// A `skynetd` front over the etcd cluster at `etcd` (comma-separated client addresses).
    static func front(etcd: String, port: Int = 0, timer: Bool = false, extra: [String] = []) throws -> SkynetdProcess {
        try SkynetdProcess(dataDir: temporaryPath("skynetd-front"), port: port, timer: timer, extra: ["--store", "etcd://\(etcd)"] + extra)
    }
}

/// A child process a test started: `stop` signals it and waits; one still running when the
/// test lets go of it is killed, so no test leaves processes behind.
class TestChildProcess: @unchecked Sendable {
    // @unchecked: `process` is set in init and never changed; Process itself is
    // thread-safe for kill/waitUntilExit/terminationStatus.
    let process: Process

    init(process: Process) {
        self.process = process
    }

    /// Sends `signal` and waits for the process to exit; returns its exit status (or the
    /// signal that ended it).
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        kill(process.processIdentifier, signal)
        return Self.reap(process)
    }

    /// Waits for `process` to end by reaping it here (blocking in `waitpid`), not with
    /// Foundation's `waitUntilExit`: that spins a run loop at full speed until Foundation's
    /// own monitor sees the child exit, and when children are started from many threads at
    /// once the monitor can miss one, leaving a zombie and a thread spinning for good.
    static func reap(_ process: Process) -> Int32 {
        var status: Int32 = 0
        let pid = process.processIdentifier
        while true {
            let result = waitpid(pid, &status, 0)
            if result == pid { break }
            if result == -1, errno == EINTR { continue }
            // Foundation's monitor reaped it first: its status is (or is about to be) there.
            for _ in 0..<3_000 where process.isRunning { usleep(10_000) }
            return process.isRunning ? -1 : process.terminationStatus
        }
        // Exited: the exit code; killed by a signal: the signal, as Foundation reports it.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
    }

    deinit {
        if kill(process.processIdentifier, 0) == 0 {
            kill(process.processIdentifier, SIGKILL)
            _ = Self.reap(process)
        }
    }
}

struct SkynetdError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
