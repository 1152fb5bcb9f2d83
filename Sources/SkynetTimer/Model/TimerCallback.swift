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
