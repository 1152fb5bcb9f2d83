import SkynetTree
import MessagePack
import SkynetRPC

extension CoordinatorError {
    /// The RPC form.
    public var rpcError: RPCError {
        switch self {
        case .tree(let error): error.rpcError
        case .sessionNotFound(let id): RPCError(.sessionNotFound, description, data: .map(["session": .uint(id)]))
        }
    }
}

extension WatchError {
    /// The RPC form.
    public var rpcError: RPCError {
        switch self {
        case let .compacted(_, oldest): RPCError(.compacted, description, data: .map(["oldest": .int(oldest)]))
        case let .slowConsumer(resumeFrom): RPCError(.slowConsumer, description, data: .map(["resumeFrom": .int(resumeFrom)]))
        }
    }
}
