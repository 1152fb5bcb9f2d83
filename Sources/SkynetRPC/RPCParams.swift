import MessagePack

/// Decodes positional params one by one, naming `params[i]` in errors.
final class RPCParams {
    private let values: [MessagePackValue]
    private var index = 0
    private static let decoder = MessagePackDecoder()

    init(_ values: [MessagePackValue]) { self.values = values }

    /// Decodes the next param as `T`.
    func next<T: Decodable>(_ type: T.Type) throws -> T {
        defer { index += 1 }
        guard index < values.count else {
            // Optional trailing params may be left out.
            if let absent = (T.self as? any ExpressibleByNilLiteral.Type)?.init(nilLiteral: ()) as? T { return absent }
            throw RPCError(.badRequest, "params[\(index)]: missing \(T.self) param (got \(values.count) params)")
        }
        do {
            return try Self.decoder.decode(type, from: values[index], codingPath: [ParamsKey(), MessagePackIndexKey(index)])
        } catch {
            throw RPCError.badParams(error)
        }
    }

    /// Throws unless every param was used.
    func finish() throws {
        if values.count > index {
            throw RPCError(.badRequest, "expected \(index) params, got \(values.count)")
        }
    }

    private struct ParamsKey: CodingKey {
        var stringValue: String { "params" }
        var intValue: Int? { nil }
        init() {}
        init?(stringValue: String) { nil }
        init?(intValue: Int) { nil }
    }
}
