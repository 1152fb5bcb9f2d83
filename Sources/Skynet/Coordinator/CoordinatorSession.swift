import Logging
import SkynetRPC
import Synchronization

/// A coordinator session: files written with it are deleted when it ends.
///
/// The client keeps it alive by itself (a keepalive every TTL/3, riding the client's
/// connection, carrying on across reconnects). If the coordinator says the session is
/// gone (it expired while this process could not reach it), `lost` reports it once.
public final class CoordinatorSession: Sendable {
    /// The session's id; pass it to writes that should be ephemeral.
    public let id: UInt64
    /// The TTL the coordinator granted.
    public let ttl: Duration
    /// Yields once, with the reason, if the session is lost; finishes when it ends either way.
    public let lost: AsyncStream<RPCError>
    private let lostContinuation: AsyncStream<RPCError>.Continuation
    private let keepalive = Mutex<Task<Void, Never>?>(nil)
    private let ended = Atomic<Bool>(false)
    private weak let client: CoordinatorClient?

    init(id: UInt64, ttl: Duration, client: CoordinatorClient, logger: Logger) {
        self.id = id
        self.ttl = ttl
        self.client = client
        (lost, lostContinuation) = AsyncStream.makeStream(of: RPCError.self)
        let task = Task { [weak self] in
            var wait = ttl / 3
            while !Task.isCancelled {
                try? await Task.sleep(for: wait)
                guard let self, !Task.isCancelled else { return }
                guard let client = self.client, !client.isClosed else {
                    self.end(lost: nil)   // the client is gone: the session ends with it
                    return
                }
                do {
                    try await client.keepAlive(id)
                    wait = ttl / 3
                } catch let error as RPCError where error.code == .sessionNotFound {
                    logger.warning("coordinator session lost", metadata: ["coordinator.session": "\(id)", "error": "\(error.message)"])
                    self.end(lost: error)
                    return
                } catch {
                    // Coordinator unreachable: keep trying, more often, until it answers.
                    wait = min(ttl / 10, .milliseconds(200))
                }
            }
        }
        keepalive.withLock { $0 = task }
    }

    /// True once the session was lost or closed.
    public var isEnded: Bool { ended.load(ordering: .relaxed) }

    /// Closes the session: the coordinator deletes its files in one revision.
    public func close() async throws {
        guard !ended.load(ordering: .relaxed) else { return }
        keepalive.withLock { $0?.cancel() }
        try await client?.closeSession(id)
        end(lost: nil)
    }

    private func end(lost error: RPCError?) {
        guard !ended.exchange(true, ordering: .relaxed) else { return }
        if let error { lostContinuation.yield(error) }
        lostContinuation.finish()
        keepalive.withLock { $0?.cancel() }
    }

    deinit {
        keepalive.withLock { $0?.cancel() }
        lostContinuation.finish()
    }
}
