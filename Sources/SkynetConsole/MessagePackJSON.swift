import MessagePack

/// A tree value that is one whole MessagePack document (what Skynet itself stores:
/// registry records, timers), carried so that JSON shows it decoded.
struct MessagePackJSON: Codable, Sendable {
    var value: MessagePackValue

    /// The document in `bytes`, or `nil` when they are not exactly one MessagePack value
    /// of a map or an array (plain text would decode as a number or a string by chance).
    init?(_ bytes: [UInt8]) {
        guard let first = bytes.first, (0x80...0x9f).contains(first) || [0xdc, 0xdd, 0xde, 0xdf].contains(first),
              let value = try? MessagePackValue(unpacking: bytes)
        else { return nil }
        self.value = value
    }

    init(from decoder: any Decoder) throws { value = try MessagePackValue(from: decoder) }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
