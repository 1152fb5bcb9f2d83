import EtcdAPI
import Foundation
import GRPCCore
import Logging
import SkynetCoordinator
import SkynetRPC
import SkynetTree
import Synchronization

/// The coordinator's tree in an etcd cluster: any number of stateless `skynetd` fronts
/// serve the same tree with the embedded store's semantics (see `CoordinatorStore`).
///
/// - One global revision: etcd's. A write is one etcd `Txn` whose compares carry the tree
///   rules (`EtcdTxnPlan`); reads are etcd's linearizable ranges.
/// - Paths map onto keys as `EtcdKeys` says.
/// - Sessions are etcd leases; a session-bound file is a key attached to the lease, so etcd
///   deletes a session's files together, in one revision, when the lease expires or is
///   revoked. A session belongs to the client, not to the front: any front can keep it alive.
/// - Watches: the front holds one etcd watch stream over the whole tree and fans its events
///   out to its clients by glob (`WatchHub`, `WatchConnections`), as etcd's gRPC proxy
///   does: etcd sees one watcher per front, not one per client.
public final class EtcdStore: CoordinatorStore {
    public let limits: TreeLimits
    public let sessionTTLRange: ClosedRange<Duration>
    /// The etcd client in use.
    public let client: EtcdClient
    /// How paths map onto keys.
    public let keys: EtcdKeys
    /// This front's name, as `status` reports it.
    public let name: String

    struct Watching: ~Copyable {
        var hub: WatchHub
        var watchers: WatchConnections
    }

    let watching: Mutex<Watching>
    let progressInterval: Duration
    let logger: Logger
    private let feed = Mutex<Task<Void, Never>?>(nil)
    /// Writes, each sharing an etcd `Txn` with those that arrive while the store's calls
    /// are busy.
    private let writes: EtcdBatchedCalls<Etcdserverpb_TxnRequest, Etcdserverpb_TxnResponse>
    /// Linearizable reads of the current revision, batched the same way (apart from writes:
    /// a read-only `Txn` is served by etcd's read index, not through the log).
    private let reads: EtcdBatchedCalls<Etcdserverpb_RangeRequest, Etcdserverpb_RangeResponse>

    /// A store over the cluster `client` talks to. Reads etcd's current revision (so it
    /// throws `Unavailable` when the cluster cannot answer) and starts following it.
    ///
    /// Writes go to etcd at most `maxCallsInFlight` calls at a time, and so do linearizable
    /// reads: what arrives while those are out shares the next call (`EtcdBatcher`).
    public init(
        client: EtcdClient, name: String, keys: EtcdKeys = EtcdKeys(), limits: TreeLimits = .default,
        sessionTTLRange: ClosedRange<Duration> = .seconds(1)...Duration.seconds(300),
        watchLimits: WatchHubLimits = .init(), maxWatchesPerConnection: Int = 10_000,
        progressInterval: Duration = .seconds(1), maxCallsInFlight: Int = 8, logger: Logger
    ) async throws {
        self.client = client
        self.name = name
        self.keys = keys
        self.limits = limits
        self.sessionTTLRange = sessionTTLRange
        self.progressInterval = progressInterval
        self.logger = logger
        let batching = EtcdBatcher.Limits(maxInFlight: maxCallsInFlight)
        writes = EtcdBatchedCalls("txn", limits: batching, alone: { request in
            try await client.call("txn") { try await client.kv.txn(request, options: client.options) }
        }, together: { requests in
            var outer = Etcdserverpb_TxnRequest()
            outer.success = requests.map { request in .with { $0.requestTxn = request } }
            let response = try await client.kv.txn(outer, options: client.options)
            return requests.indices.map { EtcdTxnPlan.answer(at: $0, of: response) }
        })
        reads = EtcdBatchedCalls("get", limits: batching, alone: { request in
            try await client.kv.range(request, options: client.options)
        }, together: { requests in
            var outer = Etcdserverpb_TxnRequest()
            outer.success = requests.map { request in .with { $0.requestRange = request } }
            let response = try await client.kv.txn(outer, options: client.options)
            return requests.indices.map { index in
                guard index < response.responses.count, case .responseRange(var own) = response.responses[index].response else { return nil }
                own.header = response.header
                return own
            }
        })
        let revision = try await client.call("read the current revision") {
            try await client.kv.range(.with { $0.key = keys.key(.root); $0.countOnly = true }, options: client.options).header.revision
        }
        watching = Mutex(Watching(
            hub: WatchHub(revision: revision, limits: watchLimits),
            watchers: WatchConnections(maxWatchesPerConnection: maxWatchesPerConnection)))
        // The task holds the store until `stop()` cancels it.
        let task = Task { await self.follow(from: revision + 1) }
        feed.withLock { $0 = task }
    }

