import MessagePack

// Wire form of what the coordinator returns:
//   file:  {"path", "value": bin, "createRev", "modRev", "version", "session"?}
//   event: {"rev", "path", "kind": "put"|"delete", "value": bin}
//   stat:  {"kind": "file", "createRev", "modRev", "version", "size", "session"?} | {"kind": "dir", "children"}

extension TreeFile {
    /// The wire form.
    public var wireValue: MessagePackValue {
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [
            ("path", .string(path.string)), ("value", .binary(value)), ("createRev", .int(stat.createRev)),
            ("modRev", .int(stat.modRev)), ("version", .int(stat.version)),
        ]
        if let session = stat.session { pairs.append(("session", .uint(session))) }
        return .map(pairs)
    }

    /// Reads the wire form.
    public init(wireValue value: MessagePackValue) throws(WireError) {
        let path = try value.field("path", in: "file").wireString("file.path")
        let bytes = try value.field("value", in: "file").wireBytes("file.value")
        self.init(path: TreePath(unchecked: path), value: bytes, stat: FileStat(
            createRev: try value.field("createRev", in: "file").wireInt("file.createRev"),
            modRev: try value.field("modRev", in: "file").wireInt("file.modRev"),
            version: try value.field("version", in: "file").wireInt("file.version"),
            session: try value.optionalField("session")?.wireUInt("file.session"),
            size: bytes.count))
    }
}

extension TreeEvent {
    /// The wire form.
    public var wireValue: MessagePackValue {
        .map(["rev": .int(rev), "path": .string(path.string), "kind": .string(kind.rawValue), "value": .binary(value)])
    }

    /// Reads the wire form.
    public init(wireValue value: MessagePackValue) throws(WireError) {
        let kindName = try value.field("kind", in: "event").wireString("event.kind")
        guard let kind = Kind(rawValue: kindName) else { throw WireError("event.kind: expected put or delete, found \(kindName)") }
        self.init(
            rev: try value.field("rev", in: "event").wireInt("event.rev"),
            path: TreePath(unchecked: try value.field("path", in: "event").wireString("event.path")),
            kind: kind, value: try value.field("value", in: "event").wireBytes("event.value"))
    }
}

extension TreeNodeStat {
    /// The wire form.
    public var wireValue: MessagePackValue {
        switch self {
        case .file(let stat):
            var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [
                ("kind", "file"), ("createRev", .int(stat.createRev)), ("modRev", .int(stat.modRev)),
                ("version", .int(stat.version)), ("size", .int(Int64(stat.size))),
            ]
            if let session = stat.session { pairs.append(("session", .uint(session))) }
            return .map(pairs)
        case .directory(let children):
            return .map(["kind": "dir", "children": .int(Int64(children))])
        }
    }

    /// Reads the wire form.
    public init(wireValue value: MessagePackValue) throws(WireError) {
        let kind = try value.field("kind", in: "stat").wireString("stat.kind")
        switch kind {
        case "dir":
            self = .directory(children: Int(try value.field("children", in: "stat").wireInt("stat.children")))
        case "file":
            self = .file(FileStat(
                createRev: try value.field("createRev", in: "stat").wireInt("stat.createRev"),
                modRev: try value.field("modRev", in: "stat").wireInt("stat.modRev"),
                version: try value.field("version", in: "stat").wireInt("stat.version"),
                session: try value.optionalField("session")?.wireUInt("stat.session"),
                size: Int(try value.field("size", in: "stat").wireInt("stat.size"))))
        default:
            throw WireError("stat.kind: expected file or dir, found \(kind)")
        }
    }
}
