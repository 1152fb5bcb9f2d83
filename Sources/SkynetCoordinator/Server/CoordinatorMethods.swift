import SkynetTree
import MessagePack
import SkynetRPC

/// The coordinator's MessagePack-RPC methods, positional params (docs/WIRE.md,
/// "Coordinator methods", is the table every language implements), over any
/// `CoordinatorStore`: params are parsed and checked here once, whichever store answers.
/// Reads answer from applied state; writes once durable.
enum CoordinatorMethods {
    /// Bytes of files in one walk page, kept under the RPC layer's 4 MiB frame limit
    /// (a page holds at least one file, and a value is at most 1 MiB).
    static let maxWalkBytes = 3 << 20

    static func router(for store: any CoordinatorStore, access: AccessControl? = nil) -> RPCRouter {
        let limits = store.limits
        var router = RPCRouter()

        // The busiest read: answered from the store's completion, with no task per call
        // when the store reads without waiting (the embedded one).
        router.registerReplying("get") { values, context, reply in
            let path: TreePath, atRev: Int64
            do throws(RPCError) {
                let params = try CoordinatorParams("get", values, names: ["path", "atRev", "serializable"], limits: limits)
                path = try params.path(0)
                try access?.require(.read, path, context, "get")
                atRev = try params.int(1, "atRev", default: 0)
                guard atRev >= 0 else { throw RPCError(.badRequest, "get: params[1] (atRev) must be 0 (now) or a revision, found \(atRev)") }
            } catch {
                reply(.failure(error))
                return
            }
            store.get(path, atRev: atRev == 0 ? nil : atRev) { result in
                reply(result.map { .map(["rev": .int($0.revision), "file": $0.file?.wireValue ?? .nil]) })
            }
        }

        registerWrite("set", &router, store, access) { (values) throws(RPCError) in
            let params = try CoordinatorParams("set", values, names: ["path", "value", "ifRev", "session"], limits: limits)
            let session = params.optional(3) == nil ? 0 : try params.uint(3, "session")
            let operation = TreeOperation.set(path: try params.path(0), value: try params.bytes(1, "value"), ifRev: try params.ifRev(2), session: session == 0 ? nil : session)
            return ([], [operation], [])
        } answer: { result in .map(["rev": .int(result.revision)]) }

        registerWrite("del", &router, store, access) { (values) throws(RPCError) in
            let params = try CoordinatorParams("del", values, names: ["path", "ifRev"], limits: limits)
            return ([], [.del(path: try params.path(0), ifRev: try params.ifRev(1))], [])
        } answer: { result in .map(["rev": .int(result.revision)]) }

        router.registerRaw("getdir") { values, context in
            let params = try CoordinatorParams("getdir", values, names: ["path"], limits: limits)
            let path = try params.path(0)
            let visible = try access.map { access throws(RPCError) in try readable(below: path, access, context, "getdir") }
            var (rev, names) = try await store.getdir(path)
            if let visible {
                // Only the names under which the caller may read something.
                names = names.filter { name in (try? TreePath(path.isRoot ? "/\(name)" : "\(path)/\(name)")).map(visible) ?? false }
            }
            return .map(["rev": .int(rev), "names": .array(names.map { .string($0) })])
        }

        router.registerRaw("walk") { values, context in
            let params = try CoordinatorParams("walk", values, names: ["glob", "after"], limits: limits)
            let glob = try params.glob(0)
            var after = params.optional(1) == nil ? nil : try params.path(1, "after")
            guard let access else {
                let (rev, files, more) = try await store.walk(glob, after: after, maxBytes: maxWalkBytes)
                return .map(["rev": .int(rev), "files": .array(files.map(\.wireValue)), "more": .bool(more)])
            }
            // Filtered, not failed: pages of files the caller may not read are skipped, so
            // a page comes back empty only at the end.
            while true {
                let (_, grant) = try access.authenticated(context, "walk")
                let (rev, files, more) = try await store.walk(glob, after: after, maxBytes: maxWalkBytes)
                let visible = files.filter { AccessPolicy.decide(grant, .read, $0.path) == .allowed }
                if visible.isEmpty, more, let last = files.last {
                    after = last.path
                    continue
                }
                return .map(["rev": .int(rev), "files": .array(visible.map(\.wireValue)), "more": .bool(more)])
            }
        }

        router.registerRaw("stat") { values, context in
            let params = try CoordinatorParams("stat", values, names: ["path"], limits: limits)
            let path = try params.path(0)
            if let access { _ = try readable(below: path, access, context, "stat") }
            let (rev, stat) = try await store.stat(path)
            return .map(["rev": .int(rev), "stat": stat?.wireValue ?? .nil])
        }

        registerWrite("txn", &router, store, access) { (values) throws(RPCError) in
            let params = try CoordinatorParams("txn", values, names: ["compares", "success", "failure"], limits: limits)
            func parse<T>(_ index: Int, _ name: String, _ make: (MessagePackValue, String) throws(WireError) -> T) throws(RPCError) -> [T] {
                var parsed: [T] = []
                for (i, value) in try params.array(index, name).enumerated() {
                    do { parsed.append(try make(value, "txn: \(name)[\(i)]")) } catch { throw error.rpcError }
                }
                return parsed
            }
            let compares = try parse(0, "compares") { (v, c) throws(WireError) in try TxnCompare(wireValue: v, context: c, limits: limits) }
            let success = try parse(1, "success") { (v, c) throws(WireError) in try TreeOperation(wireValue: v, context: c, limits: limits) }
            let failure = try parse(2, "failure") { (v, c) throws(WireError) in try TreeOperation(wireValue: v, context: c, limits: limits) }
            return (compares, success, failure)
        } answer: { result in
            let results: [MessagePackValue] = result.results.map { outcome in
                switch outcome {
                case .written(let rev): .map(["rev": .int(rev)])
                case .read(let file): .map(["file": file?.wireValue ?? .nil])
                }
            }
            return .map(["rev": .int(result.revision), "succeeded": .bool(result.succeeded), "results": .array(results)])
        }

        router.registerRaw("watch") { values, context in
            let params = try CoordinatorParams("watch", values, names: ["watchId", "glob", "fromRev"], limits: limits)
            let id = try params.uint(0, "watchId")
            let glob = try params.glob(1)
            let fromRev = try params.int(2, "fromRev", default: 0)
            guard fromRev >= 0 else { throw RPCError(.badRequest, "watch: params[2] (fromRev) must be 0 (from now) or a revision, found \(fromRev)") }
            if let access { _ = try access.authenticated(context, "watch") }
            let filter = access?.readFilter(context.connection)
            let rev = try await store.watch(connection: context.connection, clientID: id, glob: glob, fromRev: fromRev, filter: filter)
            return .map(["watchId": .uint(id), "rev": .int(rev)])
        }

        router.registerRaw("unwatch") { values, context in
            let params = try CoordinatorParams("unwatch", values, names: ["watchId"], limits: limits)
            return .bool(await store.unwatch(connection: context.connection, clientID: try params.uint(0, "watchId")))
        }

        router.registerRaw("openSession") { values, context in
            let opener = try access?.authenticated(context, "openSession").0
            let params = try CoordinatorParams("openSession", values, names: ["ttlMs"], limits: limits)
            let ttl = try params.int(0, "ttlMs", default: 5_000)
            let range = store.sessionTTLRange
            guard range.contains(.milliseconds(ttl)) else {
                throw RPCError(.badRequest, "openSession: params[0] (ttlMs) must be between \(range.lowerBound) and \(range.upperBound), found \(ttl) ms")
            }
            let (id, granted) = try await store.openSession(ttl: .milliseconds(ttl))
            if let access, let opener {
                do {
                    try await access.recordOwner(of: id, opener, store: store)
                } catch {
                    _ = try? await store.closeSession(id)   // a session nobody may use is no use
                    throw error
                }
            }
            return .map(["session": .uint(id), "ttlMs": .int(milliseconds(granted))])
        }

        router.registerRaw("keepAlive") { values, context in
            let params = try CoordinatorParams("keepAlive", values, names: ["session"], limits: limits)
            let session = try params.uint(0, "session")
            if let access { try await access.requireOwner(of: session, context, store: store, method: "keepAlive") }
            let ttl = try await store.keepAlive(session)
            return .map(["ttlMs": .int(milliseconds(ttl))])
        }

        router.registerRaw("closeSession") { values, context in
            let params = try CoordinatorParams("closeSession", values, names: ["session"], limits: limits)
            let session = try params.uint(0, "session")
            if let access { try await access.requireOwner(of: session, context, store: store, method: "closeSession") }
            let (rev, deleted) = try await store.closeSession(session)
            access?.forget(session: session)
            return .map(["rev": .int(rev), "deleted": .int(Int64(deleted))])
        }

        router.registerRaw("status") { values, _ in
            _ = try CoordinatorParams("status", values, names: [], limits: limits)
            let status = await store.status()
            return .map([
                "name": .string(status.name), "revision": .int(status.revision), "oldestRevision": .int(status.oldestRevision),
                "appliedIndex": .uint(status.appliedIndex), "files": .int(Int64(status.files)),
                "sessions": .int(Int64(status.sessions)), "watches": .int(Int64(status.watches)),
                "dataSize": .int(Int64(status.dataSize)), "fsyncs": .int(Int64(status.fsyncs)),
                "store": .string(status.store), "isLeader": .bool(status.isLeader),
                "leader": .string(status.members.first(where: \.isLeader)?.name ?? ""),
                "members": .array(status.members.map { member in
                    .map([
                        "name": .string(member.name), "id": .string(member.id),
                        "clientURLs": .array(member.clientURLs.map { .string($0) }),
                        "leader": .bool(member.isLeader), "raftTerm": .uint(member.raftTerm),
                        "dbSize": .int(Int64(member.dbSize)), "healthy": .bool(member.isHealthy),
                    ])
                }),
            ])
        }
        registerAuth(&router, access)
        RPCMethodMetrics(server: "coordinator").instrument(&router)
        return router
    }

