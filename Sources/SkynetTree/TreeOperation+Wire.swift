import MessagePack

// Wire and log form of transaction parts, as maps so any MessagePack-RPC client can build them:
//   operation: {"op": "set", "path": p, "value": bin|str, "ifRev": n?, "session": id?}
//              {"op": "del", "path": p, "ifRev": n?}     {"op": "get", "path": p}
//   compare:   {"path": p, "target": "value"|"modRev"|"createRev"|"version"|"exists",
//               "value": bin|str|int|bool, "relation": "=="|"!="|"<"|">" (default "==")}

extension TreeOperation {
    /// The wire form.
    public var wireValue: MessagePackValue {
        switch self {
        case let .set(path, value, ifRev, session):
            var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [
                ("op", "set"), ("path", .string(path.string)), ("value", .binary(value)), ("ifRev", .int(ifRev)),
            ]
            if let session { pairs.append(("session", .uint(session))) }
            return .map(pairs)
        case let .del(path, ifRev):
            return .map(["op": "del", "path": .string(path.string), "ifRev": .int(ifRev)])
        case let .get(path):
            return .map(["op": "get", "path": .string(path.string)])
        }
    }

    /// Packs the wire form straight into `writer`: the same bytes as packing `wireValue`,
    /// without building the value first (the coordinator logs every write this way).
    public func pack(into writer: MessagePackWriter) {
        switch self {
        case let .set(path, value, ifRev, session):
            writer.packMapHeader(session == nil ? 4 : 5)
            writer.packString("op"); writer.packString("set")
            writer.packString("path"); writer.packString(path.string)
            writer.packString("value"); writer.packBinary(value)
            writer.packString("ifRev"); writer.packInt(ifRev)
            if let session { writer.packString("session"); writer.packUInt(session) }
        case let .del(path, ifRev):
            writer.packMapHeader(3)
            writer.packString("op"); writer.packString("del")
            writer.packString("path"); writer.packString(path.string)
            writer.packString("ifRev"); writer.packInt(ifRev)
        case let .get(path):
            writer.packMapHeader(2)
            writer.packString("op"); writer.packString("get")
            writer.packString("path"); writer.packString(path.string)
        }
    }

    /// Reads the wire form; `context` names the element in errors.
    public init(wireValue value: MessagePackValue, context: String, limits: TreeLimits) throws(WireError) {
        let op = try value.field("op", in: context).wireString(context + ".op")
        let path = try value.field("path", in: context).wirePath(context + ".path", limits: limits)
        let ifRev = try value.optionalField("ifRev")?.wireInt(context + ".ifRev") ?? -1
        guard ifRev >= -1 else { throw WireError("\(context).ifRev: must be -1 (unconditional), 0 (must not exist) or a revision, found \(ifRev)") }
        switch op {
        case "set":
            let bytes = try value.field("value", in: context).wireBytes(context + ".value")
            let session = try value.optionalField("session")?.wireUInt(context + ".session")
            self = .set(path: path, value: bytes, ifRev: ifRev, session: session == 0 ? nil : session)
        case "del":
            self = .del(path: path, ifRev: ifRev)
        case "get":
            self = .get(path: path)
        default:
            throw WireError("\(context).op: expected \"set\", \"del\" or \"get\", found \"\(op)\"")
        }
    }
}

extension TxnCompare {
    /// The wire form.
    public var wireValue: MessagePackValue {
        let (target, expected): (String, MessagePackValue) = switch self.target {
        case .value(let bytes): ("value", .binary(bytes))
        case .modRev(let rev): ("modRev", .int(rev))
        case .createRev(let rev): ("createRev", .int(rev))
        case .version(let version): ("version", .int(version))
        case .exists(let exists): ("exists", .bool(exists))
        }
        return .map(["path": .string(path.string), "target": .string(target), "value": expected, "relation": .string(relation.symbol)])
    }

    /// Reads the wire form; `context` names the element in errors.
    public init(wireValue value: MessagePackValue, context: String, limits: TreeLimits) throws(WireError) {
        let path = try value.field("path", in: context).wirePath(context + ".path", limits: limits)
        let targetName = try value.field("target", in: context).wireString(context + ".target")
        let expected = try value.field("value", in: context)
        let target: Target
        switch targetName {
        case "value": target = .value(try expected.wireBytes(context + ".value"))
        case "modRev": target = .modRev(try expected.wireInt(context + ".value"))
        case "createRev": target = .createRev(try expected.wireInt(context + ".value"))
        case "version": target = .version(try expected.wireInt(context + ".value"))
        case "exists":
            guard case .bool(let exists) = expected else { throw WireError("\(context).value: expected bool, found \(expected.typeName)") }
            target = .exists(exists)
        default:
            throw WireError("\(context).target: expected value, modRev, createRev, version or exists, found \"\(targetName)\"")
        }
        let symbol = try value.optionalField("relation")?.wireString(context + ".relation") ?? "=="
        guard let relation = Relation(symbol: symbol) else {
            throw WireError("\(context).relation: expected ==, !=, < or >, found \"\(symbol)\"")
        }
        self.init(path, target, relation)
    }
}

extension TxnCompare.Relation {
    /// The wire symbol.
    public var symbol: String {
        switch self {
        case .equal: "=="
        case .notEqual: "!="
        case .less: "<"
        case .greater: ">"
        }
    }

    package init?(symbol: String) {
        switch symbol {
        case "==", "=": self = .equal
        case "!=": self = .notEqual
        case "<": self = .less
        case ">": self = .greater
        default: return nil
        }
    }
}
