import Foundation

/// A timer as the service keeps it: its spec, when it is due and how delivery went.
public struct TimerRecord: Hashable, Sendable {
    /// The timer's id (a UUID, lower case in text).
    public var id: UUID
    /// When the next delivery attempt is due, in milliseconds since 1970 (UTC).
    public var due: Int64
    /// What the caller asked for.
    public var spec: TimerSpec
    /// Delivery attempts made so far.
    public var attempts: Int
    /// Where the timer is in its life.
    public var state: TimerState
    /// Why the last attempt failed, if it did.
    public var lastError: String?

    /// Creates a record.
    public init(id: UUID, due: Int64, spec: TimerSpec, attempts: Int = 0, state: TimerState = .pending, lastError: String? = nil) {
        self.id = id
        self.due = due
        self.spec = spec
        self.attempts = attempts
        self.state = state
        self.lastError = lastError
    }

    /// The id as it appears in paths and URLs.
    public var idText: String { id.lowercasedText }
}
