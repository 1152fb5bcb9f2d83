import SkynetTree

extension ConfigTree {
    /// An empty tree that will be filled by `restore(_:)` from a snapshot taken at `revision`;
    /// reads before `revision` are compacted.
    public init(restoringAt revision: Int64, limits: TreeLimits = .default) {
        self.init(limits: limits)
        self.revision = revision
        self.oldestRevision = revision
    }

    /// Puts back one file of a snapshot. Files may come in any order.
    public mutating func restore(_ file: TreeFile) {
        let version = Version(
            value: file.value, createRev: file.stat.createRev, modRev: file.stat.modRev,
            version: file.stat.version, session: file.stat.session)
        files[file.path] = [version]
        reindex(file.path, from: nil, to: version)
    }

    /// Calls `body` with every file that exists now, in no particular order.
    public func forEachFile(_ body: (TreeFile) throws -> Void) rethrows {
        for (path, versions) in files {
            guard let version = versions.last, let value = version.value else { continue }
            try body(TreeFile(path: path, value: value, stat: FileStat(
                createRev: version.createRev, modRev: version.modRev, version: version.version,
                session: version.session, size: value.count)))
        }
    }
}
