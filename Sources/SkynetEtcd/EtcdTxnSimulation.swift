import EtcdAPI
import Foundation
import SkynetTree

/// A coordinator transaction that one compare-only etcd `Txn` cannot express, run the way
/// etcd's own STM does: read what it depends on at one revision, decide it here exactly as
/// the embedded store would (operations one after another, `value != x` true of a missing
/// file), then write the outcome in a `Txn` whose compares assert that nothing it read has
/// changed. When something did, the caller reads again. Pure: builds requests, reads answers.
///
/// Used when a branch's operations touch related paths (the same file, or one below
/// another) or a compare is `value != x`; everything else takes `EtcdTxnPlan`'s one round trip.
struct EtcdTxnSimulation {
    let keys: EtcdKeys
    let compares: [TxnCompare]
    let success: [TreeOperation]
    let failure: [TreeOperation]

    /// True when `EtcdTxnPlan` would not give the embedded store's answer.
    static func needed(compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) -> Bool {
        if compares.contains(where: { if case .value = $0.target { return $0.relation == .notEqual }; return false }) { return true }
        for branch in [success, failure] {
            let paths = branch.map(\.path)
            for (i, a) in paths.enumerated() {
                for b in paths[(i + 1)...] where a == b || a.isAncestor(of: b) || b.isAncestor(of: a) { return true }
            }
        }
        return false
    }

    /// The files read (each path of a compare or operation, and every ancestor of an
    /// operation's path), then, per operation path, how many files lie below it.
    private var files: [TreePath] {
        var paths: [TreePath] = []
        func add(_ path: TreePath) { if !paths.contains(path) { paths.append(path) } }
        for compare in compares { add(compare.path) }
        for operation in success + failure {
            add(operation.path)
            for directory in operation.path.ancestors {
                add(directory)
            }
        }
        return paths
    }

    private var directories: [TreePath] {
        var paths: [TreePath] = []
        for operation in success + failure where !paths.contains(operation.path) { paths.append(operation.path) }
        return paths
    }

    /// Everything the decision depends on, read at one revision.
    var reads: Etcdserverpb_TxnRequest {
        var txn = Etcdserverpb_TxnRequest()
        for path in files {
            txn.success.append(.with { $0.requestRange = .with { $0.key = keys.key(path) } })
        }
        for path in directories {
            let below = keys.below(path)
            txn.success.append(.with { $0.requestRange = .with { $0.key = below.start; $0.rangeEnd = below.end; $0.countOnly = true } })
        }
        return txn
    }

    /// What to do after `answer` (the reads' response).
    enum Decision {
        /// The transaction is refused, as the embedded store would refuse it.
        case refused(TreeError)
        /// Send `request`; when it succeeds, the result is `result(revision)`; when it
        /// fails, what was read changed: read again.
        case write(request: Etcdserverpb_TxnRequest, result: @Sendable (Int64) -> TxnResult)
    }

    func decide(_ answer: Etcdserverpb_TxnResponse) -> Decision {
        let readRevision = answer.header.revision
        var responses = answer.responses.makeIterator()
        var read: [TreePath: Mvccpb_KeyValue] = [:]
        for path in files {
            if let kv = responses.next()?.responseRange.kvs.first { read[path] = kv }
        }
        var state = read
        var below: [TreePath: Int64] = [:]
        for path in directories { below[path] = responses.next()?.responseRange.count ?? 0 }

        let succeeded = compares.allSatisfy { compare in
            let kv = state[compare.path]
            return compare.holds(value: kv.map { Array($0.value) }, modRev: kv?.modRevision ?? 0,
                                 createRev: kv?.createRevision ?? 0, version: kv?.version ?? 0)
        }
        let operations = succeeded ? success : failure
        var results: [(TreeOperation, TreeFile?)] = []
        var touched: [TreePath] = []
        for operation in operations {
            let path = operation.path
            let existing = state[path]
            let current = existing?.modRevision ?? 0
            switch operation {
            case let .set(_, value, ifRev, session):
                if ifRev != -1, ifRev != current { return .refused(.revMismatch(path: path.string, expected: ifRev, current: current)) }
                if existing == nil {
                    if (below[path] ?? 0) > 0 { return .refused(.badPath(path: path.string, rule: "\(path) is a directory")) }
                    for directory in path.ancestors {
                        if state[directory] != nil { return .refused(.badPath(path: path.string, rule: "\(directory) is a file")) }
                    }
                    adjust(&below, above: path, by: 1)
                }
                state[path] = .with {
                    $0.key = keys.key(path)
                    $0.value = Data(value)
                    $0.lease = session.map { Int64(bitPattern: $0) } ?? 0
                    $0.createRevision = existing?.createRevision ?? 0
                    $0.version = (existing?.version ?? 0) + 1
                }
                if !touched.contains(path) { touched.append(path) }
                results.append((operation, nil))
            case let .del(_, ifRev):
                guard existing != nil else {
                    return .refused(ifRev > 0 ? .revMismatch(path: path.string, expected: ifRev, current: 0) : .notFound(path: path.string))
                }
                if ifRev != -1, ifRev != current { return .refused(.revMismatch(path: path.string, expected: ifRev, current: current)) }
                state[path] = nil
                adjust(&below, above: path, by: -1)
                if !touched.contains(path) { touched.append(path) }
                results.append((operation, nil))
            case let .get(path):
                results.append((operation, state[path].map { TreeFile(path: path, etcd: $0) }))
            }
        }

        var txn = Etcdserverpb_TxnRequest()
        // Nothing read may have changed: each file still at the revision it was read at (or
        // still absent), and nothing new or rewritten below an operation's path.
        for path in files {
            if let kv = read[path] {
                txn.compare.append(EtcdTxnPlan.compare(keys.key(path), .mod, .equal, .modRevision(kv.modRevision)))
            } else {
                txn.compare.append(EtcdTxnPlan.compare(keys.key(path), .version, .equal, .version(0)))
            }
        }
        for path in directories {
            let range = keys.below(path)
            txn.compare.append(EtcdTxnPlan.compare(range.start, .mod, .less, .modRevision(readRevision + 1), rangeEnd: range.end))
        }
        for path in touched {
            if let kv = state[path] {
                txn.success.append(.with { $0.requestPut = .with { $0.key = kv.key; $0.value = kv.value; $0.lease = kv.lease } })
            } else {
                txn.success.append(.with { $0.requestDeleteRange = .with { $0.key = keys.key(path) } })
            }
        }
        let finished = results
        return .write(request: txn) { revision in
            TxnResult(succeeded: succeeded, results: finished.map { operation, read in
                operation.isWrite ? .written(rev: revision) : .read(read)
            }, revision: revision)
        }
    }

    /// Counts a file made or removed at `path` in every directory above it that was read.
    private func adjust(_ below: inout [TreePath: Int64], above path: TreePath, by delta: Int64) {
        var ancestor = path.parent
        while let directory = ancestor {
            if below[directory] != nil { below[directory]! += delta }
            ancestor = directory.parent
        }
    }
}
