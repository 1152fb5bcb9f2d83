import Foundation

/// Decodes `Decodable` values from MessagePack, unpacking with libmsgpack-c.
///
/// The inverse of `MessagePackEncoder`, and lenient where other encoders differ: map keys
/// may be strings or integers, `Double` accepts integers, `[UInt8]` accepts `bin`, `Date`
/// accepts a timestamp or seconds since the epoch. Errors are `DecodingError`s whose
/// context holds the coding path and whose description says what was expected and found;
/// `DecodingError.messagePackDescription` renders both on one line.
public struct MessagePackDecoder: Sendable {
    /// Values handed to every `init(from:)` through `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable] = [:]
    /// Limits applied when decoding from bytes.
    public var limits: MessagePackLimits = .default

    /// Creates a decoder.
    public init() {}

    /// Decodes a `T` from bytes holding exactly one value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: some Sequence<UInt8>) throws -> T {
        try decode(type, from: MessagePackValue(unpacking: bytes, limits: limits))
    }

    /// Decodes a `T` from an unpacked value; `codingPath` prefixes paths in errors.
    public func decode<T: Decodable>(_ type: T.Type, from value: MessagePackValue, codingPath: [any CodingKey] = []) throws -> T {
        try ValueDecoder(value: value, codingPath: codingPath, userInfo: userInfo).decodeValue(type)
    }
}

extension DecodingError {
    /// One line for humans and RPC error messages: `at <path>: <what went wrong>`.
    public var messagePackDescription: String {
        let context: Context
        switch self {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c): context = c
        @unknown default: return "\(self)"
        }
        let path = MessagePackCodingPath.render(context.codingPath)
        return path.isEmpty ? context.debugDescription : "at \(path): \(context.debugDescription)"
    }
}

/// Renders coding paths the way a reader writes them: `params[0].user.name`.
public enum MessagePackCodingPath {
    /// `codingPath` as a dotted path with `[i]` for array positions.
    public static func render(_ codingPath: [any CodingKey]) -> String {
        var out = ""
        for key in codingPath {
            if let i = key.intValue, key is MessagePackIndexKey { out += "[\(i)]" }
            else if out.isEmpty { out += key.stringValue }
            else { out += "." + key.stringValue }
        }
        return out
    }
}

struct ValueDecoder: Decoder {
    let value: MessagePackValue
    /// The path is kept as parent path plus own key and joined only when asked for, so
    /// decoding a leaf allocates no path array.
    private let parentPath: [any CodingKey]
    private let key: (any CodingKey)?
    let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }
    var codingPath: [any CodingKey] { key.map { parentPath + [$0] } ?? parentPath }

    init(value: MessagePackValue, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: any Sendable]) {
        self.init(value: value, parentPath: codingPath, key: nil, userInfo: userInfo)
    }

    private init(value: MessagePackValue, parentPath: [any CodingKey], key: (any CodingKey)?, userInfo: [CodingUserInfoKey: any Sendable]) {
        self.value = value
        self.parentPath = parentPath
        self.key = key
        self.sendableUserInfo = userInfo
    }

    func mismatch(_ expected: Any.Type, _ value: MessagePackValue, _ note: String = "") -> DecodingError {
        .typeMismatch(expected, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(value.typeName) \(value)\(note)"))
    }

    /// A decoder for a child value; `path` is this decoder's `codingPath`, computed once by the container.
    func child(_ value: MessagePackValue, _ key: any CodingKey, path: [any CodingKey]) -> ValueDecoder {
        ValueDecoder(value: value, parentPath: path, key: key, userInfo: sendableUserInfo)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .map(let pairs) = value else { throw mismatch([String: Any].self, value) }
        return KeyedDecodingContainer(KeyedValueDecoder(decoder: self, pairs: pairs))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        switch value {
        case .array(let elements): return UnkeyedValueDecoder(decoder: self, elements: elements)
        case .binary(let bytes): return UnkeyedValueDecoder(decoder: self, elements: bytes.map { .int(Int64($0)) })
        default: throw mismatch([Any].self, value)
        }
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let direct = try directValue(type) { return direct }
        return try T(from: self)
    }

    /// Decodes primitives and special types without going through `init(from:)`,
    /// recognised by metatype identity rather than dynamic casts.
    private func directValue<T>(_ type: T.Type) throws -> T? {
        func cast<U>(_ u: U) -> T { unsafeBitCast(u, to: T.self) }
        switch ObjectIdentifier(type) {
        case ObjectIdentifier(String.self): return cast(try decode(String.self))
        case ObjectIdentifier(Int.self): return cast(try integer(Int.self))
        case ObjectIdentifier(Bool.self): return cast(try decode(Bool.self))
        case ObjectIdentifier(Double.self): return cast(try decode(Double.self))
        case ObjectIdentifier(MessagePackValue.self): return cast(value)
        case ObjectIdentifier(Int64.self): return cast(try integer(Int64.self))
        case ObjectIdentifier(Int32.self): return cast(try integer(Int32.self))
        case ObjectIdentifier(Int16.self): return cast(try integer(Int16.self))
        case ObjectIdentifier(Int8.self): return cast(try integer(Int8.self))
        case ObjectIdentifier(UInt.self): return cast(try integer(UInt.self))
        case ObjectIdentifier(UInt64.self): return cast(try integer(UInt64.self))
        case ObjectIdentifier(UInt32.self): return cast(try integer(UInt32.self))
        case ObjectIdentifier(UInt16.self): return cast(try integer(UInt16.self))
        case ObjectIdentifier(UInt8.self): return cast(try integer(UInt8.self))
        case ObjectIdentifier(Float.self): return cast(try decode(Float.self))
        case ObjectIdentifier(Data.self):
            guard case .binary(let bytes) = value else { throw mismatch(Data.self, value) }
            return cast(Data(bytes))
        case ObjectIdentifier(Date.self):
            switch value {
            case .timestamp(let t): return cast(t.date)
            case .int, .uint, .double, .float: return cast(Date(timeIntervalSince1970: try decode(Double.self)))
            default: throw mismatch(Date.self, value)
            }
        case ObjectIdentifier(MessagePackTimestamp.self):
            guard case .timestamp(let t) = value else { throw mismatch(MessagePackTimestamp.self, value) }
            return cast(t)
        default:
            return nil
        }
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        switch value {
        case .int(let i):
            guard let v = I(exactly: i) else { throw mismatch(type, value, " (out of range)") }
            return v
        case .uint(let u):
            guard let v = I(exactly: u) else { throw mismatch(type, value, " (out of range)") }
            return v
        case .nil:
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found nil"))
        default:
            throw mismatch(type, value)
        }
    }
}

