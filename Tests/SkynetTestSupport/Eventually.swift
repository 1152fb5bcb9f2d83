/// Retries `body` until it succeeds or `timeout` passes, then rethrows its last error:
/// for a condition that becomes true by itself (a new etcd electing its first leader, a
/// cluster electing another after a kill), polled on a bounded loop.
public func eventually<T: Sendable>(_ timeout: Duration = .seconds(15), _ body: () async throws -> T) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while true {
        do { return try await body() } catch {
            guard ContinuousClock.now < deadline else { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
