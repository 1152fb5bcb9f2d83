/// A service configuration that cannot work, naming the field (or flag) at fault.
public struct ServiceConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field or flag, such as `name` or `-l`.
    public var field: String
    /// What is wrong and what is expected.
    public var message: String

    /// Creates an error.
    public init(field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}
