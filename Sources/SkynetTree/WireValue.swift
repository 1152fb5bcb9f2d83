import MessagePack

/// Reading helpers for wire maps, each failure a `WireError` naming the field. The field's
/// name (`context`) is built only when reading fails: these run for every field of every call.
extension MessagePackValue {
    /// The value of map key `name`; `context` names the map in the error.
    public func field(_ name: String, in context: @autoclosure () -> String) throws(WireError) -> MessagePackValue {
        guard case .map = self else { throw WireError("\(context()): expected map, found \(typeName)") }
        guard let value = self[name] else { throw WireError("\(context()): missing \"\(name)\"") }
        return value
    }

    /// The value of map key `name`, or `nil` when absent or MessagePack nil.
    public func optionalField(_ name: String) -> MessagePackValue? {
        guard let value = self[name], !value.isNil else { return nil }
        return value
    }

    /// This value as a string.
    public func wireString(_ context: @autoclosure () -> String) throws(WireError) -> String {
        guard let string = stringValue else { throw WireError("\(context()): expected str, found \(typeName)") }
        return string
    }

    /// This value as a signed integer.
    public func wireInt(_ context: @autoclosure () -> String) throws(WireError) -> Int64 {
        guard let int = int64Value else { throw WireError("\(context()): expected int, found \(typeName)") }
        return int
    }

    /// This value as a non-negative integer.
    public func wireUInt(_ context: @autoclosure () -> String) throws(WireError) -> UInt64 {
        guard let int = uint64Value else { throw WireError("\(context()): expected a non-negative int, found \(self)") }
        return int
    }

    /// Bytes from bin, or from str as UTF-8, so clients without a bin type can write text.
    public func wireBytes(_ context: @autoclosure () -> String) throws(WireError) -> [UInt8] {
        switch self {
        case .binary(let bytes): return bytes
        case .string(let string): return Array(string.utf8)
        default: throw WireError("\(context()): expected bin or str, found \(typeName)")
        }
    }

    /// This value as an array.
    public func wireArray(_ context: @autoclosure () -> String) throws(WireError) -> [MessagePackValue] {
        guard case .array(let elements) = self else { throw WireError("\(context()): expected array, found \(typeName)") }
        return elements
    }

    /// This value as a validated tree path.
    public func wirePath(_ context: @autoclosure () -> String, limits: TreeLimits) throws(WireError) -> TreePath {
        let string = try wireString(context())
        do { return try TreePath(string, limits: limits) } catch { throw WireError("\(context()): \(error)") }
    }
}
