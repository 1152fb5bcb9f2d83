/// Why a running instance takes no new calls: written in its `ServiceInfo` on the
/// transition, so `sky`, the dashboard and pools see the reason, not just the flag.
public struct OutOfRotation: Codable, Hashable, Sendable {
    /// What took the instance out.
    public enum Cause: String, Codable, Hashable, Sendable {
        /// An admin `unregister` (`sky unregister`, the dashboard), or started unregistered.
        case unregistered
        /// Its declared health check failed.
        case unhealthy
        /// Its load stayed over its ceiling. Pools still call it when no other instance
        /// can take a call, so a fleet that is overloaded everywhere keeps serving.
        case overloaded
    }

    /// What took it out.
    public var cause: Cause
    /// The detail a person reads: the health check's error, the load and the ceiling.
    public var detail: String

    /// Creates a reason.
    public init(_ cause: Cause, _ detail: String) {
        self.cause = cause
        self.detail = detail
    }
}
