import Foundation
import MessagePack

extension TimerRecord {
    /// The record as a map: what RPC answers carry, what the coordinator stores, and (with
    /// `data` as text) what HTTP answers render as JSON.
    public func wireValue(dataAsText: Bool = false) -> MessagePackValue {
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [
            ("id", .string(idText)), ("due", .int(due)), ("timeout", .int(spec.timeout)),
            ("data", dataAsText ? .string(String(decoding: spec.data, as: UTF8.self)) : .binary(spec.data)),
            ("callback", Self.wire(spec.callback)), ("retries", .int(Int64(spec.retries))),
            ("attempts", .int(Int64(attempts))), ("state", .string(state.rawValue)),
        ]
        if let lastError { pairs.append(("lastError", .string(lastError))) }
        return .map(pairs)
    }

    /// The record as the coordinator stores it (MessagePack).
    public func encoded() -> [UInt8] {
        let writer = MessagePackWriter(capacity: 128 + spec.data.count)
        writer.pack(wireValue())
        return writer.bytes
    }

    /// Reads a stored record; `nil` when the bytes are not one.
    public init?(encoded bytes: [UInt8]) {
        guard let value = try? bytes.withUnsafeBytes({ try MessagePackReader.unpack($0) }) else { return nil }
        self.init(wire: value)
    }

    /// Reads a record back from `wireValue()`; `nil` when it is not one.
    public init?(wire: MessagePackValue) {
        guard let pairs = wire.mapValue else { return nil }
        func field(_ name: String) -> MessagePackValue? { pairs.first { $0.key.stringValue == name }?.value }
        guard let idText = field("id")?.stringValue, let id = UUID(text: idText),
              let due = field("due")?.int64Value, let timeout = field("timeout")?.int64Value,
              let callbackValue = field("callback"), let callback = Self.callback(callbackValue),
              let retries = field("retries")?.int64Value, let attempts = field("attempts")?.int64Value,
              let state = field("state")?.stringValue.flatMap(TimerState.init(rawValue:))
        else { return nil }
        var data: [UInt8] = []
        switch field("data") {
        case .binary(let bytes)?: data = bytes
        case .string(let text)?: data = Array(text.utf8)
        default: break
        }
        self.init(
            id: id, due: due, spec: TimerSpec(timeout: timeout, data: data, callback: callback, retries: Int(retries)),
            attempts: Int(attempts), state: state, lastError: field("lastError")?.stringValue)
    }

    private static func wire(_ callback: TimerCallback) -> MessagePackValue {
        switch callback {
        case .http(let method, let uri):
            return .map([("transport", "http"), ("method", .string(method.lowercased())), ("uri", .string(uri))].map { (key: .string($0.0), value: $0.1) })
        case .skynet(let service, let version, let method):
            var pairs: [(String, MessagePackValue)] = [("transport", "skynet"), ("service", .string(service)), ("method", .string(method))]
            if let version { pairs.append(("version", .string(version))) }
            return .map(pairs.map { (key: .string($0.0), value: $0.1) })
        }
    }

    private static func callback(_ value: MessagePackValue) -> TimerCallback? {
        try? TimerSpecParser.parse(.map([("timeout", .int(1)), ("callback", value)].map { (key: .string($0.0), value: $0.1) })).callback
    }
}
