/// A request whose params do not have the shape the coordinator expects; becomes `BadRequest`.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What is wrong and where, such as `success[1].path: expected str, found int`.
    public var message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}
