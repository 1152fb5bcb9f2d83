extension MessagePackValue {
    /// The value as `Int64` when it is an integer that fits, else `nil`.
    public var int64Value: Int64? {
        switch self {
        case .int(let i): i
        case .uint(let u): Int64(exactly: u)
        default: nil
        }
    }

    /// The value as `UInt64` when it is a non-negative integer, else `nil`.
    public var uint64Value: UInt64? {
        switch self {
        case .int(let i): UInt64(exactly: i)
        case .uint(let u): u
        default: nil
        }
    }

    /// The string payload of a `str`, else `nil`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The elements of an `array`, else `nil`.
    public var arrayValue: [MessagePackValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The pairs of a `map`, else `nil`.
    public var mapValue: [(key: MessagePackValue, value: MessagePackValue)]? {
        if case .map(let m) = self { return m }
        return nil
    }

    /// True for `nil`.
    public var isNil: Bool {
        if case .nil = self { return true }
        return false
    }

    /// Looks up a string key in a `map` (first match in wire order); `nil` otherwise.
    public subscript(key: String) -> MessagePackValue? {
        guard case .map(let pairs) = self else { return nil }
        for pair in pairs where pair.key.stringValue == key { return pair.value }
        return nil
    }
}
