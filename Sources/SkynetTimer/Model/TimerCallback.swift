/// Where a timer's callback goes when it fires.
public enum TimerCallback: Hashable, Sendable {
    /// An HTTP request: `method` (upper case) to `uri`, body = the timer's data.
    case http(method: String, uri: String)
    /// A Skynet call through the pool: `method` on `service` (any version when `nil`),
    /// with the timer's data as its one argument.
    case skynet(service: String, version: String?, method: String)

    /// HTTP methods a callback may use.
    public static let httpMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
}

extension TimerCallback {
    /// Where attempts go, for bounding them per destination: an HTTP callback's scheme and
    /// authority (`http://host:port`), a Skynet callback's service and version.
    package var destination: String {
        switch self {
        case .http(_, let uri):
            // The parser admitted only http(s) URIs: "scheme://authority" then the path,
            // query or fragment. Bytes, not Characters: this runs for every firing.
            let bytes = uri.utf8
            guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return uri }
            let authorityStart = bytes.index(colon, offsetBy: 3, limitedBy: bytes.endIndex) ?? bytes.endIndex
            let end = bytes[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
            return String(uri[..<(end ?? bytes.endIndex)]).lowercased()
        case .skynet(let service, let version, _):
            return "skynet:\(service)@\(version ?? "*")"
        }
    }
}