    /// Stops following etcd; call it before letting the store go. The client stays open
    /// (it is the caller's).
    public func close() async {
        let task = feed.withLock { task in defer { task = nil }; return task }
        task?.cancel()
        await task?.value
    }

    // MARK: Reads

    public func get(_ path: TreePath, atRev: Int64?) async throws -> (revision: Int64, file: TreeFile?) {
        do {
            let request = Etcdserverpb_RangeRequest.with { $0.key = keys.key(path); $0.revision = atRev ?? 0 }
            let response = try await atRev == nil ? reads.send(request) : client.kv.range(request, options: client.options)
            return (response.header.revision, response.kvs.first.map { TreeFile(path: path, etcd: $0) })
        } catch let error as GRPCCore.RPCError where atRev != nil && error.message.contains("compacted") {
            let oldest = try await oldestRevision()
            throw TreeError.compacted(requested: atRev!, oldest: oldest).rpcError
        } catch let error as GRPCCore.RPCError where atRev != nil && error.message.contains("future revision") {
            let current = try await currentRevision()
            throw TreeError.futureRevision(requested: atRev!, current: current).rpcError
        } catch {
            throw EtcdFailure.rpcError(error, "get \(path)")
        }
    }

    public func getdir(_ path: TreePath) async throws -> (revision: Int64, names: [String]) {
        let (revision, names) = try await children(path)
        if names.isEmpty, !path.isRoot { throw TreeError.notFound(path: path.string).rpcError }
        return (revision, names)
    }

    public func stat(_ path: TreePath) async throws -> (revision: Int64, stat: TreeNodeStat?) {
        let response = try await client.call("stat \(path)") {
            try await client.kv.range(.with { $0.key = keys.key(path) }, options: client.options)
        }
        if let kv = response.kvs.first { return (response.header.revision, .file(TreeFile(path: path, etcd: kv).stat)) }
        let (revision, names) = try await children(path, at: response.header.revision)
        if names.isEmpty, !path.isRoot { return (revision, nil) }
        return (revision, .directory(children: names.count))
    }

    /// The names in `directory` at one revision (`at`, else now), skipping each child's
    /// subtree after its first key so a listing costs one range per thousand children.
    private func children(_ directory: TreePath, at revision: Int64 = 0) async throws -> (revision: Int64, names: [String]) {
        let range = keys.below(directory)
        var start = range.start
        var revision = revision
        var names: [String] = []
        while true {
            let response = try await client.call("getdir \(directory)") {
                try await client.kv.range(.with {
                    $0.key = start
                    $0.rangeEnd = range.end
                    $0.keysOnly = true
                    $0.limit = 1_000
                    $0.revision = revision
                }, options: client.options)
            }
            revision = response.header.revision
            for kv in response.kvs {
                guard let path = keys.path(kv.key) else { continue }
                let name = String(path.segments[directory.segments.count])
                if names.last != name { names.append(name) }
            }
            guard response.more, let last = names.last else { return (revision, names) }
            start = keys.after(directory.child(last))
        }
    }

