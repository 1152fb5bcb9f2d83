import MessagePack
import SkynetRPC

extension RPCErrorCode {
    /// A path breaks a rule (the message names it).
    public static let badPath: RPCErrorCode = "BadPath"
    /// A read or watch asked for a revision older than the history kept; `data.oldest` is the first one kept.
    public static let compacted: RPCErrorCode = "Compacted"
    /// A session id is unknown (expired, closed or never opened).
    public static let sessionNotFound: RPCErrorCode = "SessionNotFound"
    /// A watcher fell too far behind; `data.resumeFrom` says where to watch from again.
    public static let slowConsumer: RPCErrorCode = "SlowConsumer"
}

extension TreeError {
    /// The RPC form, with `data` for the cases a program acts on.
    public var rpcError: RPCError {
        switch self {
        case let .revMismatch(path, expected, current):
            RPCError(.revMismatch, description, data: .map(["path": .string(path), "expected": .int(expected), "current": .int(current)]))
        case let .compacted(_, oldest):
            RPCError(.compacted, description, data: .map(["oldest": .int(oldest)]))
        default:
            RPCError(RPCErrorCode(rawValue: code), description)
        }
    }
}

extension WireError {
    /// The RPC form: always `BadRequest`.
    public var rpcError: RPCError { RPCError(.badRequest, message) }
}
