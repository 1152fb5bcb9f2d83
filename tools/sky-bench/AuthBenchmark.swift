import Foundation
import Skynet
import SkynetCertificates

/// `sky-bench coordinator --auth`: what auth costs. Two skynetd, one open and one with
/// auth on (a token whose role has several rules, the matching one last), take the same
/// put and get phases in alternating rounds, so both see the same machine; throughput
/// ratios are the median over rounds, and each daemon's CPU per op comes from /proc.
struct AuthBenchmark {
    let options: CoordinatorBenchmark

    func run() async throws {
        let open = try DaemonProcess()
        defer { open.stop() }
        let tokenFile = NSTemporaryDirectory() + "sky-bench-root-\(UUID().uuidString.prefix(8)).token"
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let locked = try DaemonProcess(extra: ["--auth-bootstrap", tokenFile])
        defer { locked.stop() }
        let root = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let token = try await issueToken(locked, root: root)

        func pool(_ daemon: DaemonProcess, _ token: String?) -> [CoordinatorClient] {
            (0..<options.connections).map { _ in
                CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(30), token: token), logger: .init(label: "bench"))
            }
        }
        let plainPool = pool(open, nil), authPool = pool(locked, token)
        for clients in [plainPool, authPool] { try await fill(clients[0]) }
        let keys = options.keys
        // Per round: puts/s and gets/s of each, and each daemon's CPU per op (from /proc),
        // which the machine's noise moves far less than throughput.
        var rounds: [(plainPuts: Double, authPuts: Double, plainGets: Double, authGets: Double)] = []
        var cpu = (plainPut: 0.0, authPut: 0.0, plainGet: 0.0, authGet: 0.0)
        var ops = (plainPut: 0.0, authPut: 0.0, plainGet: 0.0, authGet: 0.0)
        for round in 0..<Self.rounds {
            var figures = (plainPuts: 0.0, authPuts: 0.0, plainGets: 0.0, authGets: 0.0)
            // Alternate which goes first, so warming up favours neither.
            for authFirst in round % 2 == 0 ? [false, true] : [true, false] {
                let clients = authFirst ? authPool : plainPool
                let daemon = authFirst ? locked : open
                let beforePuts = daemon.cpuSeconds()
                let (puts, _, putElapsed) = try await options.concurrent(clients) { client, n in
                    try await client.set("/b/" + CoordinatorBenchmark.key(n % keys), CoordinatorBenchmark.value)
                }
                let beforeGets = daemon.cpuSeconds()
                let (gets, _, getElapsed) = try await options.concurrent(clients) { client, n in
                    guard try await client.get("/b/" + CoordinatorBenchmark.key(n % keys)) != nil else { throw BenchError("key \(n % keys) missing") }
                }
                let after = daemon.cpuSeconds()
                if authFirst {
                    figures.authPuts = puts; figures.authGets = gets
                    cpu.authPut += beforeGets - beforePuts; cpu.authGet += after - beforeGets
                    ops.authPut += puts * putElapsed; ops.authGet += gets * getElapsed
                } else {
                    figures.plainPuts = puts; figures.plainGets = gets
                    cpu.plainPut += beforeGets - beforePuts; cpu.plainGet += after - beforeGets
                    ops.plainPut += puts * putElapsed; ops.plainGet += gets * getElapsed
                }
            }
            rounds.append(figures)
        }
        for client in plainPool + authPool { await client.close() }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let putRatio = median(rounds.map { $0.authPuts / $0.plainPuts }), getRatio = median(rounds.map { $0.authGets / $0.plainGets })
        let microseconds = (plainPut: cpu.plainPut / ops.plainPut * 1e6, authPut: cpu.authPut / ops.authPut * 1e6,
                            plainGet: cpu.plainGet / ops.plainGet * 1e6, authGet: cpu.authGet / ops.authGet * 1e6)
        print(JSONReport.render([
            ("scenario", "coordinator-auth"),
            ("puts_per_s", Int(median(rounds.map(\.plainPuts)))),
            ("auth_puts_per_s", Int(median(rounds.map(\.authPuts)))),
            ("auth_put_ratio", rounded(putRatio, 3)),
            ("gets_per_s", Int(median(rounds.map(\.plainGets)))),
            ("auth_gets_per_s", Int(median(rounds.map(\.authGets)))),
            ("auth_get_ratio", rounded(getRatio, 3)),
            ("server_cpu_per_put_us", rounded(microseconds.plainPut, 1)),
            ("auth_server_cpu_per_put_us", rounded(microseconds.authPut, 1)),
            ("auth_cpu_per_put_ratio", rounded(microseconds.authPut / microseconds.plainPut, 3)),
            ("server_cpu_per_get_us", rounded(microseconds.plainGet, 1)),
            ("auth_server_cpu_per_get_us", rounded(microseconds.authGet, 1)),
            ("auth_cpu_per_get_ratio", rounded(microseconds.authGet / microseconds.plainGet, 3)),
            ("targets_met", putRatio >= 0.95 && getRatio >= 0.95),
            ("rounds", Self.rounds),
            ("seconds_per_phase", options.seconds),
            ("clients", options.clients),
            ("connections", options.connections),
            ("rules_in_role", Self.rules.count),
            ("cores", ProcessInfo.processInfo.activeProcessorCount),
        ]))
    }

    /// Rounds of the two daemons; the ratios are the medians of the rounds' ratios.
    static let rounds = 5

    /// A role as a deployment might write one: rules for other subtrees first, then the
    /// one the benchmark's keys fall under, so a check walks all of them.
    static let rules = ["read:/skynet/services/**", "read,write:/skynet/config/app/**", "read:/skynet/config/*/public/**", "read,write:/b/**"]

    /// Writes the role and a token holding it, as `sky auth` would; returns the token.
    private func issueToken(_ daemon: DaemonProcess, root: String) async throws -> String {
        let admin = CoordinatorClient(configuration: .init(addresses: [daemon.address], callTimeout: .seconds(30), token: root), logger: .init(label: "bench"))
        let role = AccessRole(rules: try Self.rules.map { try AccessRule(parsing: $0) })
        _ = try await admin.set(try AuthPaths.path(.roles, "bench").string, AccessRecords.encode(role))
        let token = AccessToken.generate()
        let record = AccessTokenRecord(name: "bench", sha256: AccessToken.sha256(token), roles: ["bench"])
        _ = try await admin.set(try AuthPaths.path(.tokens, AccessToken.id(token)).string, AccessRecords.encode(record))
        await admin.close()
        return token
    }

    /// Makes every key of the key space exist, so gets find them.
    private func fill(_ client: CoordinatorClient) async throws {
        let keys = options.keys
        for start in stride(from: 0, to: keys, by: 500) {
            let ops = (start..<min(keys, start + 500)).map { TreeOperation.set(path: try! TreePath("/b/" + CoordinatorBenchmark.key($0)), value: CoordinatorBenchmark.value, ifRev: -1, session: nil) }
            _ = try await client.txn(compares: [], success: ops)
        }
    }
}
