/// A `host:port` address, as instances, coordinators and admin endpoints are written.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    /// The host (name or IP; an IPv6 literal keeps its colons).
    public var host: String
    /// The port.
    public var port: Int

    /// Splits `text` at its last colon; `nil` when there is no host or no valid port.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else { return nil }
        host = String(text[..<colon])
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}