    /// `auth` (a connection presents its token) and `checkAccess` (may this token do that?,
    /// what a service asks before obeying an admin call). Without access control both
    /// answer `enabled: false`: a client configured with a token works on an open coordinator.
    private static func registerAuth(_ router: inout RPCRouter, _ access: AccessControl?) {
        router.registerRaw("auth") { values, context in
            let params = try CoordinatorParams("auth", values, names: ["token"], limits: .default)
            let token = try params.string(0, "token")
            guard let access else { return .map(["enabled": .bool(false)]) }
            let principal = try access.authenticate(token, connection: context.connection)
            return .map(["enabled": .bool(true), "principal": .string(access.policy.describe(principal))])
        }
        router.registerRaw("checkAccess") { values, context in
            let params = try CoordinatorParams("checkAccess", values, names: ["token", "path", "permission", "certificate"], limits: .default)
            let token = try params.string(0, "token")
            let path = try params.path(1)
            let name = try params.string(2, "permission")
            guard let permission = AccessPermission(rawValue: name) else {
                throw RPCError(.badRequest, "checkAccess: params[2] (permission) must be read, write or admin, found \"\(name)\"")
            }
            guard let access else { return .map(["enabled": .bool(false), "allowed": .bool(true)]) }
            let policy = access.policy
            let principal: AccessPrincipal
            if token.isEmpty, params.optional(3) != nil {
                // Asked by an instance about a caller's verified client certificate: only
                // an authenticated caller may ask about a name, which proves nothing itself.
                _ = try access.authenticated(context, "checkAccess")
                let name = try params.string(3, "certificate")
                guard let known = policy.principal(certificate: name) else {
                    throw RPCError(.unauthorized, "checkAccess: certificate \"\(name)\" has no roles")
                }
                principal = known
            } else {
                principal = try access.resolve(token)
            }
            do throws(RPCError) {
                try AccessControl.check(policy.decide(principal, permission, path), path, principal: principal, policy: policy, method: "checkAccess")
                return .map(["enabled": .bool(true), "allowed": .bool(true), "principal": .string(policy.describe(principal))])
            } catch {
                return .map(["enabled": .bool(true), "allowed": .bool(false), "principal": .string(policy.describe(principal)), "reason": .string(error.message)])
            }
        }
    }

