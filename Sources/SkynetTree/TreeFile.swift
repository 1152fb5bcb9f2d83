/// The metadata of a file: when it was created and last changed, and by whom it lives.
public struct FileStat: Hashable, Sendable {
    /// The revision that created this incarnation of the file.
    public var createRev: Int64
    /// The revision of the last change.
    public var modRev: Int64
    /// Number of writes since creation, starting at 1.
    public var version: Int64
    /// The session the file is bound to (ephemeral), or `nil` for a persistent file.
    public var session: UInt64?
    /// Size of the value in bytes.
    public var size: Int

    /// Creates a stat.
    public init(createRev: Int64, modRev: Int64, version: Int64, session: UInt64?, size: Int) {
        self.createRev = createRev
        self.modRev = modRev
        self.version = version
        self.session = session
        self.size = size
    }
}

/// A file as read: its path, its bytes and its stat.
public struct TreeFile: Hashable, Sendable {
    /// Where it lives.
    public var path: TreePath
    /// Its value.
    public var value: [UInt8]
    /// Its metadata.
    public var stat: FileStat

    public init(path: TreePath, value: [UInt8], stat: FileStat) {
        self.path = path
        self.value = value
        self.stat = stat
    }

    /// What the file counts for against a walk page's byte budget: its value and path, plus
    /// an allowance for the rest of its wire form.
    package var pageBytes: Int { value.count + path.string.utf8.count + 48 }
}

/// One change, as watchers see it. All events of one revision share `rev`.
public struct TreeEvent: Hashable, Sendable {
    /// A file was written or deleted.
    public enum Kind: String, Hashable, Sendable { case put, delete }

    /// The revision that made the change.
    public var rev: Int64
    /// The file changed.
    public var path: TreePath
    /// What happened.
    public var kind: Kind
    /// The new value (empty for a delete).
    public var value: [UInt8]

    /// Creates an event.
    public init(rev: Int64, path: TreePath, kind: Kind, value: [UInt8]) {
        self.rev = rev
        self.path = path
        self.kind = kind
        self.value = value
    }
}

/// What a path is.
public enum TreeNodeStat: Hashable, Sendable {
    /// A file and its stat.
    case file(FileStat)
    /// A directory (it exists while it has children) and how many it has.
    case directory(children: Int)
}
