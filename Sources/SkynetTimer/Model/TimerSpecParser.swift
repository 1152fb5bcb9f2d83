import MessagePack

/// Checks a timer request from outside (JSON through HTTP, a map through RPC) and builds
/// its `TimerSpec`, or names the first field that breaks a rule.
public enum TimerSpecParser {
    /// Parses `{"timeout", "data"?, "retries"?, "callback": {...}}`.
    public static func parse(_ value: MessagePackValue) throws(TimerSpecError) -> TimerSpec {
        guard let fields = value.mapValue else { throw TimerSpecError("body", "must be a JSON object") }
        let body = Fields(fields)
        guard let timeoutValue = body["timeout"], !timeoutValue.isNil else { throw TimerSpecError("timeout", "is required") }
        guard let timeout = integer(timeoutValue) else { throw TimerSpecError("timeout", "must be an integer (milliseconds)") }
        guard (1...TimerSpec.maxTimeout).contains(timeout) else {
            throw TimerSpecError("timeout", "must be between 1 and \(TimerSpec.maxTimeout) ms")
        }
        var data: [UInt8] = []
        switch body["data"] {
        case nil, .nil?: break
        case .string(let text)?: data = Array(text.utf8)
        case .binary(let bytes)?: data = bytes
        default: throw TimerSpecError("data", "must be a string")
        }
        guard data.count <= TimerSpec.maxData else { throw TimerSpecError("data", "must be at most \(TimerSpec.maxData) bytes (found \(data.count))") }
        var retries = TimerSpec.defaultRetries
        if let value = body["retries"], !value.isNil {
            guard let n = integer(value), (0...Int64(TimerSpec.maxRetries)).contains(n) else {
                throw TimerSpecError("retries", "must be an integer between 0 and \(TimerSpec.maxRetries)")
            }
            retries = Int(n)
        }
        guard let callbackValue = body["callback"], !callbackValue.isNil else { throw TimerSpecError("callback", "is required") }
        return TimerSpec(timeout: timeout, data: data, callback: try callback(callbackValue), retries: retries)
    }

    /// Parses the `callback` object alone (also what stored records hold).
    package static func callback(_ value: MessagePackValue) throws(TimerSpecError) -> TimerCallback {
        guard let fields = value.mapValue else { throw TimerSpecError("callback", "must be an object") }
        let callback = Fields(fields)
        guard let transport = callback["transport"], !transport.isNil else { throw TimerSpecError("callback.transport", "is required") }
        switch transport.stringValue?.lowercased() {
        case "http":
            guard let uriValue = callback["uri"], !uriValue.isNil else { throw TimerSpecError("callback.uri", "is required") }
            guard let uri = uriValue.stringValue, isHTTPURL(uri) else {
                throw TimerSpecError("callback.uri", "must be an http:// or https:// URL with a host")
            }
            var method = "POST"
            if let value = callback["method"], !value.isNil {
                guard let text = value.stringValue?.uppercased(), TimerCallback.httpMethods.contains(text) else {
                    throw TimerSpecError("callback.method", "must be one of \(TimerCallback.httpMethods.map { $0.lowercased() }.joined(separator: ", "))")
                }
                method = text
            }
            return .http(method: method, uri: uri)
        case "skynet":
            guard let service = callback["service"]?.stringValue, !service.isEmpty else {
                throw TimerSpecError("callback.service", "is required for the skynet transport")
            }
            guard let method = callback["method"]?.stringValue, !method.isEmpty else {
                throw TimerSpecError("callback.method", "is required for the skynet transport")
            }
            var version: String?
            if let value = callback["version"], !value.isNil {
                guard let text = value.stringValue else { throw TimerSpecError("callback.version", "must be a string") }
                version = text
            }
            return .skynet(service: service, version: version, method: method)
        default:
            throw TimerSpecError("callback.transport", "must be http or skynet")
        }
    }

    /// An integer, also from a float with no fraction (JSON numbers such as `1000.0`).
    private static func integer(_ value: MessagePackValue) -> Int64? {
        switch value {
        case .int(let i): return i
        case .uint(let u): return u <= UInt64(Int64.max) ? Int64(u) : nil
        case .double(let d): return d.rounded() == d && abs(d) < 9.2e18 ? Int64(d) : nil
        default: return nil
        }
    }

    private static func isHTTPURL(_ text: String) -> Bool {
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = lower.dropFirst(7) } else if lower.hasPrefix("https://") { rest = lower.dropFirst(8) } else { return false }
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return !host.isEmpty && !host.hasPrefix(":") && !text.contains(where: { $0 == " " || $0 == "\n" })
    }

    /// A map's string keys.
    private struct Fields {
        private let pairs: [(key: MessagePackValue, value: MessagePackValue)]
        init(_ pairs: [(key: MessagePackValue, value: MessagePackValue)]) { self.pairs = pairs }
        subscript(name: String) -> MessagePackValue? { pairs.first { $0.key.stringValue == name }?.value }
    }
}
