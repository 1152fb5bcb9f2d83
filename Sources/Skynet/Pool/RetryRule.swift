import SkynetRPC

/// What a failed call attempt says about the instance and whether the call may go to
/// another one: the pool's retry policy as a pure rule, so `ServiceClient` only acts on it.
///
/// A request that cannot have run (`wasNotSent`: never written, or refused unrun by a
/// draining server) is always retried. A lost connection or an attempt timeout may have
/// run the call: retried only when the caller marked it idempotent. Any other error is the
/// instance's answer and goes to the caller; `Internal` also counts against its health.
public enum RetryRule {
    /// How the attempt counts for the instance.
    public enum Health: Hashable, Sendable {
        /// The instance answered (even with an error): its failure streak resets.
        case answered
        /// The call failed on a working connection: it counts toward ejection.
        case failed
        /// The connection is gone: the instance leaves rotation until it reconnects.
        case lost
    }

    /// The verdict on one failed attempt.
    public static func judge(_ error: RPCError, connectionActive: Bool, idempotent: Bool) -> (health: Health, retry: Bool) {
        switch error.code {
        case .unavailable where error.wasNotSent: (.lost, true)
        case .unavailable: (connectionActive ? .failed : .lost, idempotent)
        case .deadlineExceeded: (.failed, idempotent)
        case .internal: (.failed, false)
        default: (.answered, false)
        }
    }
}
