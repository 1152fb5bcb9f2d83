/// Identifies one watch within a `WatchHub`.
public struct WatchID: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The number the hub gave it.
    public let rawValue: UInt64
    /// Wraps a number.
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: WatchID, b: WatchID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "watch-\(rawValue)" }
}