extension ValueDecoder: SingleValueDecodingContainer {
    func decodeNil() -> Bool { value.isNil }

    func decode(_ type: Bool.Type) throws -> Bool {
        guard case .bool(let b) = value else { throw notFoundOrMismatch(type) }
        return b
    }

    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = value else { throw notFoundOrMismatch(type) }
        return s
    }

    func decode(_ type: Double.Type) throws -> Double {
        switch value {
        case .double(let d): return d
        case .float(let f): return Double(f)
        case .int(let i): return Double(i)
        case .uint(let u): return Double(u)
        default: throw notFoundOrMismatch(type)
        }
    }

    func decode(_ type: Float.Type) throws -> Float {
        switch value {
        case .float(let f): return f
        case .double(let d): return Float(d)
        case .int(let i): return Float(i)
        case .uint(let u): return Float(u)
        default: throw notFoundOrMismatch(type)
        }
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type) }

    private func notFoundOrMismatch(_ type: Any.Type) -> DecodingError {
        if value.isNil {
            return .valueNotFound(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found nil"))
        }
        return mismatch(type, value)
    }
}

struct KeyedValueDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: ValueDecoder
    let codingPath: [any CodingKey]
    /// Map entries by key text; integer keys are matched by their decimal text.
    private let entries: [(key: String, value: MessagePackValue)]
    /// Built only for larger maps, where a linear scan per key would go quadratic.
    private let index: [String: Int]?

    init(decoder: ValueDecoder, pairs: [(key: MessagePackValue, value: MessagePackValue)]) {
        self.decoder = decoder
        self.codingPath = decoder.codingPath
        var entries: [(key: String, value: MessagePackValue)] = []
        entries.reserveCapacity(pairs.count)
        for pair in pairs {
            switch pair.key {
            case .string(let s): entries.append((s, pair.value))
            case .int(let i): entries.append((String(i), pair.value))
            case .uint(let u): entries.append((String(u), pair.value))
            default: continue
            }
        }
        self.entries = entries
        if entries.count > 8 {
            var index: [String: Int] = [:]
            index.reserveCapacity(entries.count)
            for (i, entry) in entries.enumerated() where index[entry.key] == nil { index[entry.key] = i }
            self.index = index
        } else {
            self.index = nil
        }
    }

    var allKeys: [Key] { entries.compactMap { Key(stringValue: $0.key) } }

    private func lookup(_ key: Key) -> MessagePackValue? {
        if let index { return index[key.stringValue].map { entries[$0].value } }
        return entries.first { $0.key == key.stringValue }?.value
    }

    private func required(_ key: Key) throws -> ValueDecoder {
        guard let value = lookup(key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing key \"\(key.stringValue)\""))
        }
        return decoder.child(value, key, path: codingPath)
    }

    func contains(_ key: Key) -> Bool { lookup(key) != nil }
    func decodeNil(forKey key: Key) throws -> Bool { lookup(key)?.isNil ?? true }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try required(key).decodeValue(type) }
    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try required(key).container(keyedBy: type)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try required(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { try superDecoder(forKey: Key(stringValue: "super")!) }
    func superDecoder(forKey key: Key) throws -> any Decoder { decoder.child(lookup(key) ?? .nil, key, path: codingPath) }
}

struct UnkeyedValueDecoder: UnkeyedDecodingContainer {
    let decoder: ValueDecoder
    let elements: [MessagePackValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(decoder: ValueDecoder, elements: [MessagePackValue]) {
        self.decoder = decoder
        self.elements = elements
        self.codingPath = decoder.codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    private mutating func next(_ type: Any.Type) throws -> ValueDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(
                codingPath: codingPath + [MessagePackIndexKey(currentIndex)],
                debugDescription: "expected \(type), found the end of an array of \(elements.count)"))
        }
        defer { currentIndex += 1 }
        return decoder.child(elements[currentIndex], MessagePackIndexKey(currentIndex), path: codingPath)
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex].isNil else { return false }
        currentIndex += 1
        return true
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decodeValue(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next([String: Any].self).container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next([Any].self).unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next(Any.self) }
}
