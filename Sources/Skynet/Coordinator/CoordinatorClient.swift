import Logging
import MessagePack
import NIOCore
import NIOPosix
import SkynetTree
import SkynetRPC
import Synchronization

/// A client of the coordinator: typed async calls for every operation, watches as async
/// sequences that survive reconnects, and sessions that keep themselves alive.
///
/// It holds one connection at a time to one of the configured addresses and reconnects
/// with jittered exponential backoff, trying the addresses round-robin. Reads that fail
/// because the connection broke are retried once on the next connection; writes are not
/// (the write may have been applied), so they surface `Unavailable`. Watches resume after
/// a reconnect from the revision after the last one they delivered: no gap, no duplicate.
public final class CoordinatorClient: Sendable {
    /// Updates a watch buffers for a slow consumer before it pauses (and later resumes from
    /// the server's history), so a consumer that does not keep up costs bounded memory.
    public static let maxBufferedUpdates = 1024

    struct State {
        var connection: RPCConnection?
        var connecting = false
        var waiters: [UInt64: CheckedContinuation<RPCConnection, any Error>] = [:]
        /// The timeout of each waiter, cancelled when it is answered (no task left sleeping).
        var waiterTimers: [UInt64: Scheduled<Void>] = [:]

        /// Takes every waiter, cancelling their timeouts.
        mutating func takeWaiters() -> [CheckedContinuation<RPCConnection, any Error>] {
            for timer in waiterTimers.values { timer.cancel() }
            waiterTimers = [:]
            defer { waiters = [:] }
            return Array(waiters.values)
        }

        /// Takes one waiter, cancelling its timeout.
        mutating func takeWaiter(_ id: UInt64) -> CheckedContinuation<RPCConnection, any Error>? {
            waiterTimers.removeValue(forKey: id)?.cancel()
            return waiters.removeValue(forKey: id)
        }
        var nextWaiter: UInt64 = 0
        var watches = CoordinatorWatchTable<WatchMailbox>(maxBuffered: CoordinatorClient.maxBufferedUpdates)
        var cursor = 0
        var lastError = ""
        var closed = false
        var connectTask: Task<Void, Never>?
    }

    /// The configuration in force.
    public let configuration: CoordinatorClientConfiguration
    private let state = Mutex(State())
    private let group: any EventLoopGroup
    private let logger: Logger

    /// Creates a client; it connects on first use.
    public init(
        configuration: CoordinatorClientConfiguration = .init(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "skynet.coordinator.client")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
    }

    // MARK: Operations

    /// The file at `path` (at the past revision `atRev` when given), or `nil`.
    public func get(_ path: String, atRev: Int64? = nil) async throws -> TreeFile? {
        let result = try await call("get", [.string(path), .int(atRev ?? 0)], idempotent: true)
        guard let file = result["file"], !file.isNil else { return nil }
        return try decode { () throws(WireError) in try TreeFile(wireValue: file) }
    }

    /// Writes `value` at `path` and returns the new revision. `ifRev`: -1 unconditional,
    /// 0 must not exist, n current modRev must be n (else `RevMismatch`). With a `session`
    /// the file is deleted when the session ends.
    @discardableResult
    public func set(_ path: String, _ value: [UInt8], ifRev: Int64 = -1, session: UInt64? = nil) async throws -> Int64 {
        try await revision(of: call("set", [.string(path), .binary(value), .int(ifRev), .uint(session ?? 0)], idempotent: false))
    }

    /// Writes a UTF-8 string value.
    @discardableResult
    public func set(_ path: String, _ value: String, ifRev: Int64 = -1, session: UInt64? = nil) async throws -> Int64 {
        try await set(path, Array(value.utf8), ifRev: ifRev, session: session)
    }

    /// Deletes the file at `path` and returns the new revision (`NotFound` when absent).
    @discardableResult
    public func del(_ path: String, ifRev: Int64 = -1) async throws -> Int64 {
        try await revision(of: call("del", [.string(path), .int(ifRev)], idempotent: false))
    }

    /// The names in directory `path`, sorted.
    public func getdir(_ path: String) async throws -> [String] {
        let result = try await call("getdir", [.string(path)], idempotent: true)
        return try decode { () throws(WireError) in try result.field("names", in: "getdir").wireArray("names").map { (v) throws(WireError) in try v.wireString("name") } }
    }

    /// Every file matching `glob` (`*` one segment, `**` any depth, `?` one character), sorted by path.
    public func walk(_ glob: String) async throws -> [TreeFile] {
        try await walkAtRevision(glob).files
    }

