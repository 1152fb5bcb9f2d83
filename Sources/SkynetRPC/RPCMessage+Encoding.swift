import MessagePack
import NIOCore

extension RPCMessage {
    /// Packs this message with libmsgpack-c and appends it to `buffer`.
    public func write(to buffer: inout ByteBuffer) {
        // Every call and answer is packed here: the thread's scratch writer spares each a
        // writer's allocations.
        MessagePackWriter.withScratch { writer in
            switch self {
            case let .request(msgid, method, params):
                writer.packArrayHeader(4)
                writer.packInt(0)
                writer.packUInt(UInt64(msgid))
                writer.packString(method)
                writer.pack(.array(params))
            case let .response(msgid, error, result):
                writer.packArrayHeader(4)
                writer.packInt(1)
                writer.packUInt(UInt64(msgid))
                writer.pack(error)
                writer.pack(result)
            case let .notification(method, params):
                writer.packArrayHeader(3)
                writer.packInt(2)
                writer.packString(method)
                writer.pack(.array(params))
            }
            writer.withUnsafeBytes { _ = buffer.writeBytes($0) }
        }
    }

    /// This message packed into a new buffer from `allocator`.
    public func encoded(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 64)
        write(to: &buffer)
        return buffer
    }
}
