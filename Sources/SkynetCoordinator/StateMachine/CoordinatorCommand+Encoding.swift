import SkynetTree
import MessagePack

// The log form of a command: a MessagePack array whose first element names the kind.
//   [1, [compares], [success ops], [failure ops]]   txn (parts in their wire form)
//   [2, ttl_ms]  openSession     [3, id]  closeSession     [4, id]  expireSession

extension CoordinatorCommand {
    /// The bytes stored in a log entry.
    public var encoded: [UInt8] {
        // Every write is encoded here on an event loop: this thread's scratch writer spares
        // each put a writer's three allocations.
        MessagePackWriter.withScratch { writer in
            switch self {
            case let .txn(compares, success, failure):
                // Streamed: every write is logged, so no value tree is built for it.
                writer.packArrayHeader(4)
                writer.packInt(1)
                writer.packArrayHeader(compares.count)
                for compare in compares { writer.pack(compare.wireValue) }
                writer.packArrayHeader(success.count)
                for operation in success { operation.pack(into: writer) }
                writer.packArrayHeader(failure.count)
                for operation in failure { operation.pack(into: writer) }
            case .openSession(let ttl): writer.pack([2, .int(ttl)])
            case .closeSession(let id): writer.pack([3, .uint(id)])
            case .expireSession(let id): writer.pack([4, .uint(id)])
            }
            return writer.bytes
        }
    }

    /// Reads a log entry's bytes. Limits are those of the tree the log was written for.
    public init(encoded bytes: [UInt8], limits: TreeLimits = .default) throws {
        let value = try bytes.withUnsafeBytes { raw in
            try MessagePackReader.unpack(raw, limits: MessagePackLimits(maxMessageSize: bytes.count, maxDepth: 16, maxContainerLength: .max))
        }
        let parts = try value.wireArray("command")
        guard let kind = parts.first?.int64Value else { throw WireError("command: missing kind") }
        switch (kind, parts.count) {
        case (1, 4):
            let compares = try parts[1].wireArray("compares").enumerated().map { i, v throws(WireError) in
                try TxnCompare(wireValue: v, context: "compares[\(i)]", limits: limits)
            }
            let success = try parts[2].wireArray("success").enumerated().map { i, v throws(WireError) in
                try TreeOperation(wireValue: v, context: "success[\(i)]", limits: limits)
            }
            let failure = try parts[3].wireArray("failure").enumerated().map { i, v throws(WireError) in
                try TreeOperation(wireValue: v, context: "failure[\(i)]", limits: limits)
            }
            self = .txn(compares: compares, success: success, failure: failure)
        case (2, 2): self = .openSession(ttlMilliseconds: try parts[1].wireInt("ttl"))
        case (3, 2): self = .closeSession(try parts[1].wireUInt("session"))
        case (4, 2): self = .expireSession(try parts[1].wireUInt("session"))
        default: throw WireError("command: unknown kind \(kind) with \(parts.count) parts")
        }
    }
}
