/// The head of one MessagePack value: how many bytes the marker and its fields take,
/// and what follows (raw payload bytes, or a number of child values).
///
/// Reading a header never allocates and never trusts a length beyond returning it;
/// callers compare lengths with their limits before acting on them.
public struct MessagePackHeader: Hashable, Sendable {
    /// What follows the header.
    public enum Body: Hashable, Sendable {
        /// `count` bytes of payload (0 for nil, bool and fixint).
        case bytes(Int)
        /// `count` child values.
        case array(Int)
        /// `count` key/value pairs (twice as many child values).
        case map(Int)
    }

    /// Bytes taken by the marker and its length/type fields.
    public var length: Int
    /// What follows the header.
    public var body: Body

    /// Reads the header at `offset`; `nil` when `bytes` ends before the header does.
    /// Throws `invalidByte` for 0xc1, the one byte the spec never uses.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(MessagePackError) -> MessagePackHeader? {
        guard offset < bytes.count else { return nil }
        let marker = bytes[offset]
        let available = bytes.count - offset

        // Reads a big-endian length of `width` bytes right after the marker plus `skip`.
        func length(_ width: Int, skip: Int = 0) -> Int? {
            guard available >= 1 + skip + width else { return nil }
            var value = 0
            for i in 0..<width { value = value << 8 | Int(bytes[offset + 1 + i]) }
            return value
        }

        switch marker {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3:
            return MessagePackHeader(length: 1, body: .bytes(0))
        case 0x80...0x8f:
            return MessagePackHeader(length: 1, body: .map(Int(marker & 0x0f)))
        case 0x90...0x9f:
            return MessagePackHeader(length: 1, body: .array(Int(marker & 0x0f)))
        case 0xa0...0xbf:
            return MessagePackHeader(length: 1, body: .bytes(Int(marker & 0x1f)))
        case 0xc1:
            throw .invalidByte(marker, offset: offset)
        case 0xc4, 0xd9: return length(1).map { MessagePackHeader(length: 2, body: .bytes($0)) }
        case 0xc5, 0xda: return length(2).map { MessagePackHeader(length: 3, body: .bytes($0)) }
        case 0xc6, 0xdb: return length(4).map { MessagePackHeader(length: 5, body: .bytes($0)) }
        case 0xc7: return length(1).flatMap { n in available >= 3 ? MessagePackHeader(length: 3, body: .bytes(n)) : nil }
        case 0xc8: return length(2).flatMap { n in available >= 4 ? MessagePackHeader(length: 4, body: .bytes(n)) : nil }
        case 0xc9: return length(4).flatMap { n in available >= 6 ? MessagePackHeader(length: 6, body: .bytes(n)) : nil }
        case 0xca: return MessagePackHeader(length: 1, body: .bytes(4))
        case 0xcb: return MessagePackHeader(length: 1, body: .bytes(8))
        case 0xcc, 0xd0: return MessagePackHeader(length: 1, body: .bytes(1))
        case 0xcd, 0xd1: return MessagePackHeader(length: 1, body: .bytes(2))
        case 0xce, 0xd2: return MessagePackHeader(length: 1, body: .bytes(4))
        case 0xcf, 0xd3: return MessagePackHeader(length: 1, body: .bytes(8))
        case 0xd4: return MessagePackHeader(length: 2, body: .bytes(1))
        case 0xd5: return MessagePackHeader(length: 2, body: .bytes(2))
        case 0xd6: return MessagePackHeader(length: 2, body: .bytes(4))
        case 0xd7: return MessagePackHeader(length: 2, body: .bytes(8))
        case 0xd8: return MessagePackHeader(length: 2, body: .bytes(16))
        case 0xdc: return length(2).map { MessagePackHeader(length: 3, body: .array($0)) }
        case 0xdd: return length(4).map { MessagePackHeader(length: 5, body: .array($0)) }
        case 0xde: return length(2).map { MessagePackHeader(length: 3, body: .map($0)) }
        case 0xdf: return length(4).map { MessagePackHeader(length: 5, body: .map($0)) }
        default:
            // Every byte value is covered above; the compiler cannot see that for UInt8 ranges.
            throw .invalidByte(marker, offset: offset)
        }
    }

    /// The minimum number of bytes any header needs after its marker (used for `truncated`).
    static func minimumLength(marker: UInt8) -> Int {
        switch marker {
        case 0xc4, 0xd9, 0xd4...0xd8: 2
        case 0xc5, 0xda, 0xc7, 0xdc, 0xde: 3
        case 0xc8: 4
        case 0xc6, 0xdb, 0xdd, 0xdf: 5
        case 0xc9: 6
        default: 1
        }
    }
}
