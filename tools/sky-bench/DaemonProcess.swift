import Foundation

/// A process a benchmark starts from a release binary beside `sky-bench`, on 127.0.0.1;
/// the first stdout line containing `marker` says where it serves (later output is read and
/// dropped, so the child never blocks on a full pipe). Stopped by `stop()`.
final class ChildProcess {
    let process: Process
    let firstLine: String
    /// The line holding each of `markers`, by marker.
    let lines: [String: String]

    /// Starts `name` (built beside sky-bench) and reads its output until a line holding
    /// `marker`, and one holding each of `also`, have appeared.
    init(_ name: String, _ arguments: [String], marker: String = "", also: [String] = []) throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("\(name) is not built beside sky-bench at \(binary); run `swift build -c release` (make bench does)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let stdout = Pipe()
        process.standardOutput = stdout
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let handle = stdout.fileHandleForReading
        var pending = [UInt8]()
        var found: [String: String] = [:]
        let markers = [marker] + also
        while found.count < markers.count {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                pending.removeSubrange(...newline)
                for marker in markers where found[marker] == nil && line.contains(marker) { found[marker] = line }
                continue
            }
            let chunk = handle.availableData
            if chunk.isEmpty { throw BenchError("\(name) exited before serving") }
            pending += chunk
        }
        firstLine = found[marker]!
        lines = found
        Thread { while !handle.availableData.isEmpty {} }.start()
    }

    /// Resident memory, in MiB, from /proc.
    func residentMiB() -> Double { Self.residentMiB(pid: process.processIdentifier) }

    /// Resident memory of process `pid`, in MiB, from /proc (-1 when it cannot be read).
    static func residentMiB(pid: Int32) -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = line.split(separator: " ").compactMap({ Double($0) }).first else { return -1 }
        return kib / 1024
    }

    /// CPU time (user + system) used so far, in seconds, from /proc.
    func cpuSeconds() -> Double { Self.cpuSeconds(pid: process.processIdentifier) }

    /// CPU time (user + system) process `pid` used so far, in seconds, from /proc (-1 when
    /// it cannot be read).
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return -1 }
        // Fields after the command name: state is field 3; utime and stime are 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return -1 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func stop(signal: Int32 = SIGTERM) {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
    }
}

/// A `skynetd` with a fresh data directory on a free port of 127.0.0.1.
final class DaemonProcess {
    let child: ChildProcess
    let port: Int
    let dataDir: String

    /// The dashboard's `HOST:PORT`, when started with `dashboard`.
    let dashboard: String?

    /// Starts skynetd; with `dashboard`, its HTTP port listens on a free port of 127.0.0.1.
    init(extra: [String] = [], dashboard: Bool = false) throws {
        dataDir = NSTemporaryDirectory() + "sky-bench-\(UUID().uuidString.prefix(8))"
        // A front over etcd (`--store etcd://...`) keeps no data of its own.
        let storeFlags = extra.contains("--store") ? [] : ["--data-dir", dataDir]
        let http = dashboard ? ["--http", "127.0.0.1:0"] : ["--http", "none"]
        child = try ChildProcess(
            "skynetd", ["--listen", "127.0.0.1:0", "--log-level", "warning", "--no-timer"] + http + storeFlags + extra,
            marker: "listening on", also: dashboard ? ["skynetd dashboard http://"] : [])
        guard let port = child.firstLine.split(separator: ":").last.flatMap({ Int($0) }) else {
            throw BenchError("unexpected skynetd output: \(child.firstLine)")
        }
        self.port = port
        // "skynetd dashboard http://HOST:PORT/"
        self.dashboard = child.lines["skynetd dashboard http://"].flatMap { line in
            line.range(of: "http://").map { String(line[$0.upperBound...].dropLast(line.hasSuffix("/") ? 1 : 0)) }
        }
    }

    var address: String { "127.0.0.1:\(port)" }

    func residentMiB() -> Double { child.residentMiB() }

    func cpuSeconds() -> Double { child.cpuSeconds() }

    func stop() {
        child.stop()
        try? FileManager.default.removeItem(atPath: dataDir)
    }
}

/// An `echo-service` (the example) registered with the coordinator at `coordinator`.
final class EchoProcess {
    let child: ChildProcess
    let address: String

    init(coordinator: String, extra: [String] = []) throws {
        child = try ChildProcess("echo-service", ["-coordinators", coordinator, "-l", "127.0.0.1:0", "-admin", "127.0.0.1:0"] + extra, marker: "echo-service serving ")
        // "echo-service serving 127.0.0.1:PORT, registered at PATH"
        guard let range = child.firstLine.range(of: "echo-service serving "), let served = child.firstLine[range.upperBound...].split(separator: " ").first else {
            throw BenchError("unexpected echo-service output: \(child.firstLine)")
        }
        address = String(served.dropLast(served.hasSuffix(",") ? 1 : 0))
    }

    var port: Int { Int(address.split(separator: ":").last!)! }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
