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
    /// Facts a program may act on (the current revision of a `RevMismatch`, the oldest
    /// revision of a `Compacted`), sent as the error map's `data` field when present.
    public var data: MessagePackValue?

    /// Creates an error with `code`, `message` and optional machine-readable `data`.
    public init(_ code: RPCErrorCode, _ message: String, data: MessagePackValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "\(code): \(message)" }

    public static func == (a: RPCError, b: RPCError) -> Bool {
        a.code == b.code && a.message == b.message && a.data == b.data
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }

    /// The wire form of the error field.
    public var value: MessagePackValue {
        guard let data else { return .map(["code": .string(code.rawValue), "message": .string(message)]) }
        return .map(["code": .string(code.rawValue), "message": .string(message), "data": data])
    }

    /// Reads an error field sent by any MessagePack-RPC peer: Skynet's map, a bare string,
    /// or anything else (kept as its description under code `Internal`).
    public init(value: MessagePackValue) {
        if let code = value["code"]?.stringValue {
            self.init(RPCErrorCode(rawValue: code), value["message"]?.stringValue ?? "", data: value["data"])
        } else if let text = value.stringValue {
            self.init(.internal, text)
        } else {
            self.init(.internal, value.description)
        }
    }
}

extension RPCError {
    /// `Unavailable` for a request that cannot have run: it never left this process, or the
    /// server refused it unrun (shutting down). Always safe to retry elsewhere; the wire
    /// form carries `data: {"notSent": true}`.
    public static func notSent(_ message: String) -> RPCError {
        RPCError(.unavailable, message, data: .map(["notSent": true]))
    }

    /// True for errors of requests that cannot have run (see `notSent`).
    public var wasNotSent: Bool { data?["notSent"] == true }

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
