import AsyncHTTPClient
import Foundation
import NIOCore
import Prometheus
import Skynet
import SkynetRPC
import Testing

/// The value of the series named exactly `series` (name and labels as rendered) in a
/// Prometheus text exposition, or nil when it is absent.
func seriesValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

@Suite("Service and pool metrics", .timeLimit(.minutes(2)))
struct ServiceMetricsTests {
    @Test("a pool counts picks and no-instance failures, and gauges its instances by state")
    func poolSeries() async throws {
        try await withCoordinator { server, _ in
            let port = server.localAddress!.port!
            let registry = PrometheusCollectorRegistry()
            var config = ClientConfig(coordinators: ["127.0.0.1:\(port)"], region: "elsewhere", host: "elsewhere", timeout: testCoordinatorTimeout,
                                      metricsFactory: PrometheusMetricsFactory(registry: registry))
            config.coordinatorTimeout = testCoordinatorTimeout
            let client = Client(config: config, logger: quietLogger())
            let a = try await startService("a", coordinatorPort: port)
            let b = try await startService("b", coordinatorPort: port)
            let echo = client.service(name: "echo")
            try await warmUp(echo) { $0.availableInstances.count == 2 }
            let before = seriesValue(registry.emitToString(), #"skynet_pool_picks_total{service="echo"}"#) ?? 0
            for _ in 0..<25 { _ = try await echo.send("echo", "x", returning: String.self) }
            let text = registry.emitToString()
            #expect(seriesValue(text, #"skynet_pool_picks_total{service="echo"}"#) == before + 25, "\(text)")
            #expect(seriesValue(text, #"skynet_pool_instances{service="echo",state="ready"}"#) == 2, "\(text)")

            try await b.unregister()
            try await warmUp(echo) { $0.availableInstances.count == 1 }
            let after = registry.emitToString()
            #expect(seriesValue(after, #"skynet_pool_instances{service="echo",state="ready"}"#) == 1, "\(after)")
            #expect(seriesValue(after, #"skynet_pool_instances{service="echo",state="out_of_rotation"}"#) == 1, "\(after)")

            let none = client.service(name: "nothing")
            await #expect(throws: RPCError.self) { _ = try await none.send("echo", "x", returning: String.self, timeout: .milliseconds(100)) }
            #expect(seriesValue(registry.emitToString(), #"skynet_pool_no_instance_total{service="nothing"}"#) == 1)
            await client.close()
            await a.stop()
            await b.stop()
        }
    }

    @Test("-metrics: a service process serves /metrics with its calls by method and code, and advertises it in its record")
    func serviceEndpoint() async throws {
        let dir = temporaryPath("svc-metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        let echo = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "m", extra: ["-metrics", "127.0.0.1:0"]) }
        let client = makeClient(coordinatorPort: daemon.port)
        let info = try #require(try await Query(service: "echo").findInstances(client.coordinator).first)
        let metrics = try #require(info.metadata["metrics"], "the record advertises where to scrape: \(info)")
        let pool = client.service(name: "echo")
        for _ in 0..<3 { _ = try await pool.send("echo", "counted", returning: String.self) }

        func get(_ path: String) async throws -> (Int, String) {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://\(metrics)\(path)"), timeout: .seconds(30))
            return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 22)))
        }
        let (status, text) = try await get("/metrics")
        #expect(status == 200)
        #expect(seriesValue(text, #"skynet_rpc_calls_total{server="echo",method="echo",code="OK"}"#) == 3, "\(text.prefix(2000))")
        #expect(text.contains(#"skynet_rpc_call_duration_seconds_bucket{server="echo",method="echo""#), "a latency histogram by method")
        #expect(!text.contains(info.uuid) && !text.contains(info.serviceAddress), "no ids or addresses in labels")
        #expect(try await get("/other").0 == 404)
        await client.close()
        #expect(echo.stop() == 0)
        daemon.stop()
    }

    @Test("a bad -metrics value is a usage error naming the flag")
    func badFlag() throws {
        do {
            _ = try ServiceConfig(name: "echo").overriding(environment: [:], arguments: ["-metrics", "nowhere"])
            Issue.record("a bad metrics address was accepted")
        } catch {
            #expect(error.field == "-metrics" && error.message.contains("HOST:PORT"), "\(error)")
        }
        do {
            _ = try ServiceConfig(name: "echo").overriding(environment: ["SKYNET_LOAD_CEILING": "high"])
            Issue.record("a bad load ceiling was accepted")
        } catch {
            #expect(error.field == "SKYNET_LOAD_CEILING" && error.message.contains("0.9"), "\(error)")
        }
        do {
            _ = try ServiceConfig(name: "echo").overriding(environment: [:], arguments: ["-load-ceiling", "0.5", "-load-floor", "0.7"])
            Issue.record("a floor over the ceiling was accepted")
        } catch {
            #expect(error.field == "loadFloor", "\(error)")
        }
    }
}

@Suite("skynetd /metrics", .timeLimit(.minutes(2)))
struct SkynetdMetricsTests {
    @Test("skynetd's /metrics: coordinator calls by method and code, the store's figures, fsync and commit histograms, the timers")
    func scrape() async throws {
        let dir = temporaryPath("skynetd-metrics")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir, timer: true) }
        let client = makeClient(coordinatorPort: daemon.port)
        for i in 0..<5 { _ = try await client.coordinator.set("/metrics-test/\(i)", "v") }
        _ = try? await client.coordinator.set("/metrics-test/0", "stale", ifRev: 999_999)
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(try #require(daemon.httpPort))/metrics"), timeout: .seconds(30))
        #expect(response.status == .ok)
        let text = String(buffer: try await response.body.collect(upTo: 1 << 24))
        #expect((seriesValue(text, #"skynet_rpc_calls_total{server="coordinator",method="set",code="OK"}"#) ?? 0) >= 5, "\(text.prefix(3000))")
        #expect(seriesValue(text, #"skynet_rpc_calls_total{server="coordinator",method="set",code="RevMismatch"}"#) == 1, "failed calls are counted by their code")
        #expect((seriesValue(text, "skynet_coordinator_revision") ?? 0) >= 5)
        #expect(seriesValue(text, #"skynet_coordinator_store_info{store="embedded"}"#) == 1)
        #expect(text.contains("skynet_coordinator_fsync_seconds_bucket") && text.contains("skynet_coordinator_commit_seconds_bucket"))
        #expect(text.contains("skynet_timer_held"), "the in-process timer's figures")
        await client.close()
        daemon.stop()
    }
}
