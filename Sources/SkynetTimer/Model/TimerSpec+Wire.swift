import MessagePack

extension TimerSpec {
    /// The spec as the map `TimerSpecParser` reads: what callers send (`create`, `update`)
    /// and the fields a record shares with it. `data` is text for JSON, bytes otherwise.
    public func wireValue(dataAsText: Bool = false) -> MessagePackValue {
        .map(wirePairs(dataAsText: dataAsText))
    }

    func wirePairs(dataAsText: Bool) -> [(key: MessagePackValue, value: MessagePackValue)] {
        [
            ("timeout", .int(timeout)),
            ("data", dataAsText ? .string(String(decoding: data, as: UTF8.self)) : .binary(data)),
            ("callback", callback.wireValue), ("retries", .int(Int64(retries))),
        ]
    }
}

extension TimerCallback {
    /// The callback as the map `TimerSpecParser` reads.
    public var wireValue: MessagePackValue {
        var pairs: [(key: MessagePackValue, value: MessagePackValue)]
        switch self {
        case .http(let method, let uri):
            pairs = [("transport", "http"), ("method", .string(method.lowercased())), ("uri", .string(uri))]
        case .skynet(let service, let version, let method):
            pairs = [("transport", "skynet"), ("service", .string(service)), ("method", .string(method))]
            if let version { pairs.append(("version", .string(version))) }
        }
        return .map(pairs)
    }
}
