#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a coordinator keeps its roles, tokens and certificate bindings: a reserved
/// prefix of the tree that only `admin` may read or write.
///
/// - `/skynet/auth/roles/<name>`: an `AccessRole` as JSON.
/// - `/skynet/auth/tokens/<id>`: an `AccessTokenRecord` as JSON; the id is derived from
///   the token (the first 16 hex digits of its SHA-256), the token itself is never stored.
/// - `/skynet/auth/certs/<name>`: the roles of a client certificate whose common name is
///   `<name>` (mutual TLS), as JSON `{"roles": [...]}`.
/// - `/skynet/auth/sessions/<id>`: who opened session `<id>`, as JSON `{"owner": key}`,
///   written by the coordinator bound to that session (it goes when the session does):
///   only its owner (or `admin`) may keep it alive, close it or bind files to it.
public enum AuthPaths {
    /// The reserved prefix.
    public static let prefix = "/skynet/auth"
    /// Every file under the prefix.
    public static let all = try! TreeGlob("/skynet/auth/**")
    /// The role every bootstrap token holds: `admin` on everything.
    public static let rootRole = "root"

    /// Kinds of records under the prefix.
    public enum Kind: String, Sendable, CaseIterable {
        case roles, tokens, certs, sessions
    }

    /// The path of record `name` of `kind`.
    public static func path(_ kind: Kind, _ name: String) throws(TreeError) -> TreePath {
        guard !name.isEmpty, !name.contains("/") else { throw .badPath(path: name, rule: "a record name is one path segment") }
        return try TreePath("\(prefix)/\(kind.rawValue)/\(name)")
    }

    /// True for paths in the reserved prefix (the prefix itself included). Asked on every
    /// call under auth, so it compares bytes and allocates nothing.
    public static func isReserved(_ path: TreePath) -> Bool {
        isAtOrBelow(path.string, prefix)
    }

    /// True when `path` is `directory` or below it, comparing UTF-8 bytes (paths are ASCII).
    static func isAtOrBelow(_ path: String, _ directory: String) -> Bool {
        var path = path, directory = directory
        return path.withUTF8 { path in
            directory.withUTF8 { directory in
                if directory.count == 1 { return true }   // "/"
                guard path.count >= directory.count, memcmp(path.baseAddress!, directory.baseAddress!, directory.count) == 0 else { return false }
                return path.count == directory.count || path[directory.count] == UInt8(ascii: "/")
            }
        }
    }

    /// The kind and name of a record path, nil for anything else.
    public static func record(at path: TreePath) -> (kind: Kind, name: String)? {
        let segments = path.segments
        guard segments.count == 4, segments[0] == "skynet", segments[1] == "auth", let kind = Kind(rawValue: String(segments[2])) else { return nil }
        return (kind, String(segments[3]))
    }
}
