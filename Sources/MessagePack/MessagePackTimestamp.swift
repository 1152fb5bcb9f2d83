/// The MessagePack timestamp extension (type -1): seconds and nanoseconds since the Unix epoch.
///
/// Packing picks the smallest of the spec's three sizes (32, 64 or 96 bit) that holds the value.
public struct MessagePackTimestamp: Hashable, Sendable, CustomStringConvertible {
    /// Whole seconds since 1970-01-01T00:00:00Z; negative before it.
    public var seconds: Int64
    /// Nanoseconds within the second, `0..<1_000_000_000`.
    public var nanoseconds: UInt32

    /// Creates a timestamp; `nanoseconds` must be below one billion.
    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        precondition(nanoseconds < 1_000_000_000, "nanoseconds must be < 1e9")
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    public var description: String { "timestamp(\(seconds)s \(nanoseconds)ns)" }
}
