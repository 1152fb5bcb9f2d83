/// Why bytes could not be read as MessagePack. Each case names the limit or byte involved.
public enum MessagePackError: Error, Hashable, Sendable, CustomStringConvertible {
    /// A value's encoded size would exceed `limit` bytes (`size` is what it needs at least).
    case messageTooLarge(size: Int, limit: Int)
    /// Containers nest deeper than `limit`.
    case depthExceeded(depth: Int, limit: Int)
    /// An array or map announces more than `limit` elements or pairs.
    case containerTooLong(length: Int, limit: Int)
    /// A byte that is not a MessagePack type marker (0xc1 is the only one) at `offset`.
    case invalidByte(UInt8, offset: Int)
    /// The input ends inside a value (`missing` more bytes needed, at least).
    case truncated(missing: Int)
    /// Bytes follow the one value that was expected.
    case trailingBytes(count: Int)
    /// libmsgpack-c refused the bytes (`reason` carries its return code).
    case unpackFailed(reason: String)
    /// A decoder was used after it reported an error; the stream cannot be resynchronised.
    case streamFailed(MessagePackErrorBox)

    public var description: String {
        switch self {
        case let .messageTooLarge(size, limit):
            "message of at least \(size) bytes exceeds the maximum message size of \(limit) bytes"
        case let .depthExceeded(depth, limit):
            "nesting depth \(depth) exceeds the maximum depth of \(limit)"
        case let .containerTooLong(length, limit):
            "container of \(length) elements exceeds the maximum container length of \(limit)"
        case let .invalidByte(byte, offset):
            "byte 0x\(String(byte, radix: 16)) at offset \(offset) is not a MessagePack type"
        case let .truncated(missing):
            "input ends inside a value: at least \(missing) more bytes needed"
        case let .trailingBytes(count):
            "\(count) bytes follow the value"
        case let .unpackFailed(reason):
            "libmsgpack-c could not unpack the value: \(reason)"
        case let .streamFailed(box):
            "stream already failed: \(box.error)"
        }
    }
}

/// Boxes the first error of a failed stream so `MessagePackError` can refer to itself.
public final class MessagePackErrorBox: Hashable, Sendable {
    /// The error that stopped the stream.
    public let error: MessagePackError
    /// Boxes `error`.
    public init(_ error: MessagePackError) { self.error = error }
    public static func == (a: MessagePackErrorBox, b: MessagePackErrorBox) -> Bool { a.error == b.error }
    public func hash(into hasher: inout Hasher) { hasher.combine(error) }
}
