import MessagePack
import Testing

@Suite("Streaming frame decoder")
struct MessagePackFrameDecoderTests {
    private let values: [MessagePackValue] = [
        ["method", [1, 2, 3], .map(["a": .binary([1, 2, 3])])],
        .string(String(repeating: "s", count: 70_000)),
        .nil, 0, -1, .timestamp(.init(seconds: 5, nanoseconds: 6)), .ext(type: 3, data: [9, 9]),
    ]

    private var stream: [UInt8] { values.flatMap { $0.packed() } }

    private func drain(_ decoder: inout MessagePackFrameDecoder) throws -> [MessagePackValue] {
        var out: [MessagePackValue] = []
        while let value = try decoder.next() { out.append(value) }
        return out
    }

    @Test("fed byte by byte, it yields every value once")
    func byteByByte() throws {
        var decoder = MessagePackFrameDecoder()
        var out: [MessagePackValue] = []
        for byte in stream {
            decoder.feed([byte])
            out += try drain(&decoder)
        }
        #expect(out == values)
        #expect(decoder.bufferedByteCount == 0)
        try decoder.finish()
    }

    @Test("fed whole, it yields every value", arguments: [1, 3, 1000, Int.max])
    func chunked(chunk: Int) throws {
        var decoder = MessagePackFrameDecoder()
        var out: [MessagePackValue] = []
        let bytes = stream
        var index = 0
        while index < bytes.count {
            let end = index + min(chunk, bytes.count - index)
            decoder.feed(bytes[index..<end])
            out += try drain(&decoder)
            index = end
        }
        #expect(out == values)
    }

    @Test("a partial frame at the end of the stream is reported")
    func truncatedAtEnd() throws {
        var decoder = MessagePackFrameDecoder()
        decoder.feed([0x93, 0x01])
        #expect(try decoder.next() == nil)
        #expect(throws: MessagePackError.truncated(missing: 1)) { try decoder.finish() }
    }

    @Test("an oversized frame fails on its header, before its body arrives")
    func oversizedHeader() throws {
        var decoder = MessagePackFrameDecoder(limits: .init(maxMessageSize: 1024))
        decoder.feed([0xc6, 0x00, 0x10, 0x00, 0x00])   // bin32 announcing 1 MiB
        #expect(throws: MessagePackError.messageTooLarge(size: 5 + (1 << 20), limit: 1024)) { try decoder.next() }
        // The stream is dead after the first error, and says why.
        decoder.feed([0x01])
        #expect(throws: MessagePackError.streamFailed(MessagePackErrorBox(.messageTooLarge(size: 5 + (1 << 20), limit: 1024)))) {
            try decoder.next()
        }
    }

    @Test("container length and depth limits name the limit and the value")
    func containerLimits() throws {
        var decoder = MessagePackFrameDecoder(limits: .init(maxDepth: 3, maxContainerLength: 10))
        decoder.feed([0xdc, 0x00, 0x0b])   // array16 of 11
        #expect(throws: MessagePackError.containerTooLong(length: 11, limit: 10)) { try decoder.next() }
        var deep = MessagePackFrameDecoder(limits: .init(maxDepth: 3))
        deep.feed([0x91, 0x91, 0x91, 0x91, 0x01])
        let error = #expect(throws: MessagePackError.self) { try deep.next() }
        #expect(error == .depthExceeded(depth: 4, limit: 3))
        #expect(error?.description == "nesting depth 4 exceeds the maximum depth of 3")
    }

    @Test("the never-used byte 0xc1 is named with its offset")
    func invalidByte() {
        var decoder = MessagePackFrameDecoder()
        decoder.feed([0x92, 0x01, 0xc1])
        #expect(throws: MessagePackError.invalidByte(0xc1, offset: 2)) { try decoder.next() }
    }
}

