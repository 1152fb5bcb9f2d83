import SkynetTree
import HashTreeCollections

/// The config tree: a pure, deterministic state machine of files with one global revision.
///
/// It changes only through `set`, `del`, `txn` and `deleteSession`, each of which (when
/// it changes anything) takes the next revision and returns the events watchers must
/// see. It reads no clock and does no I/O: the coordinator applies committed log entries
/// to it in order, so every replica that applies the same log holds the same tree.
/// Past revisions stay readable back to `oldestRevision` (see `compact(keepingFrom:)`).
public struct ConfigTree: Sendable {
    /// One state of one file; `value == nil` marks a deletion.
    struct Version: Sendable {
        var value: [UInt8]?
        var createRev: Int64
        var modRev: Int64
        var version: Int64
        var session: UInt64?
    }

    /// The limits writes are checked against.
    public let limits: TreeLimits
    /// The revision of the last change (0 for an empty, new tree).
    public internal(set) var revision: Int64 = 0
    /// The oldest revision still readable.
    public internal(set) var oldestRevision: Int64 = 0
    // Persistent hash tries (swift-collections' TreeDictionary and TreeSet), not Swift's
    // flat tables: a copy of the tree (a snapshot, a walk outside the lock) costs O(1), and
    // a write to the live tree afterwards copies only the path to what it changes, never
    // the whole table, so taking a copy never stalls the next write.

    /// Versions of every file, oldest first; the last one is current.
    var files: TreeDictionary<TreePath, [Version]> = [:]
    /// Names of the children of every directory that has any, sorted. Strings, not
    /// substrings of the paths: a name of up to 15 bytes is stored inline, half the size of
    /// a Substring.
    var children: TreeDictionary<TreePath, SortedNames> = [:]
    /// Files bound to each session.
    var sessionFiles: TreeDictionary<UInt64, TreeSet<TreePath>> = [:]
    /// Number of files that exist now.
    public internal(set) var fileCount = 0
    /// Paths a compaction may trim, with the revision of the write that left them with
    /// versions to drop (older versions or a tombstone): once compaction passes that
    /// revision, the write's path can lose what it replaced. A compaction visits only the
    /// paths written in the revisions it passes (as many as there were writes), not every
    /// file that has history. Grouped by blocks of `trimBlock` revisions, so a write appends
    /// to its block's array rather than adding a key and an array of its own.
    var trimDue: TreeDictionary<Int64, [(rev: Int64, path: TreePath)]> = [:]
    /// Revisions per `trimDue` block: compactions come every tenth of the watch history
    /// (10,000 revisions by default), so a block rarely straddles one.
    static let trimBlock: Int64 = 1_024

    /// Creates an empty tree.
    public init(limits: TreeLimits = .default) {
        self.limits = limits
    }

    // MARK: Writes

    /// Writes a file. Returns the new revision and its event.
    public mutating func set(_ path: TreePath, _ value: [UInt8], ifRev: IfRev = -1, session: UInt64? = nil) throws(TreeError) -> (rev: Int64, events: [TreeEvent]) {
        let (result, events) = try txn([], success: [.set(path: path, value: value, ifRev: ifRev, session: session)], failure: [])
        return (result.revision, events)
    }

    /// Deletes a file. Returns the new revision and its event.
    public mutating func del(_ path: TreePath, ifRev: IfRev = -1) throws(TreeError) -> (rev: Int64, events: [TreeEvent]) {
        let (result, events) = try txn([], success: [.del(path: path, ifRev: ifRev)], failure: [])
        return (result.revision, events)
    }

    /// Runs `success` when every compare holds, else `failure`, as one revision.
    ///
    /// An operation of the chosen branch that fails (a compare-and-set mismatch, a missing
    /// file, a path conflict) fails the whole transaction and leaves the tree unchanged.
    public mutating func txn(_ compares: [TxnCompare], success: [TreeOperation], failure: [TreeOperation]) throws(TreeError) -> (TxnResult, [TreeEvent]) {
        let succeeded = compares.allSatisfy(holds)
        let operations = succeeded ? success : failure
        for operation in operations { try validate(operation) }
        let rev = revision + 1
        // A single operation checks everything before it changes anything, so only a
        // transaction of several needs to remember what to put back (and a write to a hot
        // file does not copy its versions for nothing).
        let needsUndo = operations.count > 1
        var undo: [(TreePath, [Version]?)] = []
        var results: [TreeOperationResult] = []
        var events: [TreeEvent] = []
        do {
            for operation in operations {
                switch operation {
                case let .get(path):
                    results.append(.read(current(path).flatMap { file(path, $0) }))
                case let .set(path, value, ifRev, session):
                    if needsUndo { undo.append((path, files[path])) }
                    try write(path, value: value, ifRev: ifRev, session: session, rev: rev)
                    results.append(.written(rev: rev))
                    events.append(TreeEvent(rev: rev, path: path, kind: .put, value: value))
                case let .del(path, ifRev):
                    if needsUndo { undo.append((path, files[path])) }
                    try delete(path, ifRev: ifRev, rev: rev)
                    results.append(.written(rev: rev))
                    events.append(TreeEvent(rev: rev, path: path, kind: .delete, value: []))
                }
            }
        } catch {
            for (path, versions) in undo.reversed() { restore(path, versions) }
            throw error
        }
        if !events.isEmpty { revision = rev }
        return (TxnResult(succeeded: succeeded, results: results, revision: revision), events)
    }