    /// Every file matching `glob`, in path order, and the revision its first page was read
    /// at. Large walks come in pages (a few MiB each), each read at the then current
    /// revision: to follow the files, watch from `revision + 1` and apply the events in
    /// order; the result converges on the tree.
    public func walkAtRevision(_ glob: String) async throws -> (revision: Int64, files: [TreeFile]) {
        var files: [TreeFile] = []
        var revision: Int64?
        var after: String?
        while true {
            let page = try await walkPage(glob, after: after)
            revision = revision ?? page.revision
            files += page.files
            guard page.more, let last = page.files.last else { return (revision ?? page.revision, files) }
            after = last.path.string
        }
    }

    /// One page of `walk`: the files matching `glob` whose paths sort after `after` (all when
    /// `nil`), in path order, up to a few MiB; `more` is true when further pages follow (ask
    /// again after the last path). What a caller that wants only the first few uses.
    public func walkPage(_ glob: String, after: String? = nil) async throws -> (revision: Int64, files: [TreeFile], more: Bool) {
        let result = try await call("walk", [.string(glob), after.map { .string($0) } ?? .nil], idempotent: true)
        return try decode { () throws(WireError) in
            (try result.field("rev", in: "walk").wireInt("rev"),
             try result.field("files", in: "walk").wireArray("files").map { (v) throws(WireError) in try TreeFile(wireValue: v) },
             result["more"] == true)
        }
    }

    /// What `path` is: a file, a directory, or `nil`.
    public func stat(_ path: String) async throws -> TreeNodeStat? {
        let result = try await call("stat", [.string(path)], idempotent: true)
        guard let stat = result["stat"], !stat.isNil else { return nil }
        return try decode { () throws(WireError) in try TreeNodeStat(wireValue: stat) }
    }

