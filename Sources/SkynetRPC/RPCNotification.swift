import MessagePack

/// A notification pushed by the peer: `[2, method, params]`.
public struct RPCNotification: Equatable, Sendable {
    /// The notification's name.
    public var method: String
    /// Its positional params.
    public var params: [MessagePackValue]

    /// Creates a notification.
    public init(method: String, params: [MessagePackValue]) {
        self.method = method
        self.params = params
    }
}