    /// Deletes every file bound to `session` as one revision (nothing when it has none).
    public mutating func deleteSession(_ session: UInt64) -> (rev: Int64, events: [TreeEvent]) {
        guard let paths = sessionFiles[session], !paths.isEmpty else { return (revision, []) }
        let operations = paths.sorted().map { TreeOperation.del(path: $0, ifRev: -1) }
        do {
            let (result, events) = try txn([], success: operations, failure: [])
            return (result.revision, events)
        } catch {
            // Every path comes from the session index, so each exists and is a file.
            preconditionFailure("session index out of step with the tree: \(error)")
        }
    }

    /// Forgets versions older than `rev` (kept: whatever a read at `rev` or later needs).
    public mutating func compact(keepingFrom rev: Int64) {
        let rev = min(rev, revision)
        guard rev > oldestRevision else { return }
        let blocks = (oldestRevision + 1) / Self.trimBlock ... rev / Self.trimBlock
        oldestRevision = rev
        for block in blocks {
            guard let due = trimDue.removeValue(forKey: block) else { continue }
            // Only the last block can hold writes past `rev`: they stay due.
            var later: [(rev: Int64, path: TreePath)] = []
            for entry in due {
                if entry.rev <= rev { trim(entry.path) } else { later.append(entry) }
            }
            if !later.isEmpty { trimDue[block] = later }
        }
    }

    /// Notes that `path`, written at `rev`, has versions a compaction past `rev` may drop.
    private mutating func dueForTrim(_ path: TreePath, at rev: Int64) {
        trimDue.updateValue(forKey: rev / Self.trimBlock, default: []) { $0.append((rev, path)) }
    }

    // MARK: Reads

    /// The file at `path` now, or at the past revision `atRev`; `nil` when there is none.
    public func get(_ path: TreePath, atRev: Int64? = nil) throws(TreeError) -> TreeFile? {
        guard let atRev else { return current(path).flatMap { file(path, $0) } }
        try checkReadable(atRev)
        guard let versions = files[path], let version = versions.last(where: { $0.modRev <= atRev }) else { return nil }
        return file(path, version)
    }

    /// What `path` is now: a file, a directory, or nothing (`nil`).
    public func stat(_ path: TreePath) -> TreeNodeStat? {
        if let version = current(path), let file = file(path, version) { return .file(file.stat) }
        if let names = children[path] { return .directory(children: names.count) }
        return path.isRoot ? .directory(children: 0) : nil
    }

    /// The names in directory `path`, sorted. Throws `notFound` when it is not a directory.
    public func getdir(_ path: TreePath) throws(TreeError) -> [String] {
        if let names = children[path] { return Array(names) }
        if path.isRoot { return [] }
        throw .notFound(path: path.string)
    }

    /// Every file matching `glob`, in path order (segment by segment).
    public func walk(_ glob: TreeGlob) -> [TreeFile] {
        walk(glob, after: nil, maxBytes: .max).files
    }

    /// One page of a walk: files matching `glob` in path order (segment by segment), those
    /// after `after` only, stopping before their paths and values would pass `maxBytes` (a
    /// page holds at least one file, so it passes `maxBytes` only when that one file does).
    /// `more` is true when files remain: ask again with `after` set to the last path returned.
    /// Servers page so that one huge walk never holds the tree for long nor exceeds a message.
    public func walk(_ glob: TreeGlob, after: TreePath?, maxBytes: Int) -> (files: [TreeFile], more: Bool) {
        var page = WalkPage(glob: glob, after: after?.segments, budget: maxBytes)
        let start = glob.literalPrefix
        if after == nil, let version = current(start), glob.matches(start), let file = file(start, version) {
            page.add(file)
        }
        let complete = visit(start, depth: start.segments.count, &page)
        return (page.files, !complete)
    }

    /// The files bound to `session`, sorted.
    public func files(ofSession session: UInt64) -> [TreePath] {
        (sessionFiles[session] ?? []).sorted()
    }

