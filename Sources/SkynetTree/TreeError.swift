/// Why a tree operation was refused. Each case maps to one stable RPC error code.
public enum TreeError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The path breaks a rule; `rule` says which.
    case badPath(path: String, rule: String)
    /// A value is larger than the limit.
    case tooLarge(size: Int, limit: Int)
    /// A compare-and-set expected `expected` but the file's modRev is `current` (0 = absent).
    case revMismatch(path: String, expected: Int64, current: Int64)
    /// No file at the path.
    case notFound(path: String)
    /// A read at a revision older than the oldest one kept.
    case compacted(requested: Int64, oldest: Int64)
    /// A read at a revision that does not exist yet.
    case futureRevision(requested: Int64, current: Int64)

    public var description: String {
        switch self {
        case let .badPath(path, rule): "bad path \"\(path)\": \(rule)"
        case let .tooLarge(size, limit): "value of \(size) bytes exceeds the maximum value size of \(limit) bytes"
        case let .revMismatch(path, expected, current): "\(path): expected revision \(expected), current revision is \(current)"
        case let .notFound(path): "\(path): no such file"
        case let .compacted(requested, oldest): "revision \(requested) is compacted; the oldest revision kept is \(oldest)"
        case let .futureRevision(requested, current): "revision \(requested) is in the future; the current revision is \(current)"
        }
    }

    /// The stable RPC error code for this error.
    public var code: String {
        switch self {
        case .badPath: "BadPath"
        case .tooLarge: "TooLarge"
        case .revMismatch: "RevMismatch"
        case .notFound: "NotFound"
        case .compacted: "Compacted"
        case .futureRevision: "BadRequest"
        }
    }
}
