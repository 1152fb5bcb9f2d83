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

extension RPCNotification {
    /// What a server sends a connection it is about to close gracefully (shutdown, idle):
    /// `[2, "skynet.goaway", [reason]]`. A client stops sending calls on that connection,
    /// lets the ones in flight finish and closes it; calls it sends meanwhile are refused
    /// unrun (`Unavailable`, not sent), so they are safe to retry elsewhere.
    public static let goAway = "skynet.goaway"
}
