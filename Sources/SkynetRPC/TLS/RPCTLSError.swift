/// Why TLS settings cannot be used: a file that is missing or not what it should be, or
/// settings that do not go together. The message names the file or setting.
public struct RPCTLSError: Error, Sendable, CustomStringConvertible {
    /// What is wrong, naming the file or setting.
    public let message: String

    init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
