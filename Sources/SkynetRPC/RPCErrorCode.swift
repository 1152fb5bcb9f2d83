/// A stable error code carried in the `code` field of an RPC error.
///
/// Codes are strings on the wire so any client can match them; the ones below are
/// Skynet's own and never change meaning (docs/WIRE.md, "Errors", lists them for every
/// language). Services may define more.
public struct RPCErrorCode: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    /// The server has no method of that name.
    public static let noSuchMethod: RPCErrorCode = "NoSuchMethod"
    /// The message or its params do not have the expected shape or types.
    public static let badRequest: RPCErrorCode = "BadRequest"
    /// A compare-and-set found another revision.
    public static let revMismatch: RPCErrorCode = "RevMismatch"
    /// The named thing does not exist.
    public static let notFound: RPCErrorCode = "NotFound"
    /// This node is not the leader; retry on the leader.
    public static let notLeader: RPCErrorCode = "NotLeader"
    /// The peer cannot serve now (connection lost, shutting down); the call may be retried.
    public static let unavailable: RPCErrorCode = "Unavailable"
    /// The call's deadline passed before an answer arrived.
    public static let deadlineExceeded: RPCErrorCode = "DeadlineExceeded"
    /// No credentials, or credentials that are wrong, expired or revoked.
    public static let unauthorized: RPCErrorCode = "Unauthorized"
    /// The caller is authenticated but not allowed this (the message names the path and
    /// the permission missing).
    public static let forbidden: RPCErrorCode = "Forbidden"
    /// A message or value is over a size, depth or length limit.
    public static let tooLarge: RPCErrorCode = "TooLarge"
    /// A limit on what one caller may hold is reached (connections, watches on a
    /// connection, writes waiting for the log); the message names the limit.
    public static let resourceExhausted: RPCErrorCode = "ResourceExhausted"
    /// The handler failed for a reason of its own.
    public static let `internal`: RPCErrorCode = "Internal"
}
