import MessagePack

/// The method table of an `RPCServer`: typed Codable handlers, raw value handlers and
/// notification handlers, by method name.
///
/// Typed handlers take positional params: `router.register("add") { (a: Int, b: Int) in a + b }`
/// answers `[0, id, "add", [1, 2]]` with `3`. Params that do not decode are answered with
/// `BadRequest` naming the param's coding path; trailing optional params may be omitted.
/// Register everything before the server starts; the table is a value and is copied in.
public struct RPCRouter: Sendable {
    /// A handler working on raw values: params in, result out.
    public typealias RawHandler = @Sendable ([MessagePackValue], RPCCallContext) async throws -> MessagePackValue
    /// A notification handler; it cannot answer.
    public typealias NotificationHandler = @Sendable ([MessagePackValue], RPCCallContext) async -> Void

    /// A handler that answers through its `RPCReply`, with no task of its own: for methods
    /// that answer at once or from the completion of a batch. It must not block.
    public typealias ReplyingHandler = @Sendable ([MessagePackValue], RPCCallContext, RPCReply) -> Void

    private(set) var methods: [String: RawHandler] = [:]
    private(set) var replying: [String: ReplyingHandler] = [:]
    private(set) var notifications: [String: NotificationHandler] = [:]

    /// Creates an empty table.
    public init() {}

    /// The names of all registered methods, sorted.
    public var methodNames: [String] { (Array(methods.keys) + replying.keys).sorted() }

    /// Registers a handler on raw values, replacing any earlier one of that name.
    public mutating func registerRaw(_ method: String, _ handler: @escaping RawHandler) {
        replying[method] = nil
        methods[method] = handler
    }

    /// Registers a replying handler, replacing any earlier one of that name. Deadlines still
    /// hold: when the caller's passes first, it is answered `DeadlineExceeded` and the late
    /// reply is dropped.
    public mutating func registerReplying(_ method: String, _ handler: @escaping ReplyingHandler) {
        methods[method] = nil
        replying[method] = handler
    }

    /// Registers a typed handler whose arguments are the call's positional params.
    public mutating func register<each A: Decodable & SendableMetatype, R: Encodable & SendableMetatype>(
        _ method: String, _ handler: @escaping @Sendable (repeat each A) async throws -> R
    ) {
        methods[method] = { params, _ in
            let reader = RPCParams(params)
            let args = (repeat try reader.next((each A).self))
            try reader.finish()
            return try MessagePackEncoder().encodeToValue(try await handler(repeat each args))
        }
    }

    /// Registers a typed handler that also receives the call's context.
    public mutating func register<each A: Decodable & SendableMetatype, R: Encodable & SendableMetatype>(
        _ method: String, _ handler: @escaping @Sendable (RPCCallContext, repeat each A) async throws -> R
    ) {
        methods[method] = { params, context in
            let reader = RPCParams(params)
            let args = (repeat try reader.next((each A).self))
            try reader.finish()
            let result = try await handler(context, repeat each args)
            return try MessagePackEncoder().encodeToValue(result)
        }
    }

    /// Wraps every registered raw and typed method handler (not replying ones), for instrumentation (counting, timing)
    /// without touching the handlers themselves. `wrap` gets the method name and its handler.
    public mutating func wrapMethods(_ wrap: (String, @escaping RawHandler) -> RawHandler) {
        for (name, handler) in methods { methods[name] = wrap(name, handler) }
    }

    /// Wraps every registered replying handler, as `wrapMethods` does the others; to see the
    /// answer, hand the wrapped handler `reply.observing { ... }`.
    public mutating func wrapReplyingMethods(_ wrap: (String, @escaping ReplyingHandler) -> ReplyingHandler) {
        for (name, handler) in replying { replying[name] = wrap(name, handler) }
    }

    /// Registers a handler for notifications of that name.
    public mutating func onNotification(_ method: String, _ handler: @escaping NotificationHandler) {
        notifications[method] = handler
    }
}
