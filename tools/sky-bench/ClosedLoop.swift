/// A closed-loop load: `clients` callers, each spread over `pool` in turn, each making its
/// next call as soon as the last one answers, for `seconds`. Caller `c` numbers its calls
/// from `c × 7919` on (so callers touch different keys). Returns calls/s, every call's
/// latency, and the elapsed seconds.
func closedLoop<Client: Sendable>(
    clients: Int, seconds: Double, pool: [Client], _ call: @escaping @Sendable (Client, Int) async throws -> Void
) async throws -> (perSecond: Double, latency: LatencySamples, elapsed: Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let end = start + .milliseconds(Int(seconds * 1000))
    let all = try await withThrowingTaskGroup(of: LatencySamples.self) { group in
        for c in 0..<clients {
            let client = pool[c % pool.count]
            group.addTask {
                var samples = LatencySamples(capacity: 4096)
                var n = c * 7919
                while clock.now < end {
                    let t = clock.now
                    try await call(client, n)
                    samples.record(clock.now - t)
                    n += 1
                }
                return samples
            }
        }
        var all = LatencySamples(capacity: 1 << 20)
        for try await samples in group { all.append(samples) }
        return all
    }
    let elapsed = (clock.now - start).seconds
    return (Double(all.count) / elapsed, all, elapsed)
}
