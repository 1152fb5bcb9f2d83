/// A `HOST:PORT` for the timer service's HTTP API, checked.
public struct TimerHTTPAddress: Hashable, Sendable {
    /// The host or address to bind.
    public var host: String
    /// The port (0 picks a free one).
    public var port: Int

    /// Parses `HOST:PORT`; throws a sentence naming what is wrong.
    public init(_ text: String) throws(TimerSpecError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port),
              colon != text.startIndex
        else { throw TimerSpecError("http", "expected HOST:PORT with a port from 0 to 65535, found \"\(text)\"") }
        host = String(text[..<colon])
        self.port = port
    }
}
