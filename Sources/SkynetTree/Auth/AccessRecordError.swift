/// Why a role, rule, token or certificate record is not acceptable; the message names the
/// field and the rule it breaks.
public struct AccessRecordError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong.
    public var message: String

    /// Creates an error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
