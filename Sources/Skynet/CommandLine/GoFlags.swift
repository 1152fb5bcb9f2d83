/// Go-style flags as the seed's tools take them: `-name=value`, `-name value` and
/// `--name value` all mean the same; `-flag` alone is `true` for booleans. Unknown flags
/// are errors naming the flag and the known ones; arguments that are not flags are kept.
public struct GoFlags: Sendable {
    /// Values by flag name (without dashes).
    public private(set) var values: [String: String] = [:]
    /// Arguments that are not flags, in order.
    public private(set) var positional: [String] = []

    /// Parses `arguments` (without the program name) against the flags `known` (name ->
    /// takes a value) and `booleans` (flags that take none).
    public init(_ arguments: some Sequence<String>, known: Set<String>, booleans: Set<String> = []) throws(ServiceConfigError) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            guard argument.hasPrefix("-"), argument.count > 1, argument != "--" else {
                positional.append(argument)
                continue
            }
            let body = argument.drop(while: { $0 == "-" })
            let name: String, inline: String?
            if let equals = body.firstIndex(of: "=") {
                (name, inline) = (String(body[..<equals]), String(body[body.index(after: equals)...]))
            } else {
                (name, inline) = (String(body), nil)
            }
            if booleans.contains(name) {
                values[name] = inline ?? "true"
                continue
            }
            guard known.contains(name) else {
                let list = (known.union(booleans)).sorted().map { "-" + $0 }.joined(separator: " ")
                throw ServiceConfigError(field: "-" + name, "unknown flag; known flags: \(list)")
            }
            guard let value = inline ?? iterator.next() else {
                throw ServiceConfigError(field: "-" + name, "needs a value: -\(name)=VALUE or -\(name) VALUE")
            }
            values[name] = value
        }
    }

    /// The value of flag `name`, if given.
    public subscript(_ name: String) -> String? { values[name] }

    /// Flag `name` if given, else environment variable `variable` if set and not empty,
    /// with where it came from (`-name` or the variable) for errors that name their source.
    package func value(_ name: String, orVariable variable: String, in environment: [String: String]) -> (value: String, source: String)? {
        if let value = values[name] { return (value, "-" + name) }
        if let value = environment[variable], !value.isEmpty { return (value, variable) }
        return nil
    }

    /// Throws naming the first argument that is not a flag: configurations take flags only.
    package func requireOnlyFlags() throws(ServiceConfigError) {
        if let stray = positional.first {
            throw ServiceConfigError(field: stray, "unexpected argument; flags start with -, such as -region=us")
        }
    }
}
