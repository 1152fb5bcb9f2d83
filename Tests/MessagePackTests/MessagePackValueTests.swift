import MessagePack
import Testing
import SkynetTestSupport

@Suite("MessagePackValue round trips through libmsgpack-c")
struct MessagePackValueTests {
    private func roundTrip(_ value: MessagePackValue) throws -> MessagePackValue {
        try MessagePackValue(unpacking: value.packed())
    }

    @Test("integers at every encoding boundary keep their value and use the smallest form",
          arguments: [
            (Int64(0), 1), (127, 1), (128, 2), (255, 2), (256, 3), (65535, 3), (65536, 5),
            (4_294_967_295, 5), (4_294_967_296, 9), (Int64.max, 9),
            (-1, 1), (-32, 1), (-33, 2), (-128, 2), (-129, 3), (-32768, 3), (-32769, 5),
            (-2_147_483_648, 5), (-2_147_483_649, 9), (Int64.min, 9),
          ])
    func integerBoundaries(value: Int64, size: Int) throws {
        let bytes = MessagePackValue.int(value).packed()
        #expect(bytes.count == size)
        #expect(try MessagePackValue(unpacking: bytes) == .int(value))
    }

    @Test("unsigned integers above Int64.max stay unsigned")
    func unsignedAboveSignedRange() throws {
        for value in [UInt64(Int64.max) + 1, UInt64.max] {
            let back = try roundTrip(.uint(value))
            guard case .uint(let u) = back else { Issue.record("expected .uint, got \(back)"); continue }
            #expect(u == value)
        }
        #expect(try roundTrip(.uint(5)) == .int(5))
        #expect(MessagePackValue.int(5) == .uint(5))
        #expect(MessagePackValue.int(-1) != .uint(UInt64.max))
    }

    @Test("floats keep their width")
    func floats() throws {
        #expect(MessagePackValue.float(1.5).packed().count == 5)
        #expect(MessagePackValue.double(1.5).packed().count == 9)
        for f: Float in [0, -0.0, 1.5, .greatestFiniteMagnitude, .leastNonzeroMagnitude, Float.infinity] {
            #expect(try roundTrip(.float(f)) == .float(f))
        }
        for d in [0, 3.141592653589793, -1e300, Double.leastNonzeroMagnitude, -Double.infinity] {
            #expect(try roundTrip(.double(d)) == .double(d))
        }
        #expect(try roundTrip(.double(.nan)) == .double(.nan))
    }

    @Test("str and bin stay distinct at every length class", arguments: [0, 1, 31, 32, 255, 256, 65535, 65536, 100_000])
    func strAndBin(length: Int) throws {
        let text = String(repeating: "x", count: length)
        let bytes = [UInt8](repeating: 7, count: length)
        #expect(try roundTrip(.string(text)) == .string(text))
        #expect(try roundTrip(.binary(bytes)) == .binary(bytes))
        #expect(MessagePackValue.string(text) != .binary(Array(text.utf8)))
    }

    @Test("a reused writer: its bytes, in place and copied, grow past its first capacity and start over after reset (seeded)", arguments: [1, 2, 3] as [UInt64])
    func reusedWriter(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let writer = MessagePackWriter(capacity: 16)
        for _ in 0..<20 {
            writer.reset()
            let value = RandomValues.value(depth: 3, using: &rng)
            writer.pack(value)
            writer.appendPacked(MessagePackValue.string("tail").packed())
            let copied = writer.bytes
            #expect(writer.count == copied.count)
            #expect(writer.withUnsafeBytes { Array($0) } == copied)
            #expect(copied == value.packed() + MessagePackValue.string("tail").packed(), "seed \(seed)")
        }
    }

