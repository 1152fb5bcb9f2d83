/// Who a connection speaks for once it has authenticated.
public enum AccessPrincipal: Hashable, Sendable, CustomStringConvertible {
    /// A token, by its id (`/skynet/auth/tokens/<id>`).
    case token(id: String)
    /// A client certificate (mutual TLS), by its common name (`/skynet/auth/certs/<name>`).
    case certificate(name: String)
    /// The coordinator's own in-process clients (its timer service and dashboard).
    case local

    /// A stable text form, as session ownership records store it: `token:<id>`,
    /// `certificate:<name>`, `local`.
    public var key: String {
        switch self {
        case .token(let id): "token:\(id)"
        case .certificate(let name): "certificate:\(name)"
        case .local: "local"
        }
    }

    /// The principal of a `key`; nil for text that is not one.
    public init?(key: String) {
        if key == "local" { self = .local; return }
        let (kind, colon) = (key.prefix { $0 != ":" }, key.firstIndex(of: ":"))
        guard let colon, case let name = String(key[key.index(after: colon)...]), !name.isEmpty else { return nil }
        switch kind {
        case "token": self = .token(id: name)
        case "certificate": self = .certificate(name: name)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .token(let id): "token \(id)"
        case .certificate(let name): "certificate \"\(name)\""
        case .local: "the coordinator itself"
        }
    }
}
