import MessagePack

/// One MessagePack-RPC message, as the public spec defines it.
public enum RPCMessage: Equatable, Sendable {
    /// `[0, msgid, method, params]`
    case request(msgid: UInt32, method: String, params: [MessagePackValue])
    /// `[1, msgid, error, result]`; `error` is `nil` on success.
    case response(msgid: UInt32, error: MessagePackValue, result: MessagePackValue)
    /// `[2, method, params]`
    case notification(method: String, params: [MessagePackValue])

    /// The wire form.
    public var value: MessagePackValue {
        switch self {
        case let .request(msgid, method, params): [0, .int(Int64(msgid)), .string(method), .array(params)]
        case let .response(msgid, error, result): [1, .int(Int64(msgid)), error, result]
        case let .notification(method, params): [2, .string(method), .array(params)]
        }
    }

    /// A success response.
    public static func success(_ msgid: UInt32, _ result: MessagePackValue) -> RPCMessage {
        .response(msgid: msgid, error: .nil, result: result)
    }

    /// A failure response.
    public static func failure(_ msgid: UInt32, _ error: RPCError) -> RPCMessage {
        .response(msgid: msgid, error: error.value, result: .nil)
    }

    /// Reads a decoded frame as a message. Throws `RPCProtocolError` naming what is wrong,
    /// with the msgid when the frame is a request whose msgid could be read.
    public init(value: MessagePackValue) throws(RPCProtocolError) {
        guard case .array(let parts) = value else {
            throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "a message must be an array, found \(value.typeName)"))
        }
        guard let type = parts.first?.int64Value else {
            throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "a message must start with its type 0, 1 or 2"))
        }
        switch (type, parts.count) {
        case (0, 4):
            guard let msgid = parts[1].uint64Value.flatMap(UInt32.init(exactly:)) else {
                throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "msgid must be a 32-bit unsigned int, found \(parts[1])"))
            }
            guard case .string(let method) = parts[2] else {
                throw RPCProtocolError(msgid: msgid, RPCError(.badRequest, "method must be a str, found \(parts[2].typeName)"))
            }
            guard case .array(let params) = parts[3] else {
                throw RPCProtocolError(msgid: msgid, RPCError(.badRequest, "params must be an array, found \(parts[3].typeName)"))
            }
            self = .request(msgid: msgid, method: method, params: params)
        case (1, 4):
            guard let msgid = parts[1].uint64Value.flatMap(UInt32.init(exactly:)) else {
                throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "msgid must be a 32-bit unsigned int, found \(parts[1])"))
            }
            self = .response(msgid: msgid, error: parts[2], result: parts[3])
        case (2, 3):
            guard case .string(let method) = parts[1] else {
                throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "method must be a str, found \(parts[1].typeName)"))
            }
            guard case .array(let params) = parts[2] else {
                throw RPCProtocolError(msgid: nil, RPCError(.badRequest, "params must be an array, found \(parts[2].typeName)"))
            }
            self = .notification(method: method, params: params)
        default:
            let msgid = type == 0 ? parts.dropFirst().first?.uint64Value.flatMap(UInt32.init(exactly:)) : nil
            throw RPCProtocolError(msgid: msgid, RPCError(.badRequest,
                "message type \(type) with \(parts.count) elements is not a request [0,msgid,method,params], response [1,msgid,error,result] or notification [2,method,params]"))
        }
    }
}

/// A frame that breaks the protocol. The connection that sent it is closed after an
/// error response, which is sent only when `msgid` is known.
public struct RPCProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The msgid of the offending request, when it could be read.
    public var msgid: UInt32?
    /// What the peer is told.
    public var error: RPCError

    /// Creates a protocol error.
    public init(msgid: UInt32?, _ error: RPCError) {
        self.msgid = msgid
        self.error = error
    }

    public var description: String { msgid.map { "msgid \($0): \(error)" } ?? error.description }
}
