/// A host with a port or a port range, such as `127.0.0.1:9000` or `127.0.0.1:9000-9999`:
/// a service binds the first free port of the range.
public struct AddressRange: Hashable, Sendable, CustomStringConvertible {
    /// The interface to bind.
    public var host: String
    /// The ports to try, in order.
    public var ports: ClosedRange<Int>

    /// Creates a range.
    public init(host: String, ports: ClosedRange<Int>) {
        self.host = host
        self.ports = ports
    }

    /// Parses `HOST:PORT` or `HOST:LOW-HIGH`; `field` names the setting in errors.
    public init(_ text: String, field: String) throws(ServiceConfigError) {
        let expected = "expected HOST:PORT or HOST:LOW-HIGH with ports 0-65535, such as 127.0.0.1:9000-9999; found \"\(text)\""
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else { throw ServiceConfigError(field: field, expected) }
        let host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        let bounds = portText.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard (1...2).contains(bounds.count), bounds.allSatisfy({ $0 != nil && (0...65_535).contains($0!) }) else {
            throw ServiceConfigError(field: field, expected)
        }
        let low = bounds[0]!, high = bounds.last!!
        guard low <= high else { throw ServiceConfigError(field: field, "port range \(low)-\(high) is empty: the low port must come first") }
        self.init(host: host, ports: low...high)
    }

    public var description: String {
        ports.count == 1 ? "\(host):\(ports.lowerBound)" : "\(host):\(ports.lowerBound)-\(ports.upperBound)"
    }
}
