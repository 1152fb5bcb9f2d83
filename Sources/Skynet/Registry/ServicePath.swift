import SkynetTree

/// Where instances live in the tree: `/skynet/services/<name>/<version>/<region>/<host>/<port>`.
public enum ServicePath {
    /// The directory every service lives under.
    public static let root = "/skynet/services"

    /// The ephemeral file of one instance.
    public static func instance(name: String, version: String, region: String, host: String, port: Int) -> String {
        "\(root)/\(name)/\(version)/\(region)/\(host)/\(port)"
    }

    /// A glob over instances matching the criteria; `nil` or empty matches any.
    public static func glob(name: String? = nil, version: String? = nil, region: String? = nil, host: String? = nil) -> String {
        let parts = [name, version, region, host].map { ($0?.isEmpty ?? true) ? "*" : $0! }
        return "\(root)/\(parts.joined(separator: "/"))/*"
    }

    /// The parts of an instance path, or `nil` when `path` is not one.
    public static func parse(_ path: String) -> (name: String, version: String, region: String, host: String, port: Int)? {
        guard path.hasPrefix(root + "/") else { return nil }
        let parts = path.dropFirst(root.count + 1).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 5, let port = Int(parts[4]) else { return nil }
        return (parts[0], parts[1], parts[2], parts[3], port)
    }

    /// Checks that `value` can be the `field` segment of an instance path.
    public static func validate(_ value: String, field: String) throws(ServiceConfigError) {
        guard !value.isEmpty else { throw ServiceConfigError(field: field, "must not be empty") }
        do {
            _ = try TreePath("/" + value)
        } catch {
            guard case .badPath(_, let rule) = error else { throw ServiceConfigError(field: field, "\(error)") }
            throw ServiceConfigError(field: field, "\"\(value)\" cannot be a path segment: \(rule)")
        }
        guard !value.contains("/") else { throw ServiceConfigError(field: field, "\"\(value)\" cannot be a path segment: it contains /") }
    }
}
