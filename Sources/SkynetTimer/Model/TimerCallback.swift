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
            // The parser admitted only http(s) URIs; the authority ends at the path, query
            // or fragment.
            guard let schemeEnd = uri.range(of: "://") else { return uri }
            let rest = uri[schemeEnd.upperBound...]
            let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
            return uri[..<schemeEnd.upperBound].lowercased() + authority.lowercased()
        case .skynet(let service, let version, _):
            return "skynet:\(service)@\(version ?? "*")"
        }
    }
}
