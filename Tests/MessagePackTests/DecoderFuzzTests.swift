import CMsgPack
import MessagePack
import Testing
import SkynetTestSupport

@Suite("Randomized decoder robustness")
struct DecoderFuzzTests {
    /// Frames fed in all: valid, mutated, truncated, random and length-lying ones.
    static let frameCount = 100_000

    enum Outcome { case value, error, incomplete }

    /// Feeds `bytes` to a fresh frame decoder and reports what came of the first frame.
    private func decode(_ bytes: [UInt8], limits: MessagePackLimits) -> (Outcome, MessagePackError?) {
        var decoder = MessagePackFrameDecoder(limits: limits)
        decoder.feed(bytes)
        do {
            return try decoder.next() == nil ? (.incomplete, nil) : (.value, nil)
        } catch {
            return (.error, error)
        }
    }

    /// libmsgpack-c's own view of the first value in `bytes`: its length, or nil.
    private func libraryLength(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { raw in
            var unpacked = msgpack_unpacked()
            msgpack_unpacked_init(&unpacked)
            defer { msgpack_unpacked_destroy(&unpacked) }
            var offset = 0
            let status = msgpack_unpack_next(&unpacked, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, &offset)
            return status == MSGPACK_UNPACK_SUCCESS ? offset : nil
        }
    }

    @Test("100,000 random and mutated frames: no crash, no hang, a clear error for each bad one; libmsgpack-c agrees both ways",
          .timeLimit(.minutes(5)))
    func fuzz() throws {
        let seed = UInt64(0x5EED_2026)
        var rng = SeededGenerator(seed: seed)
        let limits = MessagePackLimits(maxMessageSize: 64 << 10, maxDepth: 24, maxContainerLength: 4096)
        var counts: [String: Int] = [:]
        for n in 0..<Self.frameCount {
            let valid = RandomValues.value(depth: 3, using: &rng).packed()
            var bytes = valid
            let mutation = n % 6
            switch mutation {
            case 0: break
            case 1:   // flip random bytes
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 2:   // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0..<max(1, bytes.count), using: &rng)))
            case 3:   // pure noise
                bytes = (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 4:   // a lying length header in front
                let headers: [[UInt8]] = [[0xdd, 0xff, 0xff, 0xff, 0xff], [0xdb, 0x7f, 0xff, 0xff, 0xff], [0xc9, 0x01, 0, 0, 0, 5], [0xdf, 0, 1, 0, 0]]
                bytes = headers.randomElement(using: &rng)! + bytes
            default:  // insert the reserved byte somewhere
                bytes.insert(0xc1, at: Int.random(in: 0...bytes.count, using: &rng))
            }
            let (outcome, error) = decode(bytes, limits: limits)
            counts["\(outcome)", default: 0] += 1
            // And the other way: what libmsgpack-c parses whole, our decoder returns too,
            // unless the value breaks one of our limits (which libmsgpack-c does not have).
            if libraryLength(bytes) != nil, outcome != .value {
                switch error {
                case .messageTooLarge?, .depthExceeded?, .containerTooLong?:
                    counts["library-only-over-limits", default: 0] += 1
                default:
                    Issue.record("seed \(seed) frame \(n): libmsgpack-c parses it, our decoder says \(outcome) \(error.map { "\($0)" } ?? "")")
                }
            }
            switch outcome {
            case .value:
                // Whatever our scanner accepts, libmsgpack-c must parse too.
                #expect(libraryLength(bytes) != nil, "seed \(seed) frame \(n): accepted bytes libmsgpack-c refuses")
            case .error:
                #expect(!(error?.description.isEmpty ?? true), "seed \(seed) frame \(n)")
            case .incomplete:
                #expect(bytes.count < limits.maxMessageSize)
            }
            if mutation == 0 {
                #expect(outcome == .value, "seed \(seed) frame \(n): a valid frame was not decoded")
                #expect(libraryLength(bytes) == valid.count)
            }
        }
        #expect(counts["value", default: 0] > Self.frameCount / 6)
        #expect(counts["error", default: 0] > Self.frameCount / 10)
        #expect(counts["incomplete", default: 0] > 0)
    }
}
