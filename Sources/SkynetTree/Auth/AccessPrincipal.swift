/// Who a connection speaks for once it has authenticated.
public enum AccessPrincipal: Hashable, Sendable, CustomStringConvertible {
    /// A token, by its id (`/skynet/auth/tokens/<id>`).
    case token(id: String)
    /// A client certificate (mutual TLS), by its common name (`/skynet/auth/certs/<name>`).
    case certificate(name: String)
    /// The coordinator's own in-process clients (its timer service and dashboard).
    case local

    public var description: String {
        switch self {
        case .token(let id): "token \(id)"
        case .certificate(let name): "certificate \"\(name)\""
        case .local: "the coordinator itself"
        }
    }
}
