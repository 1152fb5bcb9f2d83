import MessagePack
import NIOCore

/// Splits a TCP byte stream into `RPCMessage`s, checking `MessagePackLimits` on every
/// header before buffering the bytes it announces.
///
/// On a frame that breaks a limit, is not MessagePack or is not a spec message, it throws
/// `RPCProtocolError`, carrying the request's msgid when the frame's first bytes hold one;
/// `ByteToMessageHandler` then stops decoding that connection.
public struct RPCFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RPCMessage

    private var scanner: MessagePackScanner

    /// Creates a decoder enforcing `limits`.
    public init(limits: MessagePackLimits = .default) {
        scanner = MessagePackScanner(limits: limits)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let message = try nextMessage(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(message))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        // A partial frame at EOF was never a complete message; dropping it loses nothing acknowledged.
        while let message = try nextMessage(&buffer) {
            context.fireChannelRead(Self.wrapInboundOut(message))
        }
        return .needMoreData
    }

    /// The next whole message in `buffer`, consuming its bytes; `nil` when more are needed.
    public mutating func nextMessage(_ buffer: inout ByteBuffer) throws(RPCProtocolError) -> RPCMessage? {
        let outcome: Result<(MessagePackValue, Int)?, RPCProtocolError> = buffer.withUnsafeReadableBytes { bytes in
            do throws(MessagePackError) {
                return .success(try scanner.nextValue(bytes))
            } catch {
                return .failure(RPCProtocolError(msgid: Self.peekRequestID(bytes), RPCError(error)))
            }
        }
        guard let (value, length) = try outcome.get() else { return nil }
        buffer.moveReaderIndex(forwardBy: length)
        return try RPCMessage(value: value)
    }

    /// The msgid of a request whose first bytes (`[0x94, 0x00, msgid`) have arrived.
    static func peekRequestID(_ bytes: UnsafeRawBufferPointer) -> UInt32? {
        guard bytes.count >= 3, bytes[0] == 0x94, bytes[1] == 0x00 else { return nil }
        guard let header = try? MessagePackHeader.read(bytes, at: 2), case .bytes(let payload) = header.body else { return nil }
        let end = 2 + header.length + payload
        guard end <= bytes.count else { return nil }
        let value = try? MessagePackReader.unpack(UnsafeRawBufferPointer(rebasing: bytes[2..<end]))
        return value?.uint64Value.flatMap(UInt32.init(exactly:))
    }
}
