import SkynetTree
import SkynetCoordinator

/// A deliberately plain model of the config tree: a dictionary of path strings, with
/// conflicts found by scanning every key. The randomized test runs both side by side.
struct TreeModel {
    struct Entry: Equatable {
        var value: [UInt8]
        var createRev: Int64
        var modRev: Int64
        var version: Int64
        var session: UInt64?
    }

    var files: [String: Entry] = [:]
    var revision: Int64 = 0
    var oldest: Int64 = 0
    /// The whole model after every revision, for reads at past revisions.
    var snapshots: [Int64: [String: Entry]] = [0: [:]]

    /// Applies operations in order on a copy; returns the error code of the first failure.
    mutating func txn(_ compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) -> (Bool, String?) {
        let ok = compares.allSatisfy(holds)
        var copy = files
        let rev = revision + 1
        var wrote = false
        for operation in ok ? success : failure {
            switch operation {
            case .get:
                continue
            case let .set(path, value, ifRev, session):
                let key = path.string
                let existing = copy[key]
                if ifRev != -1, ifRev != (existing?.modRev ?? 0) { return (ok, "RevMismatch") }
                if existing == nil {
                    if copy.keys.contains(where: { $0.hasPrefix(key + "/") }) { return (ok, "BadPath") }
                    if copy.keys.contains(where: { key.hasPrefix($0 + "/") }) { return (ok, "BadPath") }
                }
                copy[key] = Entry(value: value, createRev: existing?.createRev ?? rev, modRev: rev,
                                  version: (existing?.version ?? 0) + 1, session: session)
                wrote = true
            case let .del(path, ifRev):
                let key = path.string
                guard let existing = copy[key] else { return (ok, ifRev > 0 ? "RevMismatch" : "NotFound") }
                if ifRev != -1, ifRev != existing.modRev { return (ok, "RevMismatch") }
                copy[key] = nil
                wrote = true
            }
        }
        files = copy
        if wrote {
            revision = rev
            snapshots[rev] = files
        }
        return (ok, nil)
    }

    mutating func deleteSession(_ session: UInt64) {
        let paths = files.filter { $0.value.session == session }.keys.sorted()
        guard !paths.isEmpty else { return }
        _ = txn([], success: paths.map { .del(path: try! TreePath($0), ifRev: -1) }, failure: [])
    }

    /// Files as of `rev` (which must be kept).
    func files(at rev: Int64) -> [String: Entry] {
        snapshots[(snapshots.keys.filter { $0 <= rev }.max())!]!
    }

    private func holds(_ compare: TxnCompare) -> Bool {
        let entry = files[compare.path.string]
        func relate(_ a: Int64, _ b: Int64) -> Bool {
            switch compare.relation {
            case .equal: a == b
            case .notEqual: a != b
            case .less: a < b
            case .greater: a > b
            }
        }
        switch compare.target {
        case .exists(let expected): return compare.relation == .notEqual ? (entry != nil) != expected : (entry != nil) == expected
        case .modRev(let r): return relate(entry?.modRev ?? 0, r)
        case .createRev(let r): return relate(entry?.createRev ?? 0, r)
        case .version(let v): return relate(entry?.version ?? 0, v)
        case .value(let bytes):
            guard let value = entry?.value else { return compare.relation == .notEqual }
            switch compare.relation {
            case .equal: return value == bytes
            case .notEqual: return value != bytes
            case .less: return value.lexicographicallyPrecedes(bytes)
            case .greater: return bytes.lexicographicallyPrecedes(value)
            }
        }
    }
}