    public func walk(_ glob: TreeGlob, after: TreePath?, maxBytes: Int) async throws -> (revision: Int64, files: [TreeFile], more: Bool) {
        let range = keys.atOrBelow(glob.literalPrefix)
        var start = after.map { keys.key($0) + [0] } ?? range.start
        var revision: Int64 = 0
        var files: [TreeFile] = []
        var budget = maxBytes
        while true {
            let response = try await client.call("walk \(glob)") {
                try await client.kv.range(.with {
                    $0.key = start
                    $0.rangeEnd = range.end
                    // Values are up to 1 MiB each: 16 keep an answer well under the message limit.
                    $0.limit = 16
                    $0.revision = revision
                }, options: client.options)
            }
            revision = response.header.revision
            for kv in response.kvs {
                guard let path = keys.path(kv.key), glob.matches(path) else { continue }
                // As on the embedded store: a page holds at least one file, and stops before its
                // budget would be passed.
                let found = TreeFile(path: path, etcd: kv)
                if !files.isEmpty, found.pageBytes > budget { return (revision, files, true) }
                files.append(found)
                budget -= found.pageBytes
            }
            guard response.more, let last = response.kvs.last else { return (revision, files, false) }
            start = last.key + [0]
        }
    }

    // MARK: Writes

    public func txn(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) async throws -> TxnResult {
        for operation in success + failure {
            do throws(TreeError) { try operation.validate(limits: limits) } catch { throw error.rpcError }
        }
        if EtcdTxnSimulation.needed(compares: compares, success: success, failure: failure) {
            return try await simulate(EtcdTxnSimulation(keys: keys, compares: compares, success: success, failure: failure))
        }
        let plan = EtcdTxnPlan(keys: keys, compares: compares, success: success, failure: failure)
        // A branch whose rules fail is read back to say why; when they hold by then (the
        // files changed in between), the transaction is tried again.
        for _ in 0..<8 {
            let request = plan.request
            let response = try await writes.send(request, paths: plan.paths, weight: EtcdTxnPlan.weight(request), bytes: plan.bytes)
            if let result = plan.result(response) { return result }
            let operations = plan.operations(response)
            let answer = try await client.call("txn") { try await client.kv.txn(plan.diagnosis(operations), options: client.options) }
            if let violation = plan.violation(operations, answer) { throw violation.rpcError }
        }
        throw SkynetRPC.RPCError(.unavailable, "txn: the files it touches kept changing under it; retry")
    }

    /// Reads, decides, and writes if nothing read changed meanwhile; else reads again.
    private func simulate(_ simulation: EtcdTxnSimulation) async throws -> TxnResult {
        for _ in 0..<8 {
            let answer = try await client.call("txn") { try await client.kv.txn(simulation.reads, options: client.options) }
            switch simulation.decide(answer) {
            case .refused(let error):
                throw error.rpcError
            case let .write(request, result):
                let response = try await client.call("txn") { try await client.kv.txn(request, options: client.options) }
                if response.succeeded { return result(response.header.revision) }
            }
        }
        throw SkynetRPC.RPCError(.unavailable, "txn: the files it touches kept changing under it; retry")
    }

    // MARK: Sessions

    public func openSession(ttl: Duration) async throws -> (id: UInt64, ttl: Duration) {
        // etcd counts leases in whole seconds.
        let seconds = max(1, (ttl.components.seconds * 1_000 + ttl.components.attoseconds / 1_000_000_000_000_000 + 999) / 1_000)
        let response = try await client.call("openSession") {
            try await client.lease.leaseGrant(.with { $0.ttl = seconds }, options: client.options)
        }
        return (UInt64(bitPattern: response.id), .seconds(response.ttl))
    }

    public func keepAlive(_ session: UInt64) async throws -> Duration {
        let ttl = try await client.call("keepAlive") {
            try await client.lease.leaseKeepAlive(options: client.options, requestProducer: { writer in
                try await writer.write(.with { $0.id = Int64(bitPattern: session) })
            }, onResponse: { response in
                for try await message in response.messages { return message.ttl }
                return 0
            })
        }
        guard ttl > 0 else { throw Self.sessionNotFound(session) }
        return .seconds(ttl)
    }

