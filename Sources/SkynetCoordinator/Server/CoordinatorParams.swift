import SkynetTree
import MessagePack
import SkynetRPC

/// Reads a coordinator method's positional params by name, each failure a `BadRequest`
/// that names the method, the position and the param: `set: params[1] (value): expected bin or str, found int`.
struct CoordinatorParams {
    let method: String
    let values: [MessagePackValue]
    let limits: TreeLimits

    /// Refuses more than `names.count` params, naming the expected form.
    init(_ method: String, _ values: [MessagePackValue], names: [String], limits: TreeLimits) throws(RPCError) {
        self.method = method
        self.values = values
        self.limits = limits
        guard values.count <= names.count else {
            throw RPCError(.badRequest, "\(method) takes at most \(names.count) params (\(names.joined(separator: ", "))), got \(values.count)")
        }
    }

    func required(_ index: Int, _ name: String) throws(RPCError) -> MessagePackValue {
        guard index < values.count, !values[index].isNil else {
            throw RPCError(.badRequest, "\(method): params[\(index)] (\(name)) is required")
        }
        return values[index]
    }

    /// The param at `index`, or `nil` when it is absent or MessagePack nil.
    func optional(_ index: Int) -> MessagePackValue? {
        // Spelled out: `cond ? values[index] : nil` would make `nil` a MessagePackValue.
        guard index < values.count, !values[index].isNil else { return Optional.none }
        return values[index]
    }

    private func context(_ index: Int, _ name: String) -> String { "\(method): params[\(index)] (\(name))" }

    private func wrap<T>(_ body: () throws(WireError) -> T) throws(RPCError) -> T {
        do { return try body() } catch { throw error.rpcError }
    }

    func path(_ index: Int, _ name: String = "path") throws(RPCError) -> TreePath {
        let value = try required(index, name)
        guard let string = value.stringValue else { throw RPCError(.badRequest, "\(context(index, name)): expected str, found \(value.typeName)") }
        do { return try TreePath(string, limits: limits) } catch { throw error.rpcError }
    }

    func glob(_ index: Int, _ name: String = "glob") throws(RPCError) -> TreeGlob {
        let value = try required(index, name)
        guard let string = value.stringValue else { throw RPCError(.badRequest, "\(context(index, name)): expected str, found \(value.typeName)") }
        do { return try TreeGlob(string, limits: limits) } catch { throw error.rpcError }
    }

    func string(_ index: Int, _ name: String) throws(RPCError) -> String {
        let value = try required(index, name)
        return try wrap { () throws(WireError) in try value.wireString(context(index, name)) }
    }

    func bytes(_ index: Int, _ name: String) throws(RPCError) -> [UInt8] {
        let value = try required(index, name)
        return try wrap { () throws(WireError) in try value.wireBytes(context(index, name)) }
    }

    func int(_ index: Int, _ name: String, default fallback: Int64) throws(RPCError) -> Int64 {
        guard let value = optional(index) else { return fallback }
        return try wrap { () throws(WireError) in try value.wireInt(context(index, name)) }
    }

    func uint(_ index: Int, _ name: String) throws(RPCError) -> UInt64 {
        let value = try required(index, name)
        return try wrap { () throws(WireError) in try value.wireUInt(context(index, name)) }
    }

    func ifRev(_ index: Int) throws(RPCError) -> IfRev {
        let rev = try int(index, "ifRev", default: -1)
        guard rev >= -1 else {
            throw RPCError(.badRequest, "\(context(index, "ifRev")): must be -1 (unconditional), 0 (must not exist) or a revision, found \(rev)")
        }
        return rev
    }

    func array(_ index: Int, _ name: String) throws(RPCError) -> [MessagePackValue] {
        guard let value = optional(index) else { return [] }
        return try wrap { () throws(WireError) in try value.wireArray(context(index, name)) }
    }
}