    @Test("the thread's scratch writer: empty each time, the same bytes as a fresh writer, another writer when nested, dropped after a large message (seeded)")
    func scratchWriter() throws {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<20 {
            let value = RandomValues.value(depth: 3, using: &rng)
            #expect(MessagePackWriter.withScratch { writer in writer.pack(value); return writer.bytes } == value.packed())
        }
        let (outer, inner, innerBytes, outerBytes) = MessagePackWriter.withScratch { outer in
            outer.pack("outer")
            let (inner, bytes) = MessagePackWriter.withScratch { inner in
                inner.pack("inner")
                return (ObjectIdentifier(inner), inner.bytes)
            }
            return (ObjectIdentifier(outer), inner, bytes, outer.bytes)
        }
        #expect(outer != inner)
        #expect(innerBytes == MessagePackValue.string("inner").packed())
        #expect(outerBytes == MessagePackValue.string("outer").packed(), "the nested use packed into the outer writer")
        // Kept between uses on a thread, until one grows it past 64 KiB.
        #expect(MessagePackWriter.withScratch { ObjectIdentifier($0) } == outer)
        MessagePackWriter.withScratch { $0.pack(.binary([UInt8](repeating: 1, count: 100_000))) }
        let after = MessagePackWriter.withScratch { ObjectIdentifier($0) }
        #expect(after != outer)
        #expect(MessagePackWriter.withScratch { ObjectIdentifier($0) } == after)
    }

    @Test("unicode strings survive")
    func unicode() throws {
        let text = "héllo wörld — 日本語 🙂"
        #expect(try roundTrip(.string(text)) == .string(text))
    }

    @Test("containers: empty, nested, and at the 16 / 65536 header boundaries")
    func containers() throws {
        #expect(try roundTrip([]) == [])
        #expect(try roundTrip(.map([])) == .map([]))
        for count in [15, 16, 65535, 65536] {
            let array = MessagePackValue.array((0..<count).map { .int(Int64($0)) })
            #expect(try MessagePackValue(unpacking: array.packed(), limits: .init(maxContainerLength: 1 << 20)) == array)
        }
        let map: MessagePackValue = [1: "one", "two": [2, 2.5, nil], .binary([1]): ["deep": [true]]]
        #expect(try roundTrip(map) == map)
    }

    @Test("ext values of every fixext and variable size", arguments: [1, 2, 4, 8, 16, 0, 3, 255, 256, 70_000])
    func ext(size: Int) throws {
        let value = MessagePackValue.ext(type: 42, data: (0..<size).map { UInt8(truncatingIfNeeded: $0) })
        #expect(try roundTrip(value) == value)
    }

    @Test("timestamps in the 32, 64 and 96 bit forms")
    func timestamps() throws {
        let cases: [(MessagePackTimestamp, Int)] = [
            (.init(seconds: 0), 6),
            (.init(seconds: 1_700_000_000), 6),
            (.init(seconds: 1_700_000_000, nanoseconds: 1), 10),
            (.init(seconds: (1 << 34) - 1, nanoseconds: 999_999_999), 10),
            (.init(seconds: 1 << 34), 15),
            (.init(seconds: -1, nanoseconds: 500), 15),
        ]
        for (timestamp, size) in cases {
            let bytes = MessagePackValue.timestamp(timestamp).packed()
            #expect(bytes.count == size, "\(timestamp)")
            #expect(try MessagePackValue(unpacking: bytes) == .timestamp(timestamp))
        }
    }

    @Test("values nested deeper than libmsgpack-c's own 32 levels still unpack, up to the limit")
    func deepNesting() throws {
        var value: MessagePackValue = "leaf"
        for level in 1...64 { value = level % 2 == 0 ? [value, .int(Int64(level))] : .map([(key: .string("k"), value: value)]) }
        #expect(try roundTrip(value) == value)
        let tooDeep = MessagePackValue.array([value])
        #expect(throws: MessagePackError.depthExceeded(depth: 65, limit: 64)) { try roundTrip(tooDeep) }
    }

    @Test("random values of every kind round trip", arguments: 0..<20)
    func randomRoundTrip(seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        for _ in 0..<100 {
            let value = RandomValues.value(depth: 4, using: &rng)
            #expect(try roundTrip(value) == value, "seed \(seed)")
        }
    }

    @Test("a buffer with more than one value is refused")
    func trailingBytes() {
        #expect(throws: MessagePackError.trailingBytes(count: 1)) { try MessagePackValue(unpacking: [0x01, 0x02]) }
        #expect(throws: MessagePackError.truncated(missing: 1)) { try MessagePackValue(unpacking: [0x92, 0x01]) }
    }
}
