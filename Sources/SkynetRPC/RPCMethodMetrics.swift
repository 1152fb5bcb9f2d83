import Metrics
import Synchronization

/// Counts and times the calls a server answers, by method and result code, through
/// swift-metrics (nothing is recorded until an executable bootstraps a backend).
///
/// Three series, with bounded labels (the server's name, registered method names, error
/// codes; never ids, paths or addresses):
/// - `skynet_rpc_calls_total{server, method, code}`: calls answered, `code` is `OK` or the
///   error code;
/// - `skynet_rpc_call_duration_seconds{server, method}`: from the call's arrival at its
///   handler to its answer;
/// - `skynet_rpc_in_flight{server}`: calls being handled now.
///
/// Methods a caller names but nobody registered are answered `NoSuchMethod` by the server
/// and not counted here: their names are the caller's to choose, so they would not be bounded.
public struct RPCMethodMetrics: Sendable {
    /// The `server` label: `coordinator`, or a service's name.
    public let server: String
    private let inFlight: Meter
    private let factory: any MetricsFactory

    /// Metrics for the server named `server`, made by `factory` (the bootstrapped one by default).
    public init(server: String, factory: any MetricsFactory = MetricsSystem.factory) {
        self.server = server
        self.factory = factory
        inFlight = Meter(label: "skynet_rpc_in_flight", dimensions: [("server", server)], factory: factory)
    }

    /// Wraps every method of `router` (raw, typed and replying) so that its calls are
    /// counted and timed. Call it once the table is complete.
    public func instrument(_ router: inout RPCRouter) {
        router.wrapMethods { name, handler in
            let method = MethodMetrics(server: server, method: name, inFlight: inFlight, factory: factory)
            return { params, context in
                let start = method.begin()
                do {
                    let result = try await handler(params, context)
                    method.end(start, code: nil)
                    return result
                } catch {
                    method.end(start, code: (error as? RPCError)?.code ?? .internal)
                    throw error
                }
            }
        }
        router.wrapReplyingMethods { name, handler in
            let method = MethodMetrics(server: server, method: name, inFlight: inFlight, factory: factory)
            return { params, context, reply in
                let start = method.begin()
                handler(params, context, reply.observing { result in
                    switch result {
                    case .success: method.end(start, code: nil)
                    case .failure(let error): method.end(start, code: error.code)
                    }
                })
            }
        }
    }
}

/// One method's series; the per-code counters are made on first use (most codes never occur).
private final class MethodMetrics: Sendable {
    let server: String
    let method: String
    let ok: Counter
    let latency: Metrics.Timer
    let inFlight: Meter
    let failures = Mutex<[RPCErrorCode: Counter]>([:])
    let factory: any MetricsFactory

    init(server: String, method: String, inFlight: Meter, factory: any MetricsFactory) {
        self.server = server
        self.method = method
        self.inFlight = inFlight
        self.factory = factory
        ok = Counter(label: "skynet_rpc_calls_total", dimensions: [("server", server), ("method", method), ("code", "OK")], factory: factory)
        latency = Metrics.Timer(label: "skynet_rpc_call_duration_seconds", dimensions: [("server", server), ("method", method)], factory: factory)
    }

    func begin() -> ContinuousClock.Instant {
        inFlight.increment()
        return .now
    }

    func end(_ start: ContinuousClock.Instant, code: RPCErrorCode?) {
        let elapsed = (ContinuousClock.now - start).components
        latency.recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
        inFlight.decrement()
        guard let code else {
            ok.increment()
            return
        }
        let counter = failures.withLock { counters in
            if let counter = counters[code] { return counter }
            let counter = Counter(
                label: "skynet_rpc_calls_total", dimensions: [("server", server), ("method", method), ("code", code.rawValue)],
                factory: factory)
            counters[code] = counter
            return counter
        }
        counter.increment()
    }
}
