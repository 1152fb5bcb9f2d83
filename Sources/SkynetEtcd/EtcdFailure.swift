import GRPCCore
import SkynetRPC
import SkynetTree

/// Turns what etcd or the gRPC transport answered into the coordinator's stable error codes,
/// in sentences of our own: a user never reads raw gRPC or etcd text as the message.
enum EtcdFailure {
    /// The `RPCError` for `error`, thrown by a call to etcd described by `what` ("put /a").
    static func rpcError(_ error: any Error, _ what: String) -> SkynetRPC.RPCError {
        if let error = error as? SkynetRPC.RPCError { return error }
        if error is CancellationError { return SkynetRPC.RPCError(.unavailable, "\(what): cancelled") }
        guard let error = error as? GRPCCore.RPCError else {
            return SkynetRPC.RPCError(.unavailable, "\(what): the etcd cluster could not be reached")
        }
        let text = error.message.lowercased()
        if text.contains("required revision has been compacted") {
            return SkynetRPC.RPCError(.compacted, "\(what): the revision asked for has been compacted by etcd")
        }
        if text.contains("request is too large") || text.contains("too many operations in txn") {
            return SkynetRPC.RPCError(.tooLarge, "\(what): the request is over etcd's size limit")
        }
        if text.contains("requested lease not found") {
            return SkynetRPC.RPCError(.sessionNotFound, "\(what): no such session (expired, closed or never opened)")
        }
        switch error.code {
        case .unavailable, .deadlineExceeded, .aborted, .cancelled:
            return SkynetRPC.RPCError(.unavailable, "\(what): the etcd cluster is unavailable (no quorum, no leader, or no member reachable)")
        case .unauthenticated, .permissionDenied:
            return SkynetRPC.RPCError(.unauthorized, "\(what): etcd refused the credentials")
        case .resourceExhausted:
            return SkynetRPC.RPCError(.resourceExhausted, "\(what): etcd is overloaded; retry shortly")
        default:
            return SkynetRPC.RPCError(.internal, "\(what): etcd failed the request")
        }
    }
}
