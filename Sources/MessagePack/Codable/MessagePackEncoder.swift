import Foundation

/// Encodes `Encodable` values as MessagePack, packing with libmsgpack-c.
///
/// Structs and keyed containers become maps with string keys in declaration order;
/// arrays and unkeyed containers become arrays; `Data` becomes `bin`; `Date` becomes the
/// timestamp extension; a `MessagePackValue` is written as itself. `nil` optionals are
/// left out of keyed containers (as `JSONEncoder` does) and written as `nil` elsewhere.
public struct MessagePackEncoder: Sendable {
    /// Values handed to every `encode(to:)` through `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]

    /// Creates an encoder.
    public init() {}

    /// Encodes `value` to packed bytes.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try encodeToValue(value).packed()
    }

    /// Encodes `value` to a `MessagePackValue` tree without packing it.
    public func encodeToValue<T: Encodable>(_ value: T) throws -> MessagePackValue {
        try EncodingNode.encode(value, codingPath: [], userInfo: userInfo)
    }
}

/// A container under construction; reference semantics let nested containers fill in later.
final class EncodingNode {
    enum Item {
        case value(MessagePackValue)
        case node(EncodingNode)

        var resolved: MessagePackValue {
            switch self {
            case .value(let v): v
            case .node(let n): n.resolve()
            }
        }
    }

    enum Content {
        case empty
        case single(Item)
        case array([Item])
        case map([(key: String, item: Item)])
    }

    var content: Content = .empty

    func resolve() -> MessagePackValue {
        switch content {
        case .empty: .map([])
        case .single(let item): item.resolved
        case .array(let items): .array(items.map(\.resolved))
        case .map(let pairs): .map(pairs.map { (key: .string($0.key), value: $0.item.resolved) })
        }
    }

    /// Encodes `value`, taking the direct path for primitives and special types.
    static func encode<T: Encodable>(_ value: T, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) throws -> MessagePackValue {
        try item(for: value, codingPath: codingPath, userInfo: userInfo).resolved
    }

    /// Encodes `value`; `codingPath` is built only for values that need an encoder of their own.
    static func item<T: Encodable>(for value: T, codingPath: @autoclosure () -> [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) throws -> Item {
        if let direct = directValue(value) { return .value(direct) }
        let node = EncodingNode()
        try value.encode(to: NodeEncoder(node: node, codingPath: codingPath(), userInfo: userInfo))
        return .node(node)
    }

    /// Primitives and special types, recognised by metatype identity (a pointer compare,
    /// far cheaper than a chain of dynamic casts on the hot path).
    static func directValue<T: Encodable>(_ value: T) -> MessagePackValue? {
        let type = ObjectIdentifier(T.self)
        func cast<U>(_: U.Type) -> U { unsafeBitCast(value, to: U.self) }
        switch type {
        case ObjectIdentifier(String.self): return .string(cast(String.self))
        case ObjectIdentifier(Int.self): return .int(Int64(cast(Int.self)))
        case ObjectIdentifier(Bool.self): return .bool(cast(Bool.self))
        case ObjectIdentifier(Double.self): return .double(cast(Double.self))
        case ObjectIdentifier(MessagePackValue.self): return value as? MessagePackValue
        case ObjectIdentifier(Int64.self): return .int(cast(Int64.self))
        case ObjectIdentifier(Int32.self): return .int(Int64(cast(Int32.self)))
        case ObjectIdentifier(Int16.self): return .int(Int64(cast(Int16.self)))
        case ObjectIdentifier(Int8.self): return .int(Int64(cast(Int8.self)))
        case ObjectIdentifier(UInt64.self): return unsigned(cast(UInt64.self))
        case ObjectIdentifier(UInt.self): return unsigned(UInt64(cast(UInt.self)))
        case ObjectIdentifier(UInt32.self): return .int(Int64(cast(UInt32.self)))
        case ObjectIdentifier(UInt16.self): return .int(Int64(cast(UInt16.self)))
        case ObjectIdentifier(UInt8.self): return .int(Int64(cast(UInt8.self)))
        case ObjectIdentifier(Float.self): return .float(cast(Float.self))
        case ObjectIdentifier(Data.self): return (value as? Data).map { .binary([UInt8]($0)) }
        case ObjectIdentifier(Date.self): return (value as? Date).map { .timestamp(MessagePackTimestamp($0)) }
        case ObjectIdentifier(MessagePackTimestamp.self): return (value as? MessagePackTimestamp).map { .timestamp($0) }
        default: return nil
        }
    }

    private static func unsigned(_ v: UInt64) -> MessagePackValue {
        v <= UInt64(Int64.max) ? .int(Int64(v)) : .uint(v)
    }
}

extension MessagePackTimestamp {
    /// The timestamp of `date`, rounded down to whole nanoseconds.
    public init(_ date: Date) {
        let interval = date.timeIntervalSince1970
        let seconds = interval.rounded(.down)
        let nanos = ((interval - seconds) * 1e9).rounded(.down)
        self.init(seconds: Int64(seconds), nanoseconds: UInt32(min(max(nanos, 0), 999_999_999)))
    }

