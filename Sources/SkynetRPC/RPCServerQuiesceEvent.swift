/// Sent down a server connection's pipeline when the server shuts down gracefully.
struct RPCServerQuiesceEvent: Sendable {}
