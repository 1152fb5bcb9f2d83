/// What a compare-and-set expects of a file's modRev.
///
/// Doozer's convention: `0` means the file must not exist, `-1` means unconditional,
/// any other `n` means the current modRev must equal `n`.
public typealias IfRev = Int64

/// A condition of a transaction on one file.
public struct TxnCompare: Hashable, Sendable {
    /// What is compared.
    public enum Target: Hashable, Sendable {
        case value([UInt8])
        case modRev(Int64)
        case createRev(Int64)
        case version(Int64)
        /// True when the file exists.
        case exists(Bool)
    }

    /// How it is compared (`exists` only uses `equal` and `notEqual`).
    public enum Relation: String, Hashable, Sendable { case equal, notEqual, less, greater }

    /// The file the condition is about.
    public var path: TreePath
    /// The expected side.
    public var target: Target
    /// The relation between the file's side and the expected side.
    public var relation: Relation

    /// Creates a condition.
    public init(_ path: TreePath, _ target: Target, _ relation: Relation = .equal) {
        self.path = path
        self.target = target
        self.relation = relation
    }
}

extension TxnCompare {
    /// Whether the compare holds of a file with this `value` (nil: no file) and these
    /// revisions (0 for a missing file): the one rule every store decides compares by.
    /// A missing file has no value, so only `value != x` holds of it.
    public func holds(value: [UInt8]?, modRev: Int64, createRev: Int64, version: Int64) -> Bool {
        func relate(_ actual: Int64, _ expected: Int64) -> Bool {
            switch relation {
            case .equal: actual == expected
            case .notEqual: actual != expected
            case .less: actual < expected
            case .greater: actual > expected
            }
        }
        switch target {
        case .exists(let expected):
            return relation == .notEqual ? (value != nil) != expected : (value != nil) == expected
        case .modRev(let rev): return relate(modRev, rev)
        case .createRev(let rev): return relate(createRev, rev)
        case .version(let v): return relate(version, v)
        case .value(let bytes):
            guard let value else { return relation == .notEqual }
            switch relation {
            case .equal: return value == bytes
            case .notEqual: return value != bytes
            case .less: return value.lexicographicallyPrecedes(bytes)
            case .greater: return bytes.lexicographicallyPrecedes(value)
            }
        }
    }
}

/// One operation inside a transaction or on its own.
public enum TreeOperation: Hashable, Sendable {
    /// Write `value`; `session` makes the file ephemeral.
    case set(path: TreePath, value: [UInt8], ifRev: IfRev, session: UInt64?)
    /// Delete a file.
    case del(path: TreePath, ifRev: IfRev)
    /// Read a file as of the transaction.
    case get(path: TreePath)

    /// True for operations that change the tree.
    public var isWrite: Bool {
        if case .get = self { return false }
        return true
    }

    /// The file the operation is about.
    public var path: TreePath {
        switch self {
        case let .set(path, _, _, _), let .del(path, _), let .get(path): path
        }
    }

    /// Checks what can be checked without a tree's contents, the same on every store: the
    /// root is not a file, and a value fits `limits`.
    public func validate(limits: TreeLimits) throws(TreeError) {
        switch self {
        case let .set(path, value, _, _):
            if path.isRoot { throw .badPath(path: path.string, rule: "/ is the root directory, not a file") }
            if value.count > limits.maxValueSize { throw .tooLarge(size: value.count, limit: limits.maxValueSize) }
        case let .del(path, _):
            if path.isRoot { throw .badPath(path: path.string, rule: "/ is the root directory, not a file") }
        case .get:
            break
        }
    }
}

/// The result of one operation.
public enum TreeOperationResult: Hashable, Sendable {
    /// A write took effect at `rev`.
    case written(rev: Int64)
    /// A read found this file (or nothing).
    case read(TreeFile?)
}

/// The outcome of a transaction.
public struct TxnResult: Hashable, Sendable {
    /// True when every compare held and the success branch ran.
    public var succeeded: Bool
    /// One result per operation of the branch that ran.
    public var results: [TreeOperationResult]
    /// The tree's revision after the transaction.
    public var revision: Int64

    /// Creates a result.
    public init(succeeded: Bool, results: [TreeOperationResult], revision: Int64) {
        self.succeeded = succeeded
        self.results = results
        self.revision = revision
    }
}
