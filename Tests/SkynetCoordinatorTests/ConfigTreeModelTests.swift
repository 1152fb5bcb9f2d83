import SkynetTree
import Testing
@testable import SkynetCoordinator
import SkynetTestSupport

@Suite("Config tree against a dictionary model")
struct ConfigTreeModelTests {
    static let universe = ["/a", "/a/b", "/a/c", "/a/b/d", "/b", "/b/x/y", "/b/x/z", "/c", "/c/1", "/c/2/3"]
    static let globs = ["/**", "/a/*", "/a/**", "/*/x/*", "/b/**", "/?", "/c/*/3", "/**/d"]

    /// An independent glob matcher: the pattern as a regular expression.
    static func regex(for glob: String) -> Regex<AnyRegexOutput> {
        var out = "^"
        for segment in glob.split(separator: "/") {
            if segment == "**" { out += "(/[^/]+)*"; continue }
            out += "/"
            for char in segment {
                switch char {
                case "*": out += "[^/]*"
                case "?": out += "[^/]"
                case ".": out += "\\."
                default: out.append(char)
                }
            }
        }
        return try! Regex(out + "$")
    }

    @Test("10,000+ random operations over many seeds agree with the model", arguments: 0..<25)
    func randomized(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        var tree = ConfigTree()
        var model = TreeModel()
        let paths = Self.universe.map { try! TreePath($0) }
        func value() -> [UInt8] { [UInt8.random(in: 0...3, using: &rng)] }
        func ifRev(for path: TreePath) -> Int64 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return model.files[path.string]?.modRev ?? 0
            case 1: return 0
            case 2: return Int64.random(in: 1...max(1, model.revision), using: &rng)
            default: return -1
            }
        }
        func operation() -> TreeOperation {
            let path = paths.randomElement(using: &rng)!
            switch Int.random(in: 0..<5, using: &rng) {
            case 0, 1, 2: return .set(path: path, value: value(), ifRev: ifRev(for: path), session: [nil, 1, 2].randomElement(using: &rng)!)
            case 3: return .del(path: path, ifRev: ifRev(for: path))
            default: return .get(path: path)
            }
        }
        func compare() -> TxnCompare {
            let path = paths.randomElement(using: &rng)!
            let relation = [TxnCompare.Relation.equal, .notEqual, .less, .greater].randomElement(using: &rng)!
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: return TxnCompare(path, .value(value()), relation)
            case 1: return TxnCompare(path, .modRev(model.files[path.string]?.modRev ?? 0), relation)
            case 2: return TxnCompare(path, .createRev(Int64.random(in: 0...model.revision + 1, using: &rng)), relation)
            case 3: return TxnCompare(path, .version(Int64.random(in: 0...3, using: &rng)), relation)
            default: return TxnCompare(path, .exists(Bool.random(using: &rng)), [.equal, .notEqual].randomElement(using: &rng)!)
            }
        }

        var seen: [String: Int] = [:]
        for step in 0..<500 {
            let context = "seed \(seed) step \(step)"
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...5:
                let op = operation()
                let (_, expected) = model.txn([], success: [op], failure: [])
                do {
                    _ = try tree.txn([], success: [op], failure: [])
                    #expect(expected == nil, "\(context): tree accepted \(op), model says \(expected ?? "")")
                    seen[op.isWrite ? "write" : "read", default: 0] += 1
                } catch {
                    #expect(expected == error.code, "\(context): \(op) -> \(error), model says \(expected ?? "ok")")
                    seen[error.code, default: 0] += 1
                }
            case 6, 7:
                let compares = (0..<Int.random(in: 0...2, using: &rng)).map { _ in compare() }
                let success = (0..<Int.random(in: 1...3, using: &rng)).map { _ in operation() }
                let failure = (0..<Int.random(in: 0...2, using: &rng)).map { _ in operation() }
                let (modelOK, expected) = model.txn(compares, success: success, failure: failure)
                do {
                    let (result, _) = try tree.txn(compares, success: success, failure: failure)
                    #expect(expected == nil && result.succeeded == modelOK, "\(context): txn disagrees")
                    seen[result.succeeded ? "txn-success" : "txn-failure", default: 0] += 1
                } catch {
                    #expect(expected == error.code, "\(context): txn -> \(error), model says \(expected ?? "ok")")
                }
            case 8:
                let session = UInt64.random(in: 1...2, using: &rng)
                model.deleteSession(session)
                seen["session-deleted", default: 0] += tree.deleteSession(session).events.isEmpty ? 0 : 1
            default:
                if model.revision > 3, Bool.random(using: &rng) {
                    let keep = Int64.random(in: model.oldest...model.revision, using: &rng)
                    tree.compact(keepingFrom: keep)
                    model.oldest = max(model.oldest, keep)
                }
                // A read at a random kept revision sees exactly that revision's files.
                let rev = Int64.random(in: model.oldest...model.revision, using: &rng)
                let then = model.files(at: rev)
                for path in paths {
                    #expect(try tree.get(path, atRev: rev)?.value == then[path.string]?.value, "\(context): \(path) at \(rev)")
                }
                if model.oldest > 0 {
                    #expect(throws: TreeError.self) { try tree.get(paths[0], atRev: model.oldest - 1) }
                }
            }
            // After every step: same revision, same files with the same stats, same walks.
            #expect(tree.revision == model.revision, "\(context): revision")
            // Nothing kept that no read can see: at most one version at or before the oldest
            // readable revision, and no tombstone alone there.
            for (path, versions) in tree.files {
                let hidden = versions.filter { $0.modRev <= tree.oldestRevision }
                #expect(hidden.count <= 1, "\(context): \(path) keeps \(hidden.count) versions at or before \(tree.oldestRevision)")
                #expect(!(versions.count == 1 && versions[0].value == nil && versions[0].modRev <= tree.oldestRevision), "\(context): \(path) keeps a compacted tombstone")
            }
            #expect(tree.fileCount == model.files.count, "\(context): file count")
            for path in paths {
                let file = try tree.get(path)
                let entry = model.files[path.string]
                #expect(file?.value == entry?.value, "\(context): value of \(path)")
                if let file, let entry {
                    #expect(file.stat == FileStat(createRev: entry.createRev, modRev: entry.modRev, version: entry.version, session: entry.session, size: entry.value.count), "\(context): stat of \(path)")
                }
            }
            if step % 10 == 0 {
                for glob in Self.globs {
                    let expected = model.files.keys.filter { $0.wholeMatch(of: Self.regex(for: glob)) != nil }.sorted()
                    #expect(tree.walk(try TreeGlob(glob)).map(\.path.string) == expected, "\(context): walk \(glob)")
                }
                for path in paths {
                    let expected = Set(model.files.keys.compactMap { key -> String? in
                        guard key.hasPrefix(path.string + "/") else { return nil }
                        return String(key.dropFirst(path.string.count + 1).split(separator: "/")[0])
                    })
                    if expected.isEmpty {
                        #expect(throws: TreeError.self) { try tree.getdir(path) }
                    } else {
                        #expect(try tree.getdir(path) == expected.sorted(), "\(context): getdir \(path)")
                    }
                }
                for session: UInt64 in [1, 2] {
                    let expected = model.files.filter { $0.value.session == session }.keys.sorted()
                    #expect(tree.files(ofSession: session).map(\.string) == expected, "\(context): session \(session)")
                }
            }
        }
        // The run must have exercised every outcome, or agreement proves little.
        for outcome in ["write", "read", "RevMismatch", "NotFound", "BadPath", "txn-success", "txn-failure", "session-deleted"] {
            #expect(seen[outcome, default: 0] > 0, "seed \(seed): no \(outcome) in \(seen)")
        }
    }

    @Test("compactions across many trim blocks, landing inside and on their edges, leave every kept revision readable and nothing hidden")
    func compactionAcrossTrimBlocks() throws {
        var tree = ConfigTree()
        let paths = try ["/t/a", "/t/b", "/t/c"].map { try TreePath($0) }
        var written: [Int64: (path: TreePath, value: [UInt8])] = [:]
        let block = ConfigTree.trimBlock
        for keep in [block / 2, block - 1, block, 3 * block + 7, 3 * block + 7, 5 * block] {
            while tree.revision < keep + block / 3 {
                let path = paths[Int(tree.revision) % paths.count], value = Array("\(tree.revision)".utf8)
                let (rev, _) = try tree.set(path, value)
                written[rev] = (path, value)
            }
            tree.compact(keepingFrom: keep)
            #expect(tree.oldestRevision == keep)
            // Each path's newest write at or before a kept revision is what a read there sees.
            for rev in [keep, keep + 1, tree.revision] {
                for path in paths {
                    let newest = written.filter { $0.key <= rev && $0.value.path == path }.max { $0.key < $1.key }
                    #expect(try tree.get(path, atRev: rev)?.value == newest?.value.value, "\(path) at \(rev) after compacting to \(keep)")
                }
            }
            for (path, versions) in tree.files {
                #expect(versions.filter { $0.modRev <= keep }.count <= 1, "\(path) keeps versions no read can see after compacting to \(keep)")
            }
            #expect(tree.trimDue.values.allSatisfy { $0.allSatisfy { $0.rev > keep } }, "nothing compacted is still due")
        }
    }
}