    /// Throws unless the caller may read `path` or something below it; returns the test of
    /// which paths below it the caller may see.
    private static func readable(below path: TreePath, _ access: AccessControl, _ context: RPCCallContext, _ method: String) throws(RPCError) -> @Sendable (TreePath) -> Bool {
        let (principal, _) = try access.authenticated(context, method)
        let policy = access.policy
        guard policy.mayRead(principal, atOrBelow: path) else {
            try access.check(.denied(AuthPaths.isReserved(path) ? .admin : .read), path, principal: principal, method: method)
            return { _ in false }
        }
        return { policy.mayRead(principal, atOrBelow: $0) }
    }

    /// Throws unless the caller may run the transaction: `read` on what it compares and
    /// gets, `write` on what it sets and deletes; records written under the reserved prefix
    /// must parse. Says whether it writes there (the policy is re-read before answering)
    /// and which sessions it binds files to (the caller must own them).
    private static func authorize(
        _ txn: (compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]),
        _ access: AccessControl, _ context: RPCCallContext, _ method: String
    ) throws(RPCError) -> (touchesAuth: Bool, sessions: Set<UInt64>) {
        let (principal, grant) = try access.authenticated(context, method)
        func check(_ permission: AccessPermission, _ path: TreePath) throws(RPCError) {
            let decision = AccessPolicy.decide(grant, permission, path)
            if decision != .allowed { try access.check(decision, path, principal: principal, method: method) }
        }
        var touchesAuth = false
        var sessions: Set<UInt64> = []
        func check(_ operation: TreeOperation) throws(RPCError) {
            try check(operation.isWrite ? .write : .read, operation.path)
            if case let .set(_, _, _, session?) = operation { sessions.insert(session) }
            guard operation.isWrite, AuthPaths.isReserved(operation.path) else { return }
            touchesAuth = true
            if case let .set(path, value, _, _) = operation {
                do throws(AccessRecordError) { try AccessRecords.validate(value, at: path) } catch {
                    throw RPCError(.badRequest, "\(method): \(path): \(error.message)")
                }
            }
        }
        for compare in txn.compares { try check(.read, compare.path) }
        for operation in txn.success { try check(operation) }
        for operation in txn.failure { try check(operation) }
        return (touchesAuth, sessions)
    }

    /// Registers a write method: `parse` turns its params into a transaction, `answer` the
    /// transaction's result into the reply. Answered from the store's completion (for the
    /// embedded store, the batch its fsync made durable), with no task per write.
    private static func registerWrite(
        _ method: String, _ router: inout RPCRouter, _ store: any CoordinatorStore, _ access: AccessControl?,
        parse: @escaping @Sendable ([MessagePackValue]) throws(RPCError) -> (compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]),
        answer: @escaping @Sendable (TxnResult) -> MessagePackValue
    ) {
        router.registerReplying(method) { values, context, reply in
            let txn: (compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation])
            var checked = (touchesAuth: false, sessions: Set<UInt64>())
            do throws(RPCError) {
                txn = try parse(values)
                if let access { checked = try authorize(txn, access, context, method) }
            } catch {
                reply(.failure(error))
                return
            }
            guard let access, checked.touchesAuth || !checked.sessions.isEmpty else {
                store.txn(compares: txn.compares, success: txn.success, failure: txn.failure) { result in reply(result.map(answer)) }
                return
            }
            // Rare writes (records under /skynet/auth, files bound to a session) take a task:
            // the session's owner may need reading, and a change to roles or tokens is in
            // force on this coordinator once acknowledged.
            Task {
                do {
                    for session in checked.sessions { try await access.requireOwner(of: session, context, store: store, method: method) }
                    let result = try await store.txn(compares: txn.compares, success: txn.success, failure: txn.failure)
                    if checked.touchesAuth { await access.refresh(from: store) }
                    reply(.success(answer(result)))
                } catch {
                    reply(.failure(error as? RPCError ?? RPCError(.internal, "\(error)")))
                }
            }
        }
    }

    /// Whole milliseconds of `duration`, as the wire carries TTLs.
    private static func milliseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
    }
}
