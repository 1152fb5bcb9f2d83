/// One MessagePack value: the whole format as a Swift enum.
///
/// Integers have one family on the wire, so `.int` holds every value that fits `Int64`
/// and `.uint` only those above `Int64.max`; equality compares integers by value, so
/// `.int(5) == .uint(5)`. Maps keep their pairs in wire order and may hold any key type.
/// Extension type -1 with a valid payload is always surfaced as `.timestamp`.
public enum MessagePackValue: Sendable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case float(Float)
    case double(Double)
    case string(String)
    case binary([UInt8])
    case array([MessagePackValue])
    case map([(key: MessagePackValue, value: MessagePackValue)])
    /// An application extension: `type` is the spec's signed type byte (0...127 for
    /// applications; negative types are reserved by the spec).
    case ext(type: Int8, data: [UInt8])
    /// The spec's timestamp extension (type -1), in any of its three sizes.
    case timestamp(MessagePackTimestamp)
}

extension MessagePackValue {
    /// A map built from string keys, keeping the order given.
    public static func map(_ pairs: KeyValuePairs<String, MessagePackValue>) -> MessagePackValue {
        .map(pairs.map { (key: MessagePackValue.string($0.key), value: $0.value) })
    }

    /// The spec's name for this value's type, used in error messages.
    public var typeName: String {
        switch self {
        case .nil: "nil"
        case .bool: "bool"
        case .int, .uint: "int"
        case .float: "float32"
        case .double: "float64"
        case .string: "str"
        case .binary: "bin"
        case .array: "array"
        case .map: "map"
        case .ext: "ext"
        case .timestamp: "timestamp"
        }
    }
}

extension MessagePackValue: Equatable {
    public static func == (lhs: MessagePackValue, rhs: MessagePackValue) -> Bool {
        switch (lhs, rhs) {
        case (.nil, .nil): true
        case let (.bool(a), .bool(b)): a == b
        case let (.int(a), .int(b)): a == b
        case let (.uint(a), .uint(b)): a == b
        case let (.int(a), .uint(b)), let (.uint(b), .int(a)): a >= 0 && UInt64(a) == b
        case let (.float(a), .float(b)): a == b || (a.isNaN && b.isNaN)
        case let (.double(a), .double(b)): a == b || (a.isNaN && b.isNaN)
        case let (.string(a), .string(b)): a == b
        case let (.binary(a), .binary(b)): a == b
        case let (.array(a), .array(b)): a == b
        case let (.map(a), .map(b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case let (.ext(t1, d1), .ext(t2, d2)): t1 == t2 && d1 == d2
        case let (.timestamp(a), .timestamp(b)): a == b
        default: false
        }
    }
}

extension MessagePackValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .nil: return "nil"
        case .bool(let b): return String(b)
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .float(let f): return String(f)
        case .double(let d): return String(d)
        case .string(let s): return String(reflecting: s)
        case .binary(let b): return "bin(\(b.count) bytes)"
        case .array(let a): return "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .map(let m):
            return "{" + m.map { "\($0.key.description): \($0.value.description)" }.joined(separator: ", ") + "}"
        case .ext(let t, let d): return "ext(\(t), \(d.count) bytes)"
        case .timestamp(let t): return t.description
        }
    }
}

extension MessagePackValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: MessagePackValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (MessagePackValue, MessagePackValue)...) {
        self = .map(elements.map { (key: $0.0, value: $0.1) })
    }
}
