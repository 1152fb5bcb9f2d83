import Foundation
import MessagePack

extension TimerRecord {
    /// The record as a map: what RPC answers carry, what the coordinator stores, and (with
    /// `data` as text) what HTTP answers render as JSON.
    public func wireValue(dataAsText: Bool = false) -> MessagePackValue {
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [("id", .string(idText)), ("due", .int(due))]
        pairs += spec.wirePairs(dataAsText: dataAsText)
        pairs += [("attempts", .int(Int64(attempts))), ("state", .string(state.rawValue))]
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
              let callbackValue = field("callback"), let callback = try? TimerSpecParser.callback(callbackValue),
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
}
