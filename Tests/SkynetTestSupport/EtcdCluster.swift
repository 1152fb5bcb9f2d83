import Foundation
import Synchronization

/// A real etcd cluster on 127.0.0.1, for tests and benchmarks: `size` members of Debian's
/// `etcd` (3.4) with free ports and fresh data directories, stopped (and the directories
/// removed) by `stop()` or when the value goes away.
public final class EtcdCluster: Sendable {
    /// One member: its name, ports and data directory.
    public struct Member: Sendable {
        public let name: String
        public let clientPort: Int
        public let peerPort: Int
        public let dataDir: String
        /// `127.0.0.1:clientPort`.
        public var clientAddress: String { "127.0.0.1:\(clientPort)" }
    }

    /// What went wrong while starting a cluster.
    public struct StartError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The members, in the order they were made.
    public let members: [Member]
    private let root: String
    private let keep: String?
    private let token: String
    /// The running process of each member, by name (absent while it is killed).
    private let processes = Mutex<[String: Process]>([:])

    /// Every member's client address, comma-separated: what `--store etcd://` takes.
    public var clientAddresses: String { members.map(\.clientAddress).joined(separator: ",") }

    /// Elections: fast ones (50 ms heartbeats, 500 ms election timeout) keep fault tests
    /// short; etcd's defaults (100 ms, 1 s) keep a loaded machine from electing needlessly.
    public enum Elections: Sendable { case fast, standard }

    private let elections: Elections
    /// Client TLS for every member: its certificate, key, and the CA clients' certificates
    /// must chain to (`--client-cert-auth`); nil serves plain HTTP/2.
    private let tls: TestCertificates.Pair?
    private let clientCA: String?

    /// Starts `size` members and waits (at most `timeout`) until each accepts connections
    /// on its client port. A member is not yet a quorum's: a first write should retry.
    public init(size: Int = 3, elections: Elections = .fast, timeout: Duration = .seconds(20), tls: TestCertificates.Pair? = nil, clientCA: String? = nil) throws {
        self.elections = elections
        self.tls = tls
        self.clientCA = clientCA
        // SKYNET_KEEP_ETCD=DIR keeps the members' data and logs there, for a post-mortem.
        keep = ProcessInfo.processInfo.environment["SKYNET_KEEP_ETCD"]
        root = (keep ?? NSTemporaryDirectory()) + "/skynet-etcd-\(getpid())-\(UUID().uuidString.prefix(8))"
        token = "skynet-test-\(UUID().uuidString.prefix(8))"
        var members: [Member] = []
        for i in 0..<size {
            members.append(Member(
                name: "m\(i)", clientPort: try Self.freePort(), peerPort: try Self.freePort(),
                dataDir: root + "/m\(i)"))
        }
        self.members = members
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        for member in members { try launch(member) }
        let deadline = ContinuousClock.now + timeout
        for member in members {
            while !Self.accepts(port: member.clientPort) {
                // A member that exited (its port taken meanwhile, say) will never listen.
                if processes.withLock({ $0[member.name]?.isRunning == false }) {
                    let log = (try? String(contentsOfFile: root + "/\(member.name).log", encoding: .utf8)) ?? ""
                    let last = log.split(separator: "\n").last.map(String.init) ?? "no output"
                    stop()
                    throw StartError(description: "etcd member \(member.name) exited before listening on \(member.clientAddress): \(last)")
                }
                guard ContinuousClock.now < deadline else {
                    stop()
                    throw StartError(description: "etcd member \(member.name) did not listen on \(member.clientAddress) within \(timeout)")
                }
                usleep(50_000)
            }
        }
    }

    /// Starts a cluster as `init` does, waiting on a thread of its own: tests run on a
    /// cooperative pool of one thread per core, which a blocking wait would starve.
    /// A start that fails is tried again with fresh ports and directories, up to three
    /// times: a port picked free can be taken (by any connection's local port) before etcd
    /// binds it.
    public static func start(size: Int = 3, elections: Elections = .fast, tls: TestCertificates.Pair? = nil, clientCA: String? = nil) async throws -> EtcdCluster {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    var attempt = 1
                    while true {
                        do {
                            return try EtcdCluster(size: size, elections: elections, tls: tls, clientCA: clientCA)
                        } catch let error as StartError where attempt < 3 {
                            FileHandle.standardError.write(Data("EtcdCluster: \(error); starting again with fresh ports\n".utf8))
                            attempt += 1
                        }
                    }
                })
            }.start()
        }
    }

    /// The path of Debian's etcd binary.
    public static var binary: String? {
        ["/usr/bin/etcd", "/usr/local/bin/etcd"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private var initialCluster: String {
        members.map { "\($0.name)=http://127.0.0.1:\($0.peerPort)" }.joined(separator: ",")
    }

    private var scheme: String { tls == nil ? "http" : "https" }

    private func launch(_ member: Member) throws {
        guard let binary = Self.binary else { throw StartError(description: "etcd is not installed (Debian: etcd-server)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--name", member.name, "--data-dir", member.dataDir,
            "--listen-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--advertise-client-urls", "\(scheme)://127.0.0.1:\(member.clientPort)",
            "--listen-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-advertise-peer-urls", "http://127.0.0.1:\(member.peerPort)",
            "--initial-cluster", initialCluster, "--initial-cluster-state", "new",
            "--initial-cluster-token", token,
        ] + (elections == .fast ? ["--heartbeat-interval", "50", "--election-timeout", "500"] : [])
            + (tls.map { ["--cert-file", $0.certificatePath, "--key-file", $0.keyPath] } ?? [])
            + (clientCA.map { ["--trusted-ca-file", $0, "--client-cert-auth"] } ?? [])
        let log = root + "/\(member.name).log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes.withLock { $0[member.name] = process }
    }

    /// The process ids of the members running now (for CPU and memory figures from /proc).
    public var processIDs: [Int32] {
        processes.withLock { $0.values.map(\.processIdentifier) }
    }

    /// Kills member `name` with SIGKILL and waits for it to be gone.
    public func kill(_ name: String) {
        let process = processes.withLock { $0.removeValue(forKey: name) }
        guard let process else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Starts member `name` again on its ports and data directory (after `kill`).
    public func restart(_ name: String) throws {
        guard let member = members.first(where: { $0.name == name }) else { return }
        guard processes.withLock({ $0[name] == nil }) else { return }
        try launch(member)
    }

    /// Stops every member and removes the data directories.
    public func stop() {
        for member in members { kill(member.name) }
        if keep == nil { try? FileManager.default.removeItem(atPath: root) }
    }

    deinit { stop() }

    /// A port nobody listens on now (the kernel's pick for port 0, released at once).
    static func freePort() throws -> Int { try RefusingPort().port }

    /// True when something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