    public func closeSession(_ session: UInt64) async throws -> (revision: Int64, deleted: Int) {
        let id = Int64(bitPattern: session)
        let live = try await client.call("closeSession") {
            try await client.lease.leaseTimeToLive(.with { $0.id = id; $0.keys = true }, options: client.options)
        }
        guard live.ttl > 0 else { throw Self.sessionNotFound(session) }
        let revoked = try await client.call("closeSession") {
            try await client.lease.leaseRevoke(.with { $0.id = id }, options: client.options)
        }
        return (revoked.header.revision, live.keys.count)
    }

    static func sessionNotFound(_ session: UInt64) -> SkynetRPC.RPCError {
        SkynetRPC.RPCError(.sessionNotFound, "session \(session) does not exist (it expired, was closed, or was never opened)",
                           data: .map(["session": .uint(session)]))
    }

    // MARK: Status

    public func status() async -> CoordinatorStatus {
        let member = try? await client.maintenance.status(Etcdserverpb_StatusRequest(), options: client.options)
        let files = try? await client.kv.range(.with {
            let all = keys.below(.root)
            $0.key = all.start
            $0.rangeEnd = all.end
            $0.countOnly = true
        }, options: client.options)
        let sessions = try? await client.lease.leaseLeases(Etcdserverpb_LeaseLeasesRequest(), options: client.options)
        let (watches, historyStart) = watching.withLock { ($0.hub.watchCount, $0.hub.historyStart) }
        return CoordinatorStatus(
            name: name, store: "etcd", members: await members(), revision: member?.header.revision ?? 0, oldestRevision: historyStart,
            appliedIndex: member?.raftIndex ?? 0, files: Int(files?.count ?? 0), sessions: sessions?.leases.count ?? 0,
            watches: watches, dataSize: Int(member?.dbSize ?? 0), fsyncs: 0, isLeader: member != nil)
    }

    /// etcd's current revision.
    private func currentRevision() async throws -> Int64 {
        try await client.call("read the current revision") {
            try await client.kv.range(.with { $0.key = keys.key(.root); $0.countOnly = true }, options: client.options).header.revision
        }
    }

    /// The oldest revision etcd still has (the one its last compaction kept): a read there
    /// works and one before it does not, so a binary search over reads finds it.
    private func oldestRevision() async throws -> Int64 {
        var (low, high) = (Int64(1), try await currentRevision())
        while low < high {
            let middle = low + (high - low) / 2
            do {
                _ = try await client.kv.range(.with { $0.key = keys.key(.root); $0.countOnly = true; $0.revision = middle }, options: client.options)
                high = middle
            } catch let error as GRPCCore.RPCError where error.message.contains("compacted") {
                low = middle + 1
            } catch {
                throw EtcdFailure.rpcError(error, "read the compaction revision")
            }
        }
        return low
    }
}

extension EtcdStore {
    /// The cluster's members as etcd lists them, each asked for its own status (at most a
    /// second each, all at once): leader, term, database size, health.
    func members() async -> [CoordinatorMember] {
        guard let list = try? await client.cluster.memberList(Etcdserverpb_MemberListRequest(), options: client.options) else { return [] }
        return await withTaskGroup(of: CoordinatorMember.self) { group in
            for member in list.members {
                group.addTask { [logger] in
                    let id = String(member.id, radix: 16)
                    var answer = CoordinatorMember(
                        name: member.name, id: id, clientURLs: member.clientUrls, isLeader: false, raftTerm: 0, dbSize: 0, isHealthy: false)
                    let endpoints = member.clientUrls.compactMap { EtcdEndpoint.list(String($0.split(separator: "/").last ?? "")) }.flatMap { $0 }
                    guard !endpoints.isEmpty, let probe = try? EtcdClient(endpoints: endpoints, callTimeout: .seconds(1), logger: logger) else { return answer }
                    if let status = try? await probe.maintenance.status(Etcdserverpb_StatusRequest(), options: probe.options) {
                        answer.isLeader = status.leader == member.id
                        answer.raftTerm = status.raftTerm
                        answer.dbSize = Int(status.dbSize)
                        answer.isHealthy = true
                    }
                    await probe.close()
                    return answer
                }
            }
            var members: [CoordinatorMember] = []
            for await member in group { members.append(member) }
            return members.sorted { $0.name < $1.name }
        }
    }
}
