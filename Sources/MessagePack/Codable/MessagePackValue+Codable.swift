/// `MessagePackValue` inside other Codable types: written as itself by the MessagePack
/// coders, and mapped to the nearest shape by others (JSON: bin and ext as byte arrays,
/// timestamps as seconds).
extension MessagePackValue: Codable {
    public init(from decoder: any Decoder) throws {
        if let decoder = decoder as? ValueDecoder {
            self = decoder.value
            return
        }
        if let single = try? decoder.singleValueContainer() {
            if single.decodeNil() { self = .nil; return }
            if let b = try? single.decode(Bool.self) { self = .bool(b); return }
            if let i = try? single.decode(Int64.self) { self = .int(i); return }
            if let u = try? single.decode(UInt64.self) { self = .uint(u); return }
            if let d = try? single.decode(Double.self) { self = .double(d); return }
            if let s = try? single.decode(String.self) { self = .string(s); return }
        }
        if var unkeyed = try? decoder.unkeyedContainer() {
            var elements: [MessagePackValue] = []
            while !unkeyed.isAtEnd { elements.append(try unkeyed.decode(MessagePackValue.self)) }
            self = .array(elements)
            return
        }
        let keyed = try decoder.container(keyedBy: MessagePackAnyKey.self)
        self = .map(try keyed.allKeys.map { (key: .string($0.stringValue), value: try keyed.decode(MessagePackValue.self, forKey: $0)) })
    }

    public func encode(to encoder: any Encoder) throws {
        if let encoder = encoder as? NodeEncoder {
            encoder.node.content = .single(.value(self))
            return
        }
        switch self {
        case .nil: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .bool(let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .int(let i): var c = encoder.singleValueContainer(); try c.encode(i)
        case .uint(let u): var c = encoder.singleValueContainer(); try c.encode(u)
        case .float(let f): var c = encoder.singleValueContainer(); try c.encode(f)
        case .double(let d): var c = encoder.singleValueContainer(); try c.encode(d)
        case .string(let s): var c = encoder.singleValueContainer(); try c.encode(s)
        case .binary(let b), .ext(_, let b): var c = encoder.singleValueContainer(); try c.encode(b)
        case .timestamp(let t): var c = encoder.singleValueContainer(); try c.encode(Double(t.seconds) + Double(t.nanoseconds) / 1e9)
        case .array(let a): var c = encoder.singleValueContainer(); try c.encode(a)
        case .map(let pairs):
            var c = encoder.container(keyedBy: MessagePackAnyKey.self)
            for pair in pairs {
                let key = pair.key.stringValue ?? pair.key.description
                try c.encode(pair.value, forKey: MessagePackAnyKey(stringValue: key))
            }
        }
    }
}

/// A coding key for any string, used to walk maps of unknown shape.
struct MessagePackAnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { stringValue = String(intValue) }
}
