import MessagePack

/// An RPC failure: a stable `code` and a human `message`, as sent in a response's error
/// field (`{"code": <str>, "message": <str>}`).
///
/// Handlers throw `RPCError` to choose the code a caller sees; any other error thrown by
/// a handler reaches the caller as `Internal` with the error's description.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure this is; match on it.
    public var code: RPCErrorCode
    /// What happened, for humans.
    public var message: String

    /// Creates an error with `code` and `message`.
    public init(_ code: RPCErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The wire form of the error field.
    public var value: MessagePackValue {
        .map(["code": .string(code.rawValue), "message": .string(message)])
    }

    /// Reads an error field sent by any MessagePack-RPC peer: Skynet's map, a bare string,
    /// or anything else (kept as its description under code `Internal`).
    public init(value: MessagePackValue) {
        if let code = value["code"]?.stringValue {
            self.init(RPCErrorCode(rawValue: code), value["message"]?.stringValue ?? "")
        } else if let text = value.stringValue {
            self.init(.internal, text)
        } else {
            self.init(.internal, value.description)
        }
    }
}

extension RPCError {
    /// Maps a decoding failure of params to `BadRequest` with the coding path.
    static func badParams(_ error: any Error) -> RPCError {
        if let decoding = error as? DecodingError { return RPCError(.badRequest, decoding.messagePackDescription) }
        return RPCError(.badRequest, "\(error)")
    }

    /// Maps a framing failure to the code a peer should see.
    init(_ error: MessagePackError) {
        switch error {
        case .messageTooLarge, .depthExceeded, .containerTooLong: self.init(.tooLarge, error.description)
        default: self.init(.badRequest, "malformed MessagePack: \(error.description)")
        }
    }
}
