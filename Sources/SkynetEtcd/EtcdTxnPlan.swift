import EtcdAPI
import Foundation
import SkynetRPC
import SkynetTree

/// A coordinator transaction as one etcd `Txn` (pure: builds requests, reads responses).
///
/// The caller's compares choose the branch, as etcd's do. Each branch is a nested `Txn`
/// whose compares are the tree rules of its operations, checked by etcd in the same atomic
/// step as the writes, never read first and written after:
/// - `set`: `ifRev` (0: the file must not exist; n: its modRev is n); no file below the
///   path (a compare over the directory's key range); no file at any ancestor;
/// - `del`: the file exists; `ifRev` n: its modRev is n.
///
/// When a branch's rules fail nothing is written, and `diagnosis` reads what is needed to
/// say which rule failed, as the embedded store would. etcd checks every compare against
/// the state before the transaction, whereas the embedded store applies operations one
/// after the other: a branch whose operations touch related paths (the same file, or one
/// below another), or a `value != x` compare (true of a missing file here, false in
/// etcd), goes through `EtcdTxnSimulation` instead.
struct EtcdTxnPlan {
    let keys: EtcdKeys
    let compares: [TxnCompare]
    let success: [TreeOperation]
    let failure: [TreeOperation]

    init(keys: EtcdKeys, compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) {
        self.keys = keys
        self.compares = compares
        self.success = success
        self.failure = failure
    }

    // MARK: The request

    /// The whole transaction: the caller's compares around the two branches; without
    /// compares (a plain `set` or `del`, most writes), the success branch alone.
    var request: Etcdserverpb_TxnRequest {
        if compares.isEmpty { return branch(success) }
        var txn = Etcdserverpb_TxnRequest()
        txn.compare = compares.map(compare)
        txn.success = [.with { $0.requestTxn = branch(success) }]
        txn.failure = [.with { $0.requestTxn = branch(failure) }]
        return txn
    }

    /// One branch: its rules, each once (operations in one directory share their
    /// ancestors'), and its operations when they hold (nothing otherwise).
    func branch(_ operations: [TreeOperation]) -> Etcdserverpb_TxnRequest {
        var txn = Etcdserverpb_TxnRequest()
        var seen = Set<Etcdserverpb_Compare>()
        txn.compare = operations.flatMap(rules).filter { seen.insert($0).inserted }
        txn.success = operations.map(requestOp)
        return txn
    }

    /// The rules `operation` needs to hold, as etcd compares.
    func rules(_ operation: TreeOperation) -> [Etcdserverpb_Compare] {
        switch operation {
        case let .set(path, _, ifRev, _):
            var rules: [Etcdserverpb_Compare] = []
            if ifRev == 0 { rules.append(Self.compare(keys.key(path), .version, .equal, .version(0))) }
            // A file that must exist is neither a directory nor under a file: the tree never
            // holds one that is.
            if ifRev > 0 { return [Self.compare(keys.key(path), .mod, .equal, .modRevision(ifRev))] }
            let below = keys.below(path)
            rules.append(Self.compare(below.start, .version, .equal, .version(0), rangeEnd: below.end))
            for directory in path.ancestors {
                rules.append(Self.compare(keys.key(directory), .version, .equal, .version(0)))
            }
            return rules
        case let .del(path, ifRev):
            var rules = [Self.compare(keys.key(path), .version, .greater, .version(0))]
            if ifRev != -1 { rules.append(Self.compare(keys.key(path), .mod, .equal, .modRevision(ifRev))) }
            return rules
        case .get:
            return []
        }
    }

    func requestOp(_ operation: TreeOperation) -> Etcdserverpb_RequestOp {
        switch operation {
        case let .set(path, value, _, session):
            return .with {
                $0.requestPut = .with {
                    $0.key = keys.key(path)
                    $0.value = Data(value)
                    $0.lease = session.map { Int64(bitPattern: $0) } ?? 0
                }
            }
        case let .del(path, _):
            return .with { $0.requestDeleteRange = .with { $0.key = keys.key(path) } }
        case let .get(path):
            return .with { $0.requestRange = .with { $0.key = keys.key(path) } }
        }
    }

    /// A caller's compare. A file that does not exist compares as zeros, as on the embedded
    /// store; `value != x` of a missing file, true there, is false in etcd (noted in docs).
    func compare(_ compare: TxnCompare) -> Etcdserverpb_Compare {
        let key = keys.key(compare.path)
        let relation = Self.relation(compare.relation)
        switch compare.target {
        case .value(let bytes): return Self.compare(key, .value, relation, .value(Data(bytes)))
        case .modRev(let rev): return Self.compare(key, .mod, relation, .modRevision(rev))
        case .createRev(let rev): return Self.compare(key, .create, relation, .createRevision(rev))
        case .version(let version): return Self.compare(key, .version, relation, .version(version))
        case .exists(let exists):
            // exists == true  <=> version > 0; exists == false <=> version == 0.
            let wantsExisting = exists == (compare.relation != .notEqual)
            return Self.compare(key, .version, wantsExisting ? .greater : .equal, .version(0))
        }
    }

    static func relation(_ relation: TxnCompare.Relation) -> Etcdserverpb_Compare.CompareResult {
        switch relation {
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .greater: .greater
        }
    }

