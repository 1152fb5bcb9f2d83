import Foundation
import MessagePack
import SkynetRPC

/// The RPC face of `skynet.timer`: `create`, `update`, `cancel`, `get` and `list`, with the
/// fields of the HTTP API as MessagePack maps. A trailing `true` marks a call forwarded by
/// another instance (it is never forwarded again).
enum TimerMethods {
    static func register(on router: inout RPCRouter, node: TimerNode) {
        router.registerRaw("create") { params, _ in
            let spec = try spec(params.first)
            let id = try params.count > 1 && !params[1].isNil ? uuid(params[1]) : nil
            return try await node.create(spec, id: id, forwarded: forwarded(params, at: 2)).wireValue()
        }
        router.registerRaw("update") { params, _ in
            let id = try uuid(params.first)
            return try await node.update(id, try spec(params.count > 1 ? params[1] : nil), forwarded: forwarded(params, at: 2)).wireValue()
        }
        router.registerRaw("cancel") { params, _ in
            try await node.cancel(try uuid(params.first), forwarded: forwarded(params, at: 1))
            return .bool(true)
        }
        router.registerRaw("get") { params, _ in
            try await node.get(try uuid(params.first), forwarded: forwarded(params, at: 1)).wireValue()
        }
        router.registerRaw("list") { params, _ in
            let options = params.first?.mapValue ?? []
            func option(_ name: String) -> MessagePackValue? { options.first { $0.key.stringValue == name }?.value }
            let limit = option("limit").map { $0.int64Value ?? 0 }
            let (state, after) = (option("state")?.stringValue, option("after")?.stringValue)
            let query = try TimerSpecError.asBadRequest { () throws(TimerSpecError) in try TimerListQuery(state: state, after: after, limit: limit) }
            return query.page(try await node.list(query), dataAsText: false)
        }
    }

    private static func spec(_ value: MessagePackValue?) throws -> TimerSpec {
        try TimerSpecError.asBadRequest { () throws(TimerSpecError) in try TimerSpecParser.parse(value ?? .nil) }
    }

    private static func uuid(_ value: MessagePackValue?) throws -> UUID {
        guard let text = value?.stringValue else { throw RPCError(.badRequest, "id: must be a timer id (a UUID string)") }
        guard let id = UUID(text: text) else { throw RPCError(.notFound, "no timer \(text) (not a timer id)") }
        return id
    }

    private static func forwarded(_ params: [MessagePackValue], at index: Int) -> Bool {
        params.count > index && params[index] == .bool(true)
    }
}
