import SkynetRPC

/// Why a timer request was refused: the field and the rule it broke.
///
/// Its `reason` is what HTTP callers get in `x-skyring-reason` and the JSON body, and RPC
/// callers in a `BadRequest` error.
public struct TimerSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field, dotted for nested ones (`callback.uri`); `body` for the request as a whole.
    public var field: String
    /// The rule, as a phrase (`must be an integer`).
    public var rule: String

    /// Creates an error.
    public init(_ field: String, _ rule: String) {
        self.field = field
        self.rule = rule
    }

    /// `field: rule`.
    public var reason: String { "\(field): \(rule)" }
    /// The reason, as errors print.
    public var description: String { reason }
}

extension TimerSpecError {
    /// Runs `body`; a broken rule comes out as the `BadRequest` RPC and HTTP callers get.
    package static func asBadRequest<T>(_ body: () throws(TimerSpecError) -> T) throws(RPCError) -> T {
        do {
            return try body()
        } catch {
            throw RPCError(.badRequest, error.reason)
        }
    }
}
