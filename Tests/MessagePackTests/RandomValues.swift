import MessagePack
import SkynetTestSupport

/// Random MessagePack values of every kind, bounded in depth and width.
enum RandomValues {
    static func value(depth: Int, using rng: inout SeededGenerator) -> MessagePackValue {
        let kinds = depth > 0 ? 14 : 12
        switch Int.random(in: 0..<kinds, using: &rng) {
        case 0: return .nil
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int64.random(in: -40...200, using: &rng))
        case 3: return .int(Int64.random(in: Int64.min...Int64.max, using: &rng))
        case 4: return .uint(UInt64.random(in: UInt64(Int64.max) + 1...UInt64.max, using: &rng))
        case 5: return .float(Float(Int.random(in: -1000...1000, using: &rng)) / 8)
        case 6: return .double(Double.random(in: -1e9...1e9, using: &rng))
        case 7: return .string(String((0..<Int.random(in: 0...40, using: &rng)).map { _ in "aé€🙂z".randomElement(using: &rng)! }))
        case 8: return .binary((0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 9: return .ext(type: Int8.random(in: 0...127, using: &rng), data: (0..<[1, 2, 4, 8, 16, 3, 300].randomElement(using: &rng)!).map { _ in UInt8.random(in: 0...255, using: &rng) })
        case 10: return .timestamp(MessagePackTimestamp(seconds: Int64.random(in: -(1 << 40)...(1 << 40), using: &rng), nanoseconds: UInt32.random(in: 0..<1_000_000_000, using: &rng)))
        case 11: return .string("")
        case 12: return .array((0..<Int.random(in: 0...6, using: &rng)).map { _ in value(depth: depth - 1, using: &rng) })
        default:
            return .map((0..<Int.random(in: 0...5, using: &rng)).map { _ in
                (key: value(depth: 0, using: &rng), value: value(depth: depth - 1, using: &rng))
            })
        }
    }
}
