import CMsgPack
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Packs values into bytes with libmsgpack-c's `msgpack_pack_*` functions.
///
/// A writer owns a growable byte buffer on the C side (`msgpack_sbuffer`), so libmsgpack-c
/// appends each piece with its own C write function instead of calling back into Swift
/// per integer and string. Reuse one (after `reset()`) to avoid an allocation per message.
/// Integers and timestamps are written in their smallest form. Not thread-safe: one writer
/// per task or event loop.
public final class MessagePackWriter {
    /// Never moves while the writer lives: the packer points at it.
    private let buffer: UnsafeMutablePointer<msgpack_sbuffer>

    /// Creates a writer whose buffer starts with room for `capacity` bytes.
    public init(capacity: Int = 256) {
        buffer = .allocate(capacity: 1)
        buffer.initialize(to: msgpack_sbuffer(size: 0, data: nil, alloc: 0))
        let capacity = max(capacity, 16)
        if let data = malloc(capacity) {
            buffer.pointee.data = data.assumingMemoryBound(to: CChar.self)
            buffer.pointee.alloc = capacity
        }
    }

    deinit {
        free(buffer.pointee.data)
        buffer.deallocate()
    }

    /// The bytes packed so far (a copy).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// How many bytes are packed.
    public var count: Int { buffer.pointee.size }

    /// Bytes the buffer holds room for.
    var capacity: Int { buffer.pointee.alloc }

    /// Calls `body` with the bytes packed so far, without copying them; the pointer is valid
    /// only inside `body`, and only until the writer packs again.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: buffer.pointee.data, count: buffer.pointee.size))
    }

    /// Empties the buffer, keeping its capacity.
    public func reset() { buffer.pointee.size = 0 }

    /// Packs `value` and everything inside it.
    public func pack(_ value: MessagePackValue) {
        withPacker { pk in Self.pack(value, into: pk) }
    }

    /// Writes an array header announcing `count` elements; pack the elements next.
    public func packArrayHeader(_ count: Int) { withPacker { _ = msgpack_pack_array($0, count) } }

    /// Writes a map header announcing `count` pairs; pack key, value, key, value... next.
    public func packMapHeader(_ count: Int) { withPacker { _ = msgpack_pack_map($0, count) } }

    /// Packs a signed integer in its smallest form.
    public func packInt(_ value: Int64) { withPacker { _ = msgpack_pack_int64($0, value) } }

    /// Packs an unsigned integer in its smallest form.
    public func packUInt(_ value: UInt64) { withPacker { _ = msgpack_pack_uint64($0, value) } }

    /// Packs a `str`.
    public func packString(_ value: String) { withPacker { Self.packString(value, into: $0) } }

    /// Packs a `bin`.
    public func packBinary(_ value: [UInt8]) {
        withPacker { pk in
            msgpack_pack_bin(pk, value.count)
            value.withUnsafeBytes { _ = msgpack_pack_bin_body(pk, $0.baseAddress, $0.count) }
        }
    }

    /// Packs a `bool`.
    public func packBool(_ value: Bool) { withPacker { _ = value ? msgpack_pack_true($0) : msgpack_pack_false($0) } }

    /// Packs `nil`.
    public func packNil() { withPacker { _ = msgpack_pack_nil($0) } }

    /// Appends bytes that already hold complete packed values.
    public func appendPacked(_ packed: some Sequence<UInt8>) {
        let appended: Void? = packed.withContiguousStorageIfAvailable { append(UnsafeRawBufferPointer($0)) }
        if appended == nil { Array(packed).withUnsafeBytes { append($0) } }
    }

    private func append(_ raw: UnsafeRawBufferPointer) {
        guard let base = raw.baseAddress, !raw.isEmpty else { return }
        _ = msgpack_sbuffer_write(buffer, base.assumingMemoryBound(to: CChar.self), raw.count)
    }

    private func withPacker(_ body: (UnsafeMutablePointer<msgpack_packer>) -> Void) {
        var packer = msgpack_packer(data: buffer, callback: msgpack_sbuffer_write)
        withUnsafeMutablePointer(to: &packer, body)
    }

    private static func pack(_ value: MessagePackValue, into pk: UnsafeMutablePointer<msgpack_packer>) {
        switch value {
        case .nil: msgpack_pack_nil(pk)
        case .bool(let b): _ = b ? msgpack_pack_true(pk) : msgpack_pack_false(pk)
        case .int(let i): msgpack_pack_int64(pk, i)
        case .uint(let u): msgpack_pack_uint64(pk, u)
        case .float(let f): msgpack_pack_float(pk, f)
        case .double(let d): msgpack_pack_double(pk, d)
        case .string(let s): packString(s, into: pk)
        case .binary(let b):
            msgpack_pack_bin(pk, b.count)
            b.withUnsafeBytes { _ = msgpack_pack_bin_body(pk, $0.baseAddress, $0.count) }
        case .array(let elements):
            msgpack_pack_array(pk, elements.count)
            for element in elements { pack(element, into: pk) }
        case .map(let pairs):
            msgpack_pack_map(pk, pairs.count)
            for pair in pairs {
                pack(pair.key, into: pk)
                pack(pair.value, into: pk)
            }
        case .ext(let type, let data):
            msgpack_pack_ext(pk, data.count, type)
            data.withUnsafeBytes { _ = msgpack_pack_ext_body(pk, $0.baseAddress, $0.count) }
        case .timestamp(let t):
            var ts = msgpack_timestamp(tv_sec: t.seconds, tv_nsec: t.nanoseconds)
            msgpack_pack_timestamp(pk, &ts)
        }
    }

    private static func packString(_ string: String, into pk: UnsafeMutablePointer<msgpack_packer>) {
        var string = string
        string.withUTF8 { utf8 in
            msgpack_pack_str(pk, utf8.count)
            _ = msgpack_pack_str_body(pk, utf8.baseAddress, utf8.count)
        }
    }
}

extension MessagePackValue {
    /// This value packed by libmsgpack-c.
    public func packed() -> [UInt8] {
        let writer = MessagePackWriter()
        writer.pack(self)
        return writer.bytes
    }
}
