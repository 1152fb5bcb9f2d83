/// Who may do what, as the records under `AuthPaths.prefix` say: the pure core of the
/// coordinator's access control.
///
/// Built from those files (`init(files:revision:)`); answers whether a principal may read,
/// write or administer a path. A principal whose token or certificate record is gone
/// (revoked) is unknown: its calls fail `Unauthorized`, even on a connection that
/// authenticated before. Paths under the reserved prefix need `admin`, whatever other
/// rules say. Records that do not parse are skipped and reported in `problems`.
public struct AccessPolicy: Sendable {
    /// The revision of the tree the policy was read at.
    public private(set) var revision: Int64
    /// Records that were skipped, with why.
    public private(set) var problems: [String] = []
    private var tokens: [String: AccessTokenRecord] = [:]
    /// Each known principal's rules, flattened from its roles and compiled.
    private var grants: [AccessPrincipal: AccessGrant] = [:]
    /// Names of roles, for listing.
    public private(set) var roles: [String: AccessRole] = [:]

    /// An empty policy: nobody but `.local` may do anything.
    public init(revision: Int64 = 0) {
        self.revision = revision
        grants[.local] = AccessGrant([AccessRule(glob: try! TreeGlob("/**"), permissions: [.admin])])
    }

    /// The policy the records among `files` describe (other files are ignored).
    public init(files: [TreeFile], revision: Int64) {
        self.init(revision: revision)
        var certificates: [String: AccessCertificateRecord] = [:]
        for file in files {
            guard let (kind, name) = AuthPaths.record(at: file.path) else { continue }
            do throws(AccessRecordError) {
                switch kind {
                case .roles: roles[name] = try AccessRecords.role(from: file.value)
                case .tokens: tokens[name] = try AccessRecords.token(from: file.value)
                case .certs: certificates[name] = try AccessRecords.certificate(from: file.value)
                case .sessions: continue   // ownership, checked per call by the coordinator
                }
            } catch {
                problems.append("\(file.path): \(error.message)")
            }
        }
        func rules(_ names: [String], of holder: String) -> [AccessRule] {
            names.flatMap { name -> [AccessRule] in
                guard let role = roles[name] else {
                    problems.append("\(holder) names role \"\(name)\", which does not exist")
                    return []
                }
                return role.rules
            }
        }
        for (id, record) in tokens { grants[.token(id: id)] = AccessGrant(rules(record.roles, of: "token \(id)")) }
        for (name, record) in certificates { grants[.certificate(name: name)] = AccessGrant(rules(record.roles, of: "certificate \(name)")) }
    }

    /// The principal a token with this id and SHA-256 (hex) speaks for; nil when no such
    /// token is on record. Compares digests in constant time.
    public func principal(tokenID: String, sha256: String) -> AccessPrincipal? {
        guard let record = tokens[tokenID], Self.constantTimeEqual(record.sha256, sha256) else { return nil }
        return .token(id: tokenID)
    }

    /// The principal a client certificate with this common name speaks for, if on record.
    public func principal(certificate name: String) -> AccessPrincipal? {
        grants[.certificate(name: name)] == nil ? nil : .certificate(name: name)
    }

    /// The token record of `id`, for naming it in messages.
    public func token(_ id: String) -> AccessTokenRecord? { tokens[id] }

    /// True when there are no records at all (auth was never set up).
    public var isEmpty: Bool { roles.isEmpty && tokens.isEmpty && grants.count == 1 }

    /// How errors name a principal: a token by its name and id (never the token itself).
    public func describe(_ principal: AccessPrincipal) -> String {
        if case .token(let id) = principal, let record = tokens[id] { return "token \"\(record.name)\" (\(id))" }
        return principal.description
    }

    /// True while the principal's record exists.
    public func knows(_ principal: AccessPrincipal) -> Bool { grants[principal] != nil }

    /// The principal's compiled rules; nil when it is not (or no longer) on record.
    public func grant(for principal: AccessPrincipal) -> AccessGrant? { grants[principal] }

    /// What `principal` may do on `path`.
    public func decide(_ principal: AccessPrincipal, _ permission: AccessPermission, _ path: TreePath) -> AccessDecision {
        guard let grant = grants[principal] else { return .unknownPrincipal }
        return Self.decide(grant, permission, path)
    }

    /// What a holder of `grant` may do on `path`: paths under the reserved prefix need `admin`.
    public static func decide(_ grant: AccessGrant, _ permission: AccessPermission, _ path: TreePath) -> AccessDecision {
        let needed = AuthPaths.isReserved(path) ? AccessPermission.admin : permission
        return grant.allows(needed, path) ? .allowed : .denied(needed)
    }

    /// True when `principal` may read `path` or something below it (for listing directories).
    public func mayRead(_ principal: AccessPrincipal, atOrBelow path: TreePath) -> Bool {
        guard let grant = grants[principal] else { return false }
        // Within the reserved prefix only `admin` reads; above it, any reader may see the name.
        return grant.mayAllow(AuthPaths.isReserved(path) ? .admin : .read, atOrBelow: path)
    }

    /// Compares two strings in time that depends only on their lengths.
    package static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}

/// The answer of `AccessPolicy.decide`.
public enum AccessDecision: Hashable, Sendable {
    /// Go ahead.
    case allowed
    /// Authenticated, but no rule grants this permission (the one needed is named:
    /// `admin` for the reserved prefix).
    case denied(AccessPermission)
    /// The principal's token or certificate is not (or no longer) on record.
    case unknownPrincipal
}