    /// This timestamp as a `Date` (to `Double` precision).
    public var date: Date {
        Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1e9)
    }
}

struct NodeEncoder: Encoder {
    let node: EncodingNode
    var codingPath: [any CodingKey]
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }

    init(node: EncodingNode, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.node = node
        self.codingPath = codingPath
        self.sendableUserInfo = userInfo
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .map = node.content {} else { node.content = .map([]) }
        return KeyedEncodingContainer(KeyedNodeEncoder(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = node.content {} else { node.content = .array([]) }
        return UnkeyedNodeEncoder(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleNodeEncoder(encoder: self) }

    func child(_ key: any CodingKey) -> NodeEncoder {
        NodeEncoder(node: EncodingNode(), codingPath: codingPath + [key], userInfo: sendableUserInfo)
    }
}

struct KeyedNodeEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func append(_ key: Key, _ item: EncodingNode.Item) {
        guard case .map(var pairs) = encoder.node.content else { return }
        encoder.node.content = .empty
        pairs.append((key: key.stringValue, item: item))
        encoder.node.content = .map(pairs)
    }

    mutating func encodeNil(forKey key: Key) throws { append(key, .value(.nil)) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        append(key, try EncodingNode.item(for: value, codingPath: codingPath + [key], userInfo: encoder.sendableUserInfo))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = encoder.child(key)
        append(key, .node(child.node))
        return child.container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = encoder.child(key)
        append(key, .node(child.node))
        return child.unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let child = encoder.child(key)
        append(key, .node(child.node))
        return child
    }
}

struct UnkeyedNodeEncoder: UnkeyedEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }
    var count: Int {
        if case .array(let items) = encoder.node.content { return items.count }
        return 0
    }

    private func append(_ item: EncodingNode.Item) {
        guard case .array(var items) = encoder.node.content else { return }
        encoder.node.content = .empty
        items.append(item)
        encoder.node.content = .array(items)
    }

    private var nextKey: MessagePackIndexKey { MessagePackIndexKey(count) }

    mutating func encodeNil() throws { append(.value(.nil)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        append(try EncodingNode.item(for: value, codingPath: codingPath + [nextKey], userInfo: encoder.sendableUserInfo))
    }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = encoder.child(nextKey)
        append(.node(child.node))
        return child.container(keyedBy: keyType)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = encoder.child(nextKey)
        append(.node(child.node))
        return child.unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder {
        let child = encoder.child(nextKey)
        append(.node(child.node))
        return child
    }
}

struct SingleNodeEncoder: SingleValueEncodingContainer {
    let encoder: NodeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.node.content = .single(.value(.nil)) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.node.content = .single(try EncodingNode.item(for: value, codingPath: codingPath, userInfo: encoder.sendableUserInfo))
    }
}

/// An integer coding key: the position inside an array.
public struct MessagePackIndexKey: CodingKey, Sendable {
    public var intValue: Int?
    public var stringValue: String { "\(intValue ?? 0)" }
    /// A key for position `index`.
    public init(_ index: Int) { intValue = index }
    public init?(intValue: Int) { self.intValue = intValue }
    public init?(stringValue: String) {
        guard let i = Int(stringValue) else { return nil }
        intValue = i
    }
}
