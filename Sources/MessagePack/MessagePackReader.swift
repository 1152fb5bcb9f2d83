import CMsgPack

/// Unpacks complete values with libmsgpack-c's `msgpack_unpack`.
///
/// Bytes are first checked by a `MessagePackScanner`, so limits hold before libmsgpack-c
/// allocates anything. libmsgpack-c's C unpacker nests at most 32 containers (its
/// compile-time `MSGPACK_EMBED_STACK_SIZE`); deeper values, up to `limits.maxDepth`,
/// have their outer containers split here and each subtree of depth 32 or less unpacked
/// by libmsgpack-c.
public enum MessagePackReader {
    /// How deep libmsgpack-c's C unpacker can nest.
    static let libraryMaxDepth = 32

    /// Unpacks `bytes`, which must hold exactly one value.
    public static func unpack(_ bytes: UnsafeRawBufferPointer, limits: MessagePackLimits = .default) throws(MessagePackError) -> MessagePackValue {
        var scanner = MessagePackScanner(limits: limits)
        switch try scanner.scan(bytes) {
        case .incomplete(let missing):
            throw .truncated(missing: missing)
        case .complete(let length, let depth):
            if length != bytes.count { throw .trailingBytes(count: bytes.count - length) }
            return try unpackFrame(bytes, depth: depth)
        }
    }

    /// Unpacks a frame a scanner has already measured: `bytes` is exactly one value of `depth`.
    public static func unpackFrame(_ bytes: UnsafeRawBufferPointer, depth: Int) throws(MessagePackError) -> MessagePackValue {
        if depth <= libraryMaxDepth { return try unpackWithLibrary(bytes) }
        return try unpackDeep(bytes)
    }

    private static func unpackWithLibrary(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> MessagePackValue {
        // `msgpack_unpack_next` makes and frees a zone (a header and an 8 KiB chunk) per
        // value; unpacking into this thread's own zone, cleared once the value is converted,
        // costs no allocation for values that fit its first chunk.
        let zone = ThreadZone.current
        defer { msgpack_zone_clear(zone) }
        var object = msgpack_object()
        var offset = 0
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        let status = msgpack_unpack(base, bytes.count, &offset, zone, &object)
        // The scanner measured the frame: it is exactly one value, so bytes left over
        // (`EXTRA_BYTES`) cannot happen and success is all there is to check for.
        guard status == MSGPACK_UNPACK_SUCCESS || status == MSGPACK_UNPACK_EXTRA_BYTES else {
            throw .unpackFailed(reason: "msgpack_unpack returned \(status.rawValue)")
        }
        return convert(object)
    }

    /// Splits the outer container of a value deeper than libmsgpack-c can nest.
    private static func unpackDeep(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> MessagePackValue {
        guard let header = try MessagePackHeader.read(bytes, at: 0) else { throw .truncated(missing: 1) }
        var offset = header.length
        func child() throws(MessagePackError) -> MessagePackValue {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
            // The whole frame already passed the caller's limits; this scan only measures.
            var scanner = MessagePackScanner(limits: MessagePackLimits(maxMessageSize: rest.count, maxDepth: .max, maxContainerLength: .max))
            guard case .complete(let length, let depth) = try scanner.scan(rest) else { throw .truncated(missing: 1) }
            offset += length
            return try unpackFrame(UnsafeRawBufferPointer(rebasing: rest[..<length]), depth: depth)
        }
        switch header.body {
        case .array(let count):
            var elements: [MessagePackValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try child()) }
            return .array(elements)
        case .map(let count):
            var pairs: [(key: MessagePackValue, value: MessagePackValue)] = []
            pairs.reserveCapacity(count)
            for _ in 0..<count { pairs.append((key: try child(), value: try child())) }
            return .map(pairs)
        case .bytes:
            return try unpackWithLibrary(bytes)
        }
    }

    private static func convert(_ object: msgpack_object) -> MessagePackValue {
        switch object.type {
        case MSGPACK_OBJECT_NIL:
            return .nil
        case MSGPACK_OBJECT_BOOLEAN:
            return .bool(object.via.boolean)
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            let u = object.via.u64
            return u <= UInt64(Int64.max) ? .int(Int64(u)) : .uint(u)
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return .int(object.via.i64)
        case MSGPACK_OBJECT_FLOAT32:
            return .float(Float(object.via.f64))
        case MSGPACK_OBJECT_FLOAT64:
            return .double(object.via.f64)
        case MSGPACK_OBJECT_STR:
            let str = object.via.str
            return .string(String(decoding: UnsafeRawBufferPointer(start: str.ptr, count: Int(str.size)), as: UTF8.self))
        case MSGPACK_OBJECT_BIN:
            let bin = object.via.bin
            return .binary(Array(UnsafeRawBufferPointer(start: bin.ptr, count: Int(bin.size))))
        case MSGPACK_OBJECT_ARRAY:
            let array = object.via.array
            let elements = UnsafeBufferPointer(start: array.ptr, count: Int(array.size))
            return .array(elements.map(convert))
        case MSGPACK_OBJECT_MAP:
            let map = object.via.map
            let pairs = UnsafeBufferPointer(start: map.ptr, count: Int(map.size))
            return .map(pairs.map { (key: convert($0.key), value: convert($0.val)) })
        case MSGPACK_OBJECT_EXT:
            var object = object
            var ts = msgpack_timestamp()
            if msgpack_object_to_timestamp(&object, &ts), ts.tv_nsec < 1_000_000_000 {
                return .timestamp(MessagePackTimestamp(seconds: ts.tv_sec, nanoseconds: ts.tv_nsec))
            }
            let ext = object.via.ext
            return .ext(type: ext.type, data: Array(UnsafeRawBufferPointer(start: ext.ptr, count: Int(ext.size))))
        default:
            return .nil
        }
    }
}

extension MessagePackValue {
    /// Unpacks `bytes`, which must hold exactly one value, checking `limits` first.
    public init(unpacking bytes: some Sequence<UInt8>, limits: MessagePackLimits = .default) throws(MessagePackError) {
        let array = Array(bytes)
        let result: Result<MessagePackValue, MessagePackError> = array.withUnsafeBytes { raw in
            Result { () throws(MessagePackError) in try MessagePackReader.unpack(raw, limits: limits) }
        }
        self = try result.get()
    }
}
