import Logging
import NIOCore

/// What a handler knows about the call it serves.
public struct RPCCallContext: Sendable {
    /// The method called.
    public var method: String
    /// The request's msgid on its connection.
    public var msgid: UInt32
    /// Skynet call metadata, when the caller sent it.
    public var metadata: RPCCallMetadata?
    /// When the caller stops waiting, if it said (from `metadata.timeout`, on this host's clock).
    public var deadline: ContinuousClock.Instant?
    /// The peer's address.
    public var remoteAddress: SocketAddress?
    /// The common name of the client certificate the peer presented, when the port serves
    /// mutual TLS (so the certificate was verified against its CA); nil otherwise.
    public var peerCertificateName: String?
    /// The connection the call came on, for pushing notifications back.
    public var connection: RPCServerConnection
    /// The connection's logger; `logger` adds this call's metadata to it.
    var connectionLogger: Logger

    /// A logger with `rpc.method` and `rpc.msgid` metadata set. Built on first use, so
    /// calls that never log pay nothing for it.
    public var logger: Logger {
        var logger = connectionLogger
        logger[metadataKey: "rpc.method"] = "\(method)"
        logger[metadataKey: "rpc.msgid"] = "\(msgid)"
        return logger
    }
}
