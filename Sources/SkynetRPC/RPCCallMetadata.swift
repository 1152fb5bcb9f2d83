import MessagePack

/// Call metadata Skynet's own clients may append to `params` as one trailing map
/// `{"skynet": {"id": <str>, "timeout_ms": <int>, "attempt": <int>, "caller": <str>}}`.
///
/// Servers strip it before handlers see the params, and accept calls without it, so any
/// spec-following client can call any method positionally. The timeout is relative
/// (milliseconds left when the call was sent), so no clock agreement is needed.
public struct RPCCallMetadata: Hashable, Sendable {
    /// An id for tracing one logical call across retries.
    public var requestID: String?
    /// Time the caller is still willing to wait, when it set a deadline.
    public var timeout: Duration?
    /// 1 for the first try, 2 for the first retry, and so on.
    public var attempt: Int
    /// Who is calling (a service name or tool), for logs.
    public var caller: String?

    /// Creates metadata.
    public init(requestID: String? = nil, timeout: Duration? = nil, attempt: Int = 1, caller: String? = nil) {
        self.requestID = requestID
        self.timeout = timeout
        self.attempt = attempt
        self.caller = caller
    }

    /// The key of the one-pair map that marks metadata.
    static let key = "skynet"

    /// The trailing params element.
    public var value: MessagePackValue {
        var fields: [(key: MessagePackValue, value: MessagePackValue)] = [("attempt", .int(Int64(attempt)))]
        if let requestID { fields.append(("id", .string(requestID))) }
        if let timeout {
            let ms = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
            fields.append(("timeout_ms", .int(max(0, ms))))
        }
        if let caller { fields.append(("caller", .string(caller))) }
        return .map([(key: .string(Self.key), value: .map(fields))])
    }

    /// Reads metadata from a params element; `nil` when it is not Skynet's metadata map.
    public init?(value: MessagePackValue) {
        guard case .map(let pairs) = value, pairs.count == 1, pairs[0].key == .string(Self.key),
              case .map = pairs[0].value else { return nil }
        let fields = pairs[0].value
        requestID = fields["id"]?.stringValue
        timeout = fields["timeout_ms"]?.int64Value.map { .milliseconds($0) }
        attempt = fields["attempt"]?.int64Value.map { Int($0) } ?? 1
        caller = fields["caller"]?.stringValue
    }

    /// Splits Skynet's trailing metadata map off `params`, when present.
    public static func split(_ params: [MessagePackValue]) -> ([MessagePackValue], RPCCallMetadata?) {
        guard let last = params.last, let metadata = RPCCallMetadata(value: last) else { return (params, nil) }
        return (Array(params.dropLast()), metadata)
    }
}
