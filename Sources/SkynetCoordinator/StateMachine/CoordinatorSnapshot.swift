import SkynetTree
import MessagePack

/// The snapshot form of a coordinator's state: the state machine plus the watch history,
/// so watches can resume across a restart from revisions before the snapshot.
///
/// Records (each a `SnapshotFile` record: a tag byte, then MessagePack):
///   `H` {"format": 1, "index", "revision", "nextSession", "sessions": [[id, ttl_ms]...]}
///   `F` [[path, value, createRev, modRev, version, session|nil], ...]   files, in batches
///   `E` [[rev, path, "put"|"delete", value], ...]                       history, oldest first
public enum CoordinatorSnapshot {
    static let header = UInt8(ascii: "H")
    static let files = UInt8(ascii: "F")
    static let events = UInt8(ascii: "E")
    static let batchBytes = 512 << 10

    /// Writes `machine` and `history` as snapshot records.
    public static func write(_ machine: CoordinatorStateMachine, history: [TreeEvent], into sink: inout SnapshotSink) throws {
        let sessions = machine.sessions.keys.sorted().map { MessagePackValue.array([.uint($0), .int(machine.sessions[$0]!)]) }
        let head: MessagePackValue = .map([
            "format": 1, "index": .uint(machine.appliedIndex), "revision": .int(machine.tree.revision),
            "nextSession": .uint(machine.nextSession), "sessions": .array(sessions),
        ])
        try sink.append(tagged(header, head))
        // Files and events are streamed into one reused writer, a batch per record: a
        // snapshot holds the whole tree, so no value tree is built per file.
        let writer = MessagePackWriter(capacity: batchBytes + (64 << 10))
        var files: [TreeFile] = []
        var bytes = 0
        try machine.tree.forEachFile { file in
            files.append(file)
            bytes += file.value.count + file.path.string.utf8.count + 32
            if bytes >= batchBytes || files.count >= 8192 {
                try sink.append(packFiles(files, writer))
                files.removeAll(keepingCapacity: true)
                bytes = 0
            }
        }
        if !files.isEmpty { try sink.append(packFiles(files, writer)) }
        var start = history.startIndex
        while start < history.endIndex {
            var end = start
            bytes = 0
            while end < history.endIndex, bytes < batchBytes, end - start < 8192 {
                bytes += history[end].value.count + history[end].path.string.utf8.count + 32
                end += 1
            }
            try sink.append(packEvents(history[start..<end], writer))
            start = end
        }
    }

    /// One `F` record: `[[path, value, createRev, modRev, version, session|nil], ...]`.
    private static func packFiles(_ files: [TreeFile], _ writer: MessagePackWriter) -> [UInt8] {
        writer.reset()
        writer.appendPacked(CollectionOfOne(Self.files))
        writer.packArrayHeader(files.count)
        for file in files {
            writer.packArrayHeader(6)
            writer.packString(file.path.string)
            writer.packBinary(file.value)
            writer.packInt(file.stat.createRev)
            writer.packInt(file.stat.modRev)
            writer.packInt(file.stat.version)
            if let session = file.stat.session { writer.packUInt(session) } else { writer.packNil() }
        }
        return writer.bytes
    }

    /// One `E` record: `[[rev, path, "put"|"delete", value], ...]`.
    private static func packEvents(_ events: ArraySlice<TreeEvent>, _ writer: MessagePackWriter) -> [UInt8] {
        writer.reset()
        writer.appendPacked(CollectionOfOne(Self.events))
        writer.packArrayHeader(events.count)
        for event in events {
            writer.packArrayHeader(4)
            writer.packInt(event.rev)
            writer.packString(event.path.string)
            writer.packString(event.kind.rawValue)
            writer.packBinary(event.value)
        }
        return writer.bytes
    }

    /// Reads a snapshot written by `write`.
    public static func read(_ path: String, limits: TreeLimits = .default) throws -> (machine: CoordinatorStateMachine, history: [TreeEvent]) {
        var machine: CoordinatorStateMachine?
        var history: [TreeEvent] = []
        let readLimits = MessagePackLimits(maxMessageSize: StorageRecord.maxPayload, maxDepth: 8, maxContainerLength: .max)
        try SnapshotFile.read(path) { record in
            guard let tag = record.first else { throw WireError("\(path): empty snapshot record") }
            let value = try MessagePackReader.unpack(UnsafeRawBufferPointer(rebasing: record.dropFirst()), limits: readLimits)
            switch tag {
            case header:
                let revision = try value.field("revision", in: "snapshot header").wireInt("revision")
                var sessions: [UInt64: Int64] = [:]
                for pair in try value.field("sessions", in: "snapshot header").wireArray("sessions") {
                    let parts = try pair.wireArray("session")
                    guard parts.count == 2 else { throw WireError("snapshot session: expected [id, ttl]") }
                    sessions[try parts[0].wireUInt("session id")] = try parts[1].wireInt("session ttl")
                }
                machine = CoordinatorStateMachine(
                    tree: ConfigTree(restoringAt: revision, limits: limits), sessions: sessions,
                    nextSession: try value.field("nextSession", in: "snapshot header").wireUInt("nextSession"),
                    appliedIndex: try value.field("index", in: "snapshot header").wireUInt("index"))
            case files:
                guard machine != nil else { throw WireError("\(path): files before the header") }
                for element in try value.wireArray("files") {
                    let f = try element.wireArray("file")
                    guard f.count == 6 else { throw WireError("snapshot file: expected 6 fields, found \(f.count)") }
                    let bytes = try f[1].wireBytes("value")
                    machine!.tree.restore(TreeFile(
                        path: TreePath(unchecked: try f[0].wireString("path")), value: bytes,
                        stat: FileStat(createRev: try f[2].wireInt("createRev"), modRev: try f[3].wireInt("modRev"),
                                       version: try f[4].wireInt("version"), session: f[5].isNil ? nil : try f[5].wireUInt("session"),
                                       size: bytes.count)))
                }
            case events:
                for element in try value.wireArray("events") {
                    let e = try element.wireArray("event")
                    guard e.count == 4, let kind = TreeEvent.Kind(rawValue: try e[2].wireString("kind")) else {
                        throw WireError("snapshot event: expected [rev, path, kind, value]")
                    }
                    history.append(TreeEvent(rev: try e[0].wireInt("rev"), path: TreePath(unchecked: try e[1].wireString("path")),
                                             kind: kind, value: try e[3].wireBytes("value")))
                }
            default:
                throw WireError("\(path): unknown snapshot record tag \(tag)")
            }
        }
        guard let machine else { throw WireError("\(path): snapshot has no header") }
        return (machine, history)
    }

    private static func tagged(_ tag: UInt8, _ value: MessagePackValue) -> [UInt8] {
        let writer = MessagePackWriter(capacity: 1024)
        writer.appendPacked(CollectionOfOne(tag))
        writer.pack(value)
        return writer.bytes
    }
}
