import SkynetTree
import MessagePack
import SkynetRPC

/// The coordinator's MessagePack-RPC methods, positional params (see docs/ARCHITECTURE.md
/// for the full table). Reads answer from applied state; writes answer once durable.
enum CoordinatorMethods {
    /// Bytes of files in one walk page, kept under the RPC layer's 4 MiB frame limit
    /// (a page holds at least one file, and a value is at most 1 MiB).
    static let maxWalkBytes = 3 << 20

    static func router(for node: CoordinatorNode) -> RPCRouter {
        let limits = node.configuration.treeLimits
        var router = RPCRouter()

        router.registerRaw("get") { values, _ in
            let params = try CoordinatorParams("get", values, names: ["path", "atRev", "serializable"], limits: limits)
            let path = try params.path(0)
            let atRev = try params.int(1, "atRev", default: 0)
            guard atRev >= 0 else { throw RPCError(.badRequest, "get: params[1] (atRev) must be 0 (now) or a revision, found \(atRev)") }
            return try node.read { (machine) throws(RPCError) -> MessagePackValue in
                do throws(TreeError) {
                    let file = try machine.tree.get(path, atRev: atRev == 0 ? nil : atRev)
                    return .map(["rev": .int(machine.tree.revision), "file": file?.wireValue ?? .nil])
                } catch { throw error.rpcError }
            }
        }

        router.registerRaw("set") { values, _ in
            let params = try CoordinatorParams("set", values, names: ["path", "value", "ifRev", "session"], limits: limits)
            let session = params.optional(3) == nil ? 0 : try params.uint(3, "session")
            let operation = TreeOperation.set(path: try params.path(0), value: try params.bytes(1, "value"), ifRev: try params.ifRev(2), session: session == 0 ? nil : session)
            return try await revisionOf(node, operation)
        }

        router.registerRaw("del") { values, _ in
            let params = try CoordinatorParams("del", values, names: ["path", "ifRev"], limits: limits)
            return try await revisionOf(node, .del(path: try params.path(0), ifRev: try params.ifRev(1)))
        }

        router.registerRaw("getdir") { values, _ in
            let params = try CoordinatorParams("getdir", values, names: ["path"], limits: limits)
            let path = try params.path(0)
            return try node.read { (machine) throws(RPCError) -> MessagePackValue in
                do throws(TreeError) {
                    let names = try machine.tree.getdir(path)
                    return .map(["rev": .int(machine.tree.revision), "names": .array(names.map { .string($0) })])
                } catch { throw error.rpcError }
            }
        }

        router.registerRaw("walk") { values, _ in
            let params = try CoordinatorParams("walk", values, names: ["glob", "after"], limits: limits)
            let glob = try params.glob(0)
            let after = params.optional(1) == nil ? nil : try params.path(1, "after")
            let (rev, page) = await node.walk(glob, after: after, maxBytes: maxWalkBytes)
            return .map(["rev": .int(rev), "files": .array(page.files.map(\.wireValue)), "more": .bool(page.more)])
        }

        router.registerRaw("stat") { values, _ in
            let params = try CoordinatorParams("stat", values, names: ["path"], limits: limits)
            let path = try params.path(0)
            return node.read { machine in
                .map(["rev": .int(machine.tree.revision), "stat": machine.tree.stat(path)?.wireValue ?? .nil])
            }
        }

        router.registerRaw("txn") { values, _ in
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
            for operation in success + failure { try node.precheck(operation) }
            guard case .txn(let result) = try await node.write(.txn(compares: compares, success: success, failure: failure)) else {
                throw RPCError(.internal, "txn produced an unexpected result")
            }
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
            let rev = try node.watch(connection: context.connection, clientID: id, glob: glob, fromRev: fromRev)
            return .map(["watchId": .uint(id), "rev": .int(rev)])
        }

        router.registerRaw("unwatch") { values, context in
            let params = try CoordinatorParams("unwatch", values, names: ["watchId"], limits: limits)
            return .bool(node.unwatch(connection: context.connection, clientID: try params.uint(0, "watchId")))
        }

        router.registerRaw("openSession") { values, _ in
            let params = try CoordinatorParams("openSession", values, names: ["ttlMs"], limits: limits)
            let ttl = try params.int(0, "ttlMs", default: 5_000)
            let range = node.configuration.sessionTTLRange
            guard range.contains(.milliseconds(ttl)) else {
                throw RPCError(.badRequest, "openSession: params[0] (ttlMs) must be between \(range.lowerBound) and \(range.upperBound), found \(ttl) ms")
            }
            guard case let .sessionOpened(id, granted) = try await node.write(.openSession(ttlMilliseconds: ttl)) else {
                throw RPCError(.internal, "openSession produced an unexpected result")
            }
            return .map(["session": .uint(id), "ttlMs": .int(granted)])
        }

        router.registerRaw("keepAlive") { values, _ in
            let params = try CoordinatorParams("keepAlive", values, names: ["session"], limits: limits)
            let ttl = try node.keepAlive(try params.uint(0, "session"))
            return .map(["ttlMs": .int(Int64(ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000))])
        }

        router.registerRaw("closeSession") { values, _ in
            let params = try CoordinatorParams("closeSession", values, names: ["session"], limits: limits)
            guard case let .sessionEnded(_, rev, files) = try await node.write(.closeSession(try params.uint(0, "session"))) else {
                throw RPCError(.internal, "closeSession produced an unexpected result")
            }
            return .map(["rev": .int(rev), "deleted": .int(Int64(files))])
        }

        router.registerRaw("status") { values, _ in
            _ = try CoordinatorParams("status", values, names: [], limits: limits)
            let status = node.status()
            return .map([
                "name": .string(status.name), "revision": .int(status.revision), "oldestRevision": .int(status.oldestRevision),
                "appliedIndex": .uint(status.appliedIndex), "files": .int(Int64(status.files)),
                "sessions": .int(Int64(status.sessions)), "watches": .int(Int64(status.watches)),
                "dataSize": .int(Int64(status.dataSize)), "fsyncs": .int(Int64(status.fsyncs)),
                "leader": .string(status.name), "isLeader": .bool(status.isLeader),
                "members": .array([.string(status.name)]),
            ])
        }
        return router
    }

    /// Checks, proposes and answers a single-operation write with its revision.
    private static func revisionOf(_ node: CoordinatorNode, _ operation: TreeOperation) async throws -> MessagePackValue {
        try node.precheck(operation)
        guard case .txn(let result) = try await node.write(.txn(compares: [], success: [operation], failure: [])) else {
            throw RPCError(.internal, "write produced an unexpected result")
        }
        return .map(["rev": .int(result.revision)])
    }
}