    static func compare(
        _ key: Data, _ target: Etcdserverpb_Compare.CompareTarget, _ result: Etcdserverpb_Compare.CompareResult,
        _ value: Etcdserverpb_Compare.OneOf_TargetUnion, rangeEnd: Data? = nil
    ) -> Etcdserverpb_Compare {
        .with {
            $0.key = key
            $0.target = target
            $0.result = result
            $0.targetUnion = value
            if let rangeEnd { $0.rangeEnd = rangeEnd }
        }
    }

    // MARK: Sharing a batch

    /// The paths the transaction compares, reads or writes (`EtcdBatcher` keeps
    /// related transactions out of one batch by them).
    var paths: [TreePath] {
        compares.map(\.path) + success.map(\.path) + failure.map(\.path)
    }

    /// The value bytes it writes.
    var bytes: Int {
        (success + failure).reduce(0) { total, operation in
            if case let .set(_, value, _, _) = operation { return total + value.count }
            return total
        }
    }

    /// Compares and operations anywhere in `request`, nested ones included: what it takes
    /// of etcd's per-`Txn` operation budget.
    static func weight(_ txn: Etcdserverpb_TxnRequest) -> Int {
        txn.compare.count + (txn.success + txn.failure).reduce(0) { total, op in
            if case .requestTxn(let nested) = op.request { return total + 1 + weight(nested) }
            return total + 1
        }
    }

    /// The transaction's own answer inside `response`, the answer to a batch whose `index`th
    /// operation it was: its nested `Txn`'s answer under the batch's header (its revision).
    static func answer(at index: Int, of response: Etcdserverpb_TxnResponse) -> Etcdserverpb_TxnResponse? {
        guard index < response.responses.count, case .responseTxn(var own) = response.responses[index].response else { return nil }
        own.header = response.header
        return own
    }

    // MARK: The response

    /// The operations of the branch `response` ran.
    func operations(_ response: Etcdserverpb_TxnResponse) -> [TreeOperation] {
        compares.isEmpty || response.succeeded ? success : failure
    }

    /// What the transaction did: the result, or nil when the chosen branch's rules failed
    /// (then nothing was written; ask `diagnosis` why).
    func result(_ response: Etcdserverpb_TxnResponse) -> TxnResult? {
        let branch = compares.isEmpty ? response : response.responses.first?.responseTxn
        guard let branch, branch.succeeded else { return nil }
        let revision = response.header.revision
        let results: [TreeOperationResult] = zip(operations(response), branch.responses).map { operation, answer in
            switch operation {
            case .set, .del: .written(rev: revision)
            case .get(let path): .read(answer.responseRange.kvs.first.map { TreeFile(path: path, etcd: $0) })
            }
        }
        return TxnResult(succeeded: compares.isEmpty || response.succeeded, results: results, revision: revision)
    }

    // MARK: Why a branch failed

    /// Reads, at one revision, what deciding the rules of `operations` needs: each file,
    /// whether anything is below it, and each ancestor.
    func diagnosis(_ operations: [TreeOperation]) -> Etcdserverpb_TxnRequest {
        var txn = Etcdserverpb_TxnRequest()
        for operation in operations {
            let path = operation.path
            txn.success.append(.with { $0.requestRange = .with { $0.key = keys.key(path) } })
            let below = keys.below(path)
            txn.success.append(.with { $0.requestRange = .with { $0.key = below.start; $0.rangeEnd = below.end; $0.countOnly = true } })
            for directory in path.ancestors {
                txn.success.append(.with { $0.requestRange = .with { $0.key = keys.key(directory); $0.countOnly = true } })
            }
        }
        return txn
    }

    /// The first rule of `operations` that the state `answer` read breaks, in the embedded
    /// store's words; nil when every rule holds now (the state changed since: try again).
    func violation(_ operations: [TreeOperation], _ answer: Etcdserverpb_TxnResponse) -> TreeError? {
        var reads = answer.responses.makeIterator()
        for operation in operations {
            let path = operation.path
            let existing = reads.next()?.responseRange.kvs.first
            let hasBelow = (reads.next()?.responseRange.count ?? 0) > 0
            var fileAncestor: TreePath?
            for directory in path.ancestors {
                if (reads.next()?.responseRange.count ?? 0) > 0, fileAncestor == nil { fileAncestor = directory }
            }
            let current = existing?.modRevision ?? 0
            switch operation {
            case let .set(_, _, ifRev, _):
                if ifRev != -1, ifRev != current { return .revMismatch(path: path.string, expected: ifRev, current: current) }
                if existing == nil, hasBelow { return .badPath(path: path.string, rule: "\(path) is a directory") }
                if existing == nil, let fileAncestor { return .badPath(path: path.string, rule: "\(fileAncestor) is a file") }
            case let .del(_, ifRev):
                if existing == nil { return ifRev > 0 ? .revMismatch(path: path.string, expected: ifRev, current: 0) : .notFound(path: path.string) }
                if ifRev != -1, ifRev != current { return .revMismatch(path: path.string, expected: ifRev, current: current) }
            case .get:
                break
            }
        }
        return nil
    }
}

extension TreePath {
    /// True when `other` lies below this path.
    func isAncestor(of other: TreePath) -> Bool {
        isRoot ? !other.isRoot : other.string.hasPrefix(string + "/")
    }
}

extension TreeFile {
    /// The file etcd's `kv` holds at `path`.
    init(path: TreePath, etcd kv: Mvccpb_KeyValue) {
        self.init(path: path, value: Array(kv.value), stat: FileStat(
            createRev: kv.createRevision, modRev: kv.modRevision, version: kv.version,
            session: kv.lease == 0 ? nil : UInt64(bitPattern: kv.lease), size: kv.value.count))
    }
}