    /// Runs `success` if every compare holds, else `failure`, as one revision.
    public func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation] = []) async throws -> TxnResult {
        let result = try await call("txn", [.array(compares.map(\.wireValue)), .array(success.map(\.wireValue)), .array(failure.map(\.wireValue))], idempotent: false)
        return try decode { () throws(WireError) in
            let results = try result.field("results", in: "txn").wireArray("results").map { (v) throws(WireError) -> TreeOperationResult in
                if let rev = v["rev"] { return .written(rev: try rev.wireInt("rev")) }
                let file = v["file"]
                return .read(try file.flatMap { (f) throws(WireError) -> TreeFile? in f.isNil ? nil : try TreeFile(wireValue: f) })
            }
            guard case .bool(let succeeded) = try result.field("succeeded", in: "txn") else { throw WireError("txn.succeeded: expected bool") }
            return TxnResult(succeeded: succeeded, results: results, revision: try result.field("rev", in: "txn").wireInt("rev"))
        }
    }

    /// Whether `token` may do `permission` (`read`, `write`, `admin`) on `path`, as the
    /// coordinator's roles say; `enabled` is false when it has no auth (then anything goes).
    /// Throws `Unauthorized` for a token it does not know. With an empty token and a
    /// `certificate` name, asks about a client certificate the caller verified.
    package func checkAccess(token: String, path: String, permission: String, certificate: String? = nil) async throws -> (enabled: Bool, allowed: Bool, reason: String?) {
        let params: [MessagePackValue] = [.string(token), .string(path), .string(permission)] + (certificate.map { [.string($0)] } ?? [])
        let answer = try await call("checkAccess", params, idempotent: true)
        return (answer["enabled"] == .bool(true), answer["allowed"] == .bool(true), answer["reason"]?.stringValue)
    }

    /// The coordinator's status map (name, revision, files, sessions, members, leader, ...).
    public func status() async throws -> MessagePackValue {
        try await call("status", [], idempotent: true)
    }

    /// Opens a session with `ttl`; the client keeps it alive until it is closed or lost.
    public func openSession(ttl: Duration = .seconds(5)) async throws -> CoordinatorSession {
        let ms = ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000
        let result = try await call("openSession", [.int(ms)], idempotent: false)
        let (id, granted) = try decode { () throws(WireError) in
            (try result.field("session", in: "openSession").wireUInt("session"), try result.field("ttlMs", in: "openSession").wireInt("ttlMs"))
        }
        return CoordinatorSession(id: id, ttl: .milliseconds(granted), client: self, logger: logger)
    }

    func keepAlive(_ session: UInt64) async throws {
        _ = try await call("keepAlive", [.uint(session)], idempotent: true)
    }

    func closeSession(_ session: UInt64) async throws {
        _ = try await call("closeSession", [.uint(session)], idempotent: false)
    }

    /// Watches `glob` from `fromRev` (0 = changes after now). The sequence yields whole
    /// revisions in order, and progress reports when idle; it resumes by itself after a
    /// reconnect. A consumer that falls `maxBufferedUpdates` behind is not buffered
    /// without bound: the watch pauses and, once the consumer catches up, resumes from the
    /// server's history with nothing missed (or ends with `Compacted` if the history no
    /// longer reaches back). It ends with an error when the glob is bad and when the client
    /// is closed; stop iterating to cancel the watch.
    public func watch(_ glob: String, fromRev: Int64 = 0) -> CoordinatorWatch {
        let mailbox = WatchMailbox()
        let consumer = WatchConsumer(mailbox)
        let id = state.withLock { state -> UInt64? in
            guard !state.closed else { return nil }
            return state.watches.add(glob: glob, fromRev: fromRev, sink: mailbox)
        }
        guard let id else {
            mailbox.finish(throwing: RPCError(.unavailable, "the coordinator client is closed"))
            return CoordinatorWatch(consumer: consumer, client: self, id: 0)
        }
        mailbox.onConsumerLeft { [weak self] in self?.dropWatch(id) }
        Task { await self.subscribe(id) }
        return CoordinatorWatch(consumer: consumer, client: self, id: id)
    }

    /// The consumer of watch `id` took an update; a paused watch resumes once half its buffer drained.
    func watchConsumed(_ id: UInt64) {
        let resume = state.withLock { $0.watches.consumed(id) }
        if resume { Task { await self.subscribe(id) } }
    }

    /// Closes the connection; watches end and calls fail with `Unavailable`.
    public func close() async {
        let (connection, watches, waiters, task) = state.withLock { state in
            state.closed = true
            defer { state.connection = nil }
            return (state.connection, state.watches.removeAll(), state.takeWaiters(), state.connectTask)
        }
        task?.cancel()
        for watch in watches { watch.finish() }
        for waiter in waiters { waiter.resume(throwing: RPCError(.unavailable, "the coordinator client is closed")) }
        await connection?.close()
    }

    /// True once `close()` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: Calls

    private func call(_ method: String, _ params: [MessagePackValue], idempotent: Bool) async throws -> MessagePackValue {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try await connection()
            do {
                return try await connection.call(method, params, timeout: configuration.callTimeout)
            } catch let error as RPCError where error.code == .unavailable && idempotent && attempt == 1 && !connection.isActive {
                logger.debug("retrying read after connection loss", metadata: ["rpc.method": "\(method)"])
                continue
            }
        }
    }

    private func revision(of result: MessagePackValue) throws -> Int64 {
        try decode { () throws(WireError) in try result.field("rev", in: "result").wireInt("rev") }
    }

    private func decode<T>(_ body: () throws(WireError) -> T) throws -> T {
        do { return try body() } catch { throw RPCError(.badRequest, "unexpected answer from the coordinator: \(error.message)") }
    }

    // MARK: Connection

    /// The live connection, connecting (and waiting up to the call timeout) when there is none.
    func connection() async throws -> RPCConnection {
        if let ready = state.withLock({ $0.connection?.isActive == true ? $0.connection : nil }) { return ready }
        let waiter = state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        let timeout = configuration.callTimeout
        let loop = group.next()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let immediate: Result<RPCConnection, any Error>? = state.withLock { state in
                    // Checked under the lock that `cancelWaiter` takes, so a cancellation
                    // either sees this waiter or is seen here.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.closed { return .failure(RPCError(.unavailable, "the coordinator client is closed")) }
                    if configuration.addresses.isEmpty { return .failure(RPCError(.badRequest, "no coordinator addresses are configured")) }
                    if let connection = state.connection, connection.isActive { return .success(connection) }
                    state.waiters[waiter] = continuation
                    // Registered with the waiter, under the same lock, so whoever answers it
                    // cancels this too.
                    let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
                    state.waiterTimers[waiter] = loop.scheduleTask(in: .nanoseconds(nanoseconds)) { [weak self] () -> Void in
                        self?.expireWaiter(waiter)
                    }
                    return nil
                }
                if let immediate { continuation.resume(with: immediate); return }
                ensureConnecting()
            }
        } onCancel: { [weak self] in
            self?.cancelWaiter(waiter)
        }
    }

    /// A caller waiting for a connection was cancelled: it stops waiting at once.
    private func cancelWaiter(_ id: UInt64) {
        state.withLock { $0.takeWaiter(id) }?.resume(throwing: CancellationError())
    }

    private func expireWaiter(_ id: UInt64) {
        let (waiter, message) = state.withLock { state in
            (state.takeWaiter(id),
             "no coordinator answered within \(configuration.callTimeout) at \(configuration.addresses.joined(separator: ", "))\(state.lastError.isEmpty ? "" : " (last error: \(state.lastError))")")
        }
        waiter?.resume(throwing: RPCError(.unavailable, message))
    }

    private func ensureConnecting() {
        let start = state.withLock { state -> Bool in
            guard !state.closed, !state.connecting, state.connection?.isActive != true else { return false }
            state.connecting = true
            return true
        }
        guard start else { return }
        let task = Task { await self.connectLoop() }
        state.withLock { $0.connectTask = task }
    }

    private func connectLoop() async {
        var backoff = Backoff(configuration.backoff)
        var random = SystemRandomNumberGenerator()
        let connectConfiguration = RPCConnection.Configuration(connectTimeout: configuration.connectTimeout, defaultTimeout: configuration.callTimeout, tls: configuration.tls)
        while !Task.isCancelled {
            for _ in configuration.addresses {
                let address = state.withLock { state -> String in
                    defer { state.cursor = (state.cursor + 1) % configuration.addresses.count }
                    return configuration.addresses[state.cursor % configuration.addresses.count]
                }
                guard let target = HostPort(address) else {
                    state.withLock { $0.lastError = "\(address) is not host:port" }
                    continue
                }
                do {
                    let connection = try await RPCConnection.connect(host: target.host, port: target.port, configuration: connectConfiguration, eventLoopGroup: group, logger: logger)
                    if let token = configuration.token {
                        do {
                            _ = try await connection.call("auth", [.string(token)], timeout: configuration.callTimeout)
                        } catch let error as RPCError where error.code == .unauthorized {
                            // Wrong credentials: another address or another try will not help.
                            await connection.close()
                            refused(error)
                            return
                        } catch {
                            await connection.close()
                            throw error
                        }
                    }
                    adopt(connection, address: address)
                    return
                } catch {
                    let reason = (error as? RPCError)?.message ?? "\(error)"
                    state.withLock { $0.lastError = reason.contains(address) ? reason : "\(address): \(reason)" }
                }
            }
            if configuration.failFast {
                // Every address refused: tell whoever waits now rather than at their timeout.
                let (waiters, message) = state.withLock { state in
                    state.connecting = false
                    return (state.takeWaiters(),
                            "no coordinator answered at \(configuration.addresses.joined(separator: ", ")) (last error: \(state.lastError))")
                }
                for waiter in waiters { waiter.resume(throwing: RPCError(.unavailable, message)) }
                return
            }
            try? await Task.sleep(for: backoff.next(using: &random))
        }
        state.withLock { $0.connecting = false }
    }

    /// The coordinator refused this client's token: whoever waits for a connection hears why.
    private func refused(_ error: RPCError) {
        let waiters = state.withLock { state in
            state.connecting = false
            state.connectTask = nil
            state.lastError = error.message
            return state.takeWaiters()
        }
        logger.error("the coordinator refused this client's token", metadata: ["reason": "\(error.message)"])
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    private func adopt(_ connection: RPCConnection, address: String) {
        let (waiters, closed) = state.withLock { state in
            state.connecting = false
            state.connectTask = nil
            guard !state.closed else { return ([CheckedContinuation<RPCConnection, any Error>](), true) }
            state.connection = connection
            state.lastError = ""
            return (state.takeWaiters(), false)
        }
        if closed {
            Task { await connection.close() }
            return
        }
        logger.debug("connected to coordinator", metadata: ["coordinator.address": "\(address)"])
        Task { await self.pump(connection) }
        for waiter in waiters { waiter.resume(returning: connection) }
        let watches = state.withLock { $0.watches.ids }
        for id in watches { Task { await self.subscribe(id) } }
    }

    /// Routes the connection's notifications until it closes, then reconnects if watches need it.
    private func pump(_ connection: RPCConnection) async {
        for await notification in connection.notifications {
            handle(notification, from: connection)
        }
        let reconnect = state.withLock { state -> Bool in
            if state.connection === connection { state.connection = nil }
            state.watches.connectionLost(ObjectIdentifier(connection))
            return !state.closed && !state.watches.isEmpty
        }
        if reconnect {
            logger.info("coordinator connection lost; reconnecting", metadata: ["coordinator.address": "\(connection.peer)"])
            ensureConnecting()
        }
    }

    // MARK: Watches

    private func subscribe(_ id: UInt64) async {
        var backoff = Backoff(configuration.backoff)
        var random = SystemRandomNumberGenerator()
        while !Task.isCancelled {
            let connection: RPCConnection
            do { connection = try await self.connection() } catch {
                guard state.withLock({ $0.watches.contains(id) && !$0.closed }) else { return }
                try? await Task.sleep(for: backoff.next(using: &random))
                continue
            }
            let claim = state.withLock { $0.watches.claim(id, on: ObjectIdentifier(connection)) }
            guard let claim else { return }
            do {
                let result = try await connection.call("watch", [.uint(claim.wire), .string(claim.glob), .int(claim.fromRev)], timeout: configuration.callTimeout)
                let current = result["rev"]?.int64Value ?? 0
                let stale = !state.withLock { $0.watches.subscribed(id, wire: claim.wire, on: ObjectIdentifier(connection), current: current) }
                // The watch ended (or moved on) while this subscription was being made: undo it.
                if stale { _ = try? await connection.call("unwatch", [.uint(claim.wire)]) }
                return
            } catch let error as RPCError where error.code == .unavailable || error.code == .deadlineExceeded {
                state.withLock { $0.watches.subscribeFailed(id) }
                try? await Task.sleep(for: backoff.next(using: &random))
            } catch {
                state.withLock { $0.watches.subscribeRefused(id, wire: claim.wire) }?.finish(throwing: error)
                return
            }
        }
    }

    private func handle(_ notification: RPCNotification, from connection: RPCConnection) {
        guard let first = notification.params.first else { return }
        switch notification.method {
        case "watch":
            // One notification may carry the same events for several watches: [[id, ...], events].
            let wires = first.arrayValue.map { $0.compactMap(\.uint64Value) } ?? first.uint64Value.map { [$0] } ?? []
            guard notification.params.count == 2, let array = notification.params[1].arrayValue else { return }
            let events = array.compactMap { try? TreeEvent(wireValue: $0) }
            // Handed out under the lock: after a reconnect two connections may deliver at
            // once, and a watch's updates must still reach its stream in revision order.
            let paused = state.withLock { state in
                let (updates, paused) = state.watches.events(events, for: wires)
                for (sink, update) in updates { sink.yield(update) }
                return paused
            }
            for wire in paused { Task { _ = try? await connection.call("unwatch", [.uint(wire)]) } }
        case "progress":
            // [id, rev], or [[id, ...], rev] for several idle watches at once.
            let wires = first.arrayValue.map { $0.compactMap(\.uint64Value) } ?? first.uint64Value.map { [$0] } ?? []
            guard notification.params.count == 2, let rev = notification.params[1].int64Value else { return }
            state.withLock { state in
                for (sink, update) in state.watches.progress(rev, for: wires) { sink.yield(update) }
            }
        case "watchCancelled":
            guard let wire = first.uint64Value else { return }
            let error = RPCError(value: notification.params.count > 1 ? notification.params[1] : .nil)
            switch state.withLock({ $0.watches.cancelled(wire: wire, slowConsumer: error.code == .slowConsumer) }) {
            case .resubscribe(let id)?: Task { await self.subscribe(id) }
            case .finish(let sink)?: sink.finish(throwing: error)
            case nil: break
            }
        default:
            break
        }
    }

    private func dropWatch(_ id: UInt64) {
        let (connection, wire) = state.withLock { state -> (RPCConnection?, UInt64?) in
            let wire = state.watches.drop(id, live: state.connection.map(ObjectIdentifier.init))
            return (wire == nil ? nil : state.connection, wire)
        }
        if let connection, let wire { Task { _ = try? await connection.call("unwatch", [.uint(wire)]) } }
    }
}

/// A coordinator watch: an `AsyncSequence` of `WatchUpdate`s (see `CoordinatorClient.watch`).
/// Taking an update tells the client the consumer kept up, which is what lets a paused
/// watch resume.
public struct CoordinatorWatch: AsyncSequence, Sendable {
    public typealias Element = WatchUpdate

    let consumer: WatchConsumer
    let client: CoordinatorClient
    let id: UInt64

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: WatchConsumer
        let client: CoordinatorClient
        let id: UInt64

        public mutating func next() async throws -> WatchUpdate? {
            let update = try await consumer.mailbox.next()
            if update != nil { client.watchConsumed(id) }
            return update
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(consumer: consumer, client: client, id: id)
    }
}
