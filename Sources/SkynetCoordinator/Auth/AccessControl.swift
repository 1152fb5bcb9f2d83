import Logging
import SkynetCertificates
import SkynetRPC
import SkynetTree
import Synchronization

/// A coordinator's access control: who each connection speaks for, and whether that
/// principal may do what it asks, by the current `AccessPolicy`.
///
/// The shell around the policy: it keeps the principal of each authenticated connection,
/// re-reads the records under `AuthPaths.prefix` from the store (`refresh`) after a write
/// there through this coordinator and periodically (writes through another front), and
/// turns decisions into `Unauthorized` and `Forbidden` errors that name the path and the
/// permission, never a value. A principal is checked against the policy on every call, so
/// a revoked token stops working on connections that authenticated with it.
package final class AccessControl: Sendable {
    private struct State {
        var policy: AccessPolicy
        /// Bumped whenever a new policy is installed: connections' cached grants older
        /// than it are looked up again.
        var generation: UInt64 = 0
        var connections: [ObjectIdentifier: Caller] = [:]

        /// The caller of a connection with its grant brought up to the policy in force.
        mutating func caller(_ id: ObjectIdentifier) -> Caller? {
            guard var caller = connections[id] else { return nil }
            if caller.generation != generation {
                caller.grant = policy.grant(for: caller.principal)
                caller.generation = generation
                connections[id] = caller
            }
            return caller
        }

        /// Makes `principal` who connection `id` speaks for; true when it had no principal yet.
        mutating func bind(_ principal: AccessPrincipal, to id: ObjectIdentifier) -> Bool {
            defer { connections[id] = Caller(principal: principal, grant: policy.grant(for: principal), generation: generation) }
            return connections[id] == nil
        }
    }

    /// An authenticated connection: its principal and that principal's grant as of
    /// `generation` (nil: revoked).
    private struct Caller {
        var principal: AccessPrincipal
        var grant: AccessGrant?
        var generation: UInt64
    }

    private let state: Mutex<State>
    /// Owners of sessions seen through this coordinator (opened here, or read from their
    /// records), so keepalives need no read of the store.
    private let sessionOwners = Mutex<[UInt64: AccessPrincipal]>([:])
    /// The secret the coordinator's own in-process clients (its timer service, its
    /// dashboard) present; it lives only in this process's memory.
    package let localToken: String
    private let logger: Logger

    package init(policy: AccessPolicy, logger: Logger) {
        state = Mutex(State(policy: policy))
        localToken = AccessToken.generate()
        self.logger = logger
    }

    /// The policy in force.
    package var policy: AccessPolicy { state.withLock { $0.policy } }

    // MARK: Start

    /// Access control for `store`, or nil when auth is off: it is on when `bootstrapTokens`
    /// are given (they are written as `root` tokens if the store has no `root` role yet) or
    /// when the store already holds auth records (a coordinator restarted without the flag
    /// stays locked).
    package static func load(store: any CoordinatorStore, bootstrapTokens: [String]?, logger: Logger) async throws -> AccessControl? {
        if let bootstrapTokens {
            if try await bootstrap(store: store, tokens: bootstrapTokens) {
                logger.notice("auth bootstrapped: role \(AuthPaths.rootRole) and \(bootstrapTokens.count) token(s) written")
            }
        }
        let policy = try await read(from: store)
        guard bootstrapTokens != nil || !policy.isEmpty else { return nil }
        for problem in policy.problems { logger.warning("auth record skipped: \(problem)") }
        return AccessControl(policy: policy, logger: logger)
    }

    /// Writes the `root` role (`admin` on everything) and a token record for each of
    /// `tokens`, unless the store has a `root` role already. True when it wrote them.
    package static func bootstrap(store: any CoordinatorStore, tokens: [String]) async throws -> Bool {
        let rootPath = try AuthPaths.path(.roles, AuthPaths.rootRole)
        var writes: [TreeOperation] = [.set(path: rootPath, value: AccessRecords.encode(AccessRole(rules: [AccessRule(glob: try TreeGlob("/**"), permissions: [.admin])])), ifRev: 0, session: nil)]
        for (index, token) in tokens.enumerated() {
            let record = AccessTokenRecord(name: tokens.count == 1 ? "bootstrap" : "bootstrap-\(index + 1)", sha256: AccessToken.sha256(token), roles: [AuthPaths.rootRole])
            writes.append(.set(path: try AuthPaths.path(.tokens, AccessToken.id(token)), value: AccessRecords.encode(record), ifRev: -1, session: nil))
        }
        let result = try await store.txn(compares: [TxnCompare(rootPath, .exists(false))], success: writes, failure: [])
        return result.succeeded
    }

    /// The role, token and certificate records, read from the store (session records,
    /// one per open session, are read one at a time when needed).
    private static func read(from store: any CoordinatorStore) async throws -> AccessPolicy {
        var files: [TreeFile] = []
        var revision: Int64 = 0
        for kind in [AuthPaths.Kind.roles, .tokens, .certs] {
            let glob = try TreeGlob("\(AuthPaths.prefix)/\(kind.rawValue)/*")
            var after: TreePath?
            while true {
                let page = try await store.walk(glob, after: after, maxBytes: 1 << 20)
                if revision == 0 { revision = page.revision }
                files += page.files
                guard page.more, let last = page.files.last else { break }
                after = last.path
            }
        }
        return AccessPolicy(files: files, revision: revision)
    }

    /// Re-reads the records; a read older than the policy in force is dropped.
    package func refresh(from store: any CoordinatorStore) async {
        do {
            let fresh = try await Self.read(from: store)
            let installed = state.withLock { state -> Bool in
                guard fresh.revision >= state.policy.revision else { return false }
                state.policy = fresh
                state.generation &+= 1
                return true
            }
            if installed { for problem in fresh.problems { logger.debug("auth record skipped: \(problem)") } }
        } catch {
            logger.warning("could not re-read auth records: \(error)")
        }
    }

    // MARK: Connections

    /// Authenticates `connection` with `token`; returns who it now speaks for.
    package func authenticate(_ token: String, connection: RPCServerConnection) throws(RPCError) -> AccessPrincipal {
        let principal = try resolve(token)
        bind(principal, to: connection)
        return principal
    }

    /// Makes `principal` who `connection` speaks for from now on.
    private func bind(_ principal: AccessPrincipal, to connection: RPCServerConnection) {
        if state.withLock({ $0.bind(principal, to: connection.id) }) { forgetOnClose(connection) }
    }

    /// Drops the connection's principal once it closes (registered on its first binding).
    private func forgetOnClose(_ connection: RPCServerConnection) {
        let id = connection.id
        connection.onClose { [weak self] in self?.state.withLock { _ = $0.connections.removeValue(forKey: id) } }
    }

    /// The principal a token speaks for, without binding it to a connection.
    package func resolve(_ token: String) throws(RPCError) -> AccessPrincipal {
        if AccessPolicy.constantTimeEqual(token, localToken) { return .local }
        guard token.utf8.count >= AccessToken.minimumLength, token.utf8.count <= 512,
              let principal = policy.principal(tokenID: AccessToken.id(token), sha256: AccessToken.sha256(token)) else {
            throw RPCError(.unauthorized, "auth: the token is not valid (unknown, revoked or mistyped)")
        }
        return principal
    }

    /// Throws `Unauthorized` unless the connection authenticated with a principal still on
    /// record; returns the principal and its grant. Costs one lock and one table lookup:
    /// the grant is cached per connection until the policy changes.
    ///
    /// A connection that presented a verified client certificate (mutual TLS) whose name
    /// is on record (`/skynet/auth/certs/<name>`) speaks for it without `auth`.
    package func authenticated(_ context: RPCCallContext, _ method: String) throws(RPCError) -> (AccessPrincipal, AccessGrant) {
        let connection = context.connection
        let (caller, boundNow) = state.withLock { state -> (Caller?, Bool) in
            if let caller = state.caller(connection.id) { return (caller, false) }
            // First call of a connection with a verified certificate on record: one lookup, then bound.
            guard let name = context.peerCertificateName, let principal = state.policy.principal(certificate: name) else { return (nil, false) }
            _ = state.bind(principal, to: connection.id)
            return (state.caller(connection.id), true)
        }
        if boundNow { forgetOnClose(connection) }
        guard let caller else {
            if let name = context.peerCertificateName {
                throw RPCError(.unauthorized, "\(method): this coordinator requires authentication, and certificate \"\(name)\" has no roles (sky auth cert add \(name) -role=...); or call auth with a token")
            }
            throw RPCError(.unauthorized, "\(method): this coordinator requires authentication; call auth with a token first (sky --token, SKYNET_TOKEN)")
        }
        guard let grant = caller.grant else {
            throw RPCError(.unauthorized, "\(method): \(caller.principal) is no longer valid (revoked); authenticate with another token")
        }
        return (caller.principal, grant)
    }

    /// Throws unless the connection's principal may do `permission` on `path`.
    package func require(_ permission: AccessPermission, _ path: TreePath, _ context: RPCCallContext, _ method: String) throws(RPCError) {
        let (principal, grant) = try authenticated(context, method)
        let decision = AccessPolicy.decide(grant, permission, path)
        if decision != .allowed { try check(decision, path, principal: principal, method: method) }
    }

    /// Throws the error for a decision that is not `.allowed`, naming the principal by the
    /// policy in force.
    package func check(_ decision: AccessDecision, _ path: TreePath, principal: AccessPrincipal, method: String) throws(RPCError) {
        try Self.check(decision, path, principal: principal, policy: policy, method: method)
    }

    /// Turns a decision into nothing (allowed) or the error that says why not.
    package static func check(_ decision: AccessDecision, _ path: TreePath, principal: AccessPrincipal, policy: AccessPolicy, method: String) throws(RPCError) {
        switch decision {
        case .allowed:
            return
        case .denied(let needed):
            let who = policy.describe(principal)
            let reserved = AuthPaths.isReserved(path) ? " (\(AuthPaths.prefix) is reserved for admin)" : ""
            throw RPCError(.forbidden, "\(method): \(who) lacks \(needed.rawValue) on \(path)\(reserved)")
        case .unknownPrincipal:
            throw RPCError(.unauthorized, "\(method): \(principal) is no longer valid (revoked); authenticate with another token")
        }
    }

    // MARK: Sessions

    /// Records that `principal` opened `session`: a file bound to the session
    /// itself, so it goes when the session does, on any store and for every front.
    package func recordOwner(of session: UInt64, _ principal: AccessPrincipal, store: any CoordinatorStore) async throws {
        let path = try AuthPaths.path(.sessions, String(session))
        _ = try await store.txn(compares: [], success: [.set(path: path, value: AccessRecords.encode(AccessSessionRecord(owner: principal)), ifRev: -1, session: session)], failure: [])
        sessionOwners.withLock { owners in
            if owners.count >= 100_000 { owners.removeAll() }   // a cache: records are the truth
            owners[session] = principal
        }
    }

    /// Throws unless the caller of `context` opened `session` (or holds `admin` on its
    /// record): a token that may read the registry cannot end another's registrations by
    /// closing their session. A session without an owner record (gone, or never opened
    /// under auth) is `SessionNotFound` to all but `admin`, as a closed one is to anyone,
    /// so an owner whose session expired learns it the usual way on any front.
    package func requireOwner(of session: UInt64, _ context: RPCCallContext, store: any CoordinatorStore, method: String) async throws {
        let (principal, grant) = try authenticated(context, method)
        let path = try AuthPaths.path(.sessions, String(session))
        if principal == .local || grant.allows(.admin, path) { return }
        var owner = sessionOwners.withLock { $0[session] }
        if owner == nil, let file = try await store.get(path, atRev: nil).file {
            owner = try? AccessRecords.session(from: file.value)
            if let owner { sessionOwners.withLock { $0[session] = owner } }
        }
        guard let owner else {
            throw RPCError(.sessionNotFound, "\(method): session \(session) does not exist (it expired, was closed, or was never opened)", data: .map(["session": .uint(session)]))
        }
        guard owner == principal else {
            throw RPCError(.forbidden, "\(method): session \(session) was opened by another caller; \(policy.describe(principal)) may only use its own sessions")
        }
    }

    /// Forgets a closed session's owner.
    package func forget(session: UInt64) {
        sessionOwners.withLock { _ = $0.removeValue(forKey: session) }
    }

    /// What the connection may read, asked per path when events are delivered (a
    /// principal revoked later sees nothing more).
    package func readFilter(_ connection: RPCServerConnection) -> WatchFilter {
        let id = connection.id
        return { [weak self] path in
            guard let self else { return false }
            return state.withLock { state in
                guard let grant = state.caller(id)?.grant else { return false }
                return AccessPolicy.decide(grant, .read, path) == .allowed
            }
        }
    }
}