    /// The state of one page of a walk.
    private struct WalkPage {
        let glob: TreeGlob
        /// The segments of the last path of the previous page, while still constraining.
        var after: [Substring]?
        var budget: Int
        var files: [TreeFile] = []

        mutating func add(_ file: TreeFile) {
            files.append(file)
            budget -= file.pageBytes
        }
    }

    /// Adds matches below `directory` in name order, skipping what sorts at or before the
    /// page's `after`; false once the budget ran out (more remain).
    private func visit(_ directory: TreePath, depth: Int, _ page: inout WalkPage) -> Bool {
        guard let names = children[directory], page.glob.mayMatchBelow(directory) else { return true }
        // Only the part of `after` at this depth matters: names before it were paged already.
        let bound = page.after.flatMap { depth < $0.count ? $0[depth] : nil }
        for name in names.names(from: bound) {
            let path = directory.child(name)
            let onAfterPath = bound.map { Substring(name) == $0 } ?? false
            if onAfterPath, let after = page.after, after.count == depth + 1 {
                // This is the last path of the previous page: skip it, keep its subtree (none).
                page.after = nil
                continue
            }
            if !onAfterPath { page.after = nil }
            if page.after == nil, let version = current(path), page.glob.matches(path), let file = file(path, version) {
                if !page.files.isEmpty, file.pageBytes > page.budget { return false }
                page.add(file)
            }
            if !visit(path, depth: depth + 1, &page) { return false }
        }
        return true
    }

    // MARK: Internals

    private func current(_ path: TreePath) -> Version? {
        guard let version = files[path]?.last, version.value != nil else { return nil }
        return version
    }

    private func file(_ path: TreePath, _ version: Version) -> TreeFile? {
        guard let value = version.value else { return nil }
        return TreeFile(path: path, value: value, stat: FileStat(
            createRev: version.createRev, modRev: version.modRev, version: version.version,
            session: version.session, size: value.count))
    }

    private func checkReadable(_ rev: Int64) throws(TreeError) {
        if rev > revision { throw .futureRevision(requested: rev, current: revision) }
        if rev < oldestRevision { throw .compacted(requested: rev, oldest: oldestRevision) }
    }

    /// Checks what can be checked of `operation` without the tree's contents (the root
    /// is not a file, the value fits), so callers can refuse it before logging it.
    public func validate(_ operation: TreeOperation) throws(TreeError) {
        try operation.validate(limits: limits)
    }

    private func holds(_ compare: TxnCompare) -> Bool {
        let version = current(compare.path)
        return compare.holds(value: version?.value, modRev: version?.modRev ?? 0, createRev: version?.createRev ?? 0, version: version?.version ?? 0)
    }

    private func checkIfRev(_ path: TreePath, _ ifRev: IfRev, _ existing: Version?) throws(TreeError) {
        let current = existing?.modRev ?? 0
        guard ifRev == -1 || ifRev == current else {
            throw .revMismatch(path: path.string, expected: ifRev, current: current)
        }
    }

    /// What the one visit of `write` to a file's entry found and did.
    private enum Overwrite {
        /// The file was overwritten in place.
        case written(previous: Version, version: Version, trimmable: Bool)
        /// The file exists at another revision than `ifRev` asked for.
        case mismatch(current: Int64)
        /// No file is there (never was, or a tombstone): a creation, checked against the
        /// tree around it.
        case absent
    }

    private mutating func write(_ path: TreePath, value: [UInt8], ifRev: IfRev, session: UInt64?, rev: Int64) throws(TreeError) {
        // The common case, an overwrite, checks and changes the file's versions in one visit
        // of its entry (a lookup in a large tree is mostly cache misses; do it once).
        let oldest = oldestRevision
        let outcome = files.updateValue(forKey: path, default: []) { versions -> Overwrite in
            guard let existing = versions.last, existing.value != nil else { return .absent }
            guard ifRev == -1 || ifRev == existing.modRev else { return .mismatch(current: existing.modRev) }
            let version = Version(value: value, createRev: existing.createRev, modRev: rev, version: existing.version + 1, session: session)
            if existing.modRev == rev { versions.removeLast() }
            versions.append(version)
            return .written(previous: existing, version: version, trimmable: Self.trim(&versions, oldest: oldest).trimmable)
        }
        switch outcome {
        case let .written(previous, version, trimmable):
            if trimmable { dueForTrim(path, at: rev) }
            reindex(path, from: previous, to: version)
        case .mismatch(let current):
            throw .revMismatch(path: path.string, expected: ifRev, current: current)
        case .absent:
            do throws(TreeError) {
                try checkIfRev(path, ifRev, nil)
                if children[path] != nil { throw .badPath(path: path.string, rule: "\(path) is a directory") }
                // A walk up, not `path.ancestors`: this is every creation's path, and allocates nothing.
                var ancestor = path.parent
                while let directory = ancestor, !directory.isRoot {
                    if current(directory) != nil { throw .badPath(path: path.string, rule: "\(directory) is a file") }
                    ancestor = directory.parent
                }
            } catch {
                // The visit left an empty entry for a path that had none.
                if files[path]?.isEmpty == true { files[path] = nil }
                throw error
            }
            replaceCurrent(path, with: Version(value: value, createRev: rev, modRev: rev, version: 1, session: session), previous: nil)
        }
    }

    private mutating func delete(_ path: TreePath, ifRev: IfRev, rev: Int64) throws(TreeError) {
        guard let existing = current(path) else {
            if ifRev > 0 { throw .revMismatch(path: path.string, expected: ifRev, current: 0) }
            throw .notFound(path: path.string)
        }
        try checkIfRev(path, ifRev, existing)
        replaceCurrent(path, with: Version(value: nil, createRev: existing.createRev, modRev: rev, version: 0, session: nil), previous: existing)
    }

    /// Appends a new current version (in place when the last one is of this same revision)
    /// and drops the versions no read can see any more, in one update of the file's entry:
    /// its versions are changed where they lie, neither taken out and put back nor looked
    /// up again.
    private mutating func replaceCurrent(_ path: TreePath, with version: Version, previous: Version?) {
        let oldest = oldestRevision
        let (remains, trimmable) = files.updateValue(forKey: path, default: []) { versions in
            if let last = versions.last, last.modRev == version.modRev { versions.removeLast() }
            versions.append(version)
            return Self.trim(&versions, oldest: oldest)
        }
        if !remains { files[path] = nil }
        if trimmable { dueForTrim(path, at: version.modRev) }
        reindex(path, from: previous, to: version.value == nil ? nil : version)
    }

    /// Puts back the versions a failed transaction replaced.
    private mutating func restore(_ path: TreePath, _ versions: [Version]?) {
        let now = current(path)
        // What these versions may lose later is still due from the writes that made them.
        files[path] = versions
        let before = versions?.last.flatMap { $0.value == nil ? nil : $0 }
        reindex(path, from: now, to: before)
    }

    /// Keeps the directory, session and count indexes in step with one file's change.
    mutating func reindex(_ path: TreePath, from old: Version?, to new: Version?) {
        if let session = old?.session { sessionFiles[session]?.remove(path); if sessionFiles[session]?.isEmpty == true { sessionFiles[session] = nil } }
        if let session = new?.session { sessionFiles[session, default: []].insert(path) }
        switch (old != nil, new != nil) {
        case (false, true):
            fileCount += 1
            var child = path
            while let parent = child.parent {
                let inserted = children[parent, default: SortedNames()].insert(String(child.name))
                guard inserted, !parent.isRoot else { break }
                child = parent
            }
        case (true, false):
            fileCount -= 1
            var child = path
            while let parent = child.parent {
                children[parent]?.remove(String(child.name))
                guard children[parent]?.isEmpty == true else { break }
                children[parent] = nil
                child = parent
            }
        default:
            break
        }
    }

    /// Drops versions no read at or after `oldestRevision` can see.
    private mutating func trim(_ path: TreePath) {
        let oldest = oldestRevision
        // In place, in the entry's slot (a path written since may be gone: then the visit
        // leaves an empty entry, removed at once). What stays trimmable is due again from
        // its later writes.
        let remains = files.updateValue(forKey: path, default: []) { versions -> Bool in
            versions.isEmpty ? false : Self.trim(&versions, oldest: oldest).remains
        }
        if !remains { files[path] = nil }
    }

    /// Drops from one file's versions those no read at or after `oldest` can see: the
    /// newest version at or before it stays, older ones go, and a lone tombstone at or
    /// before it goes too. Returns whether anything remains, and whether a later
    /// compaction may drop more (older versions or a tombstone remain).
    private static func trim(_ versions: inout [Version], oldest: Int64) -> (remains: Bool, trimmable: Bool) {
        // Versions are in modRev order: find the cut by bisection, so a hot file with many
        // versions costs O(log n) per write, not a scan.
        var low = 0, high = versions.count
        while low < high {
            let mid = (low + high) / 2
            if versions[mid].modRev <= oldest { low = mid + 1 } else { high = mid }
        }
        let keep = low - 1   // the last version at or before oldest, or -1
        if keep > 0 { versions.removeFirst(keep) }
        if versions.count == 1, versions[0].value == nil, versions[0].modRev <= oldest { return (false, false) }
        return (true, versions.count > 1 || versions[0].value == nil)
    }
}
