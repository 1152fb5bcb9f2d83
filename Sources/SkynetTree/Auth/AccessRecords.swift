import Foundation

/// A role: a named list of rules, stored as JSON at `/skynet/auth/roles/<name>`:
/// `{"rules": ["read:/skynet/**", "read,write:/skynet/config/app/**"]}`.
public struct AccessRole: Hashable, Sendable {
    /// The rules; a holder may do what any of them allows.
    public var rules: [AccessRule]

    /// Creates a role.
    public init(rules: [AccessRule]) {
        self.rules = rules
    }
}

/// A token as the coordinator stores it at `/skynet/auth/tokens/<id>`: its name, the
/// SHA-256 of the token (hex) and its roles, as JSON. The token itself is never stored.
public struct AccessTokenRecord: Hashable, Sendable, Codable {
    /// A name for people (`sky auth token list` shows it; errors name it).
    public var name: String
    /// SHA-256 of the token, 64 lowercase hex digits.
    public var sha256: String
    /// The roles it holds.
    public var roles: [String]

    /// Creates a record.
    public init(name: String, sha256: String, roles: [String]) {
        self.name = name
        self.sha256 = sha256
        self.roles = roles
    }
}

/// The roles of a client certificate (mutual TLS) with a given common name, stored at
/// `/skynet/auth/certs/<name>` as `{"roles": [...]}`.
public struct AccessCertificateRecord: Hashable, Sendable, Codable {
    /// The roles it holds.
    public var roles: [String]

    /// Creates a record.
    public init(roles: [String]) {
        self.roles = roles
    }
}

/// Who opened a session, stored at `/skynet/auth/sessions/<id>` as `{"owner": key}`
/// (`AccessPrincipal.key`).
public struct AccessSessionRecord: Hashable, Sendable, Codable {
    /// The owner's `AccessPrincipal.key`.
    public var owner: String

    /// Creates a record.
    public init(owner: AccessPrincipal) {
        self.owner = owner.key
    }
}

/// Encoding and checking the JSON of the records under `AuthPaths.prefix`.
public enum AccessRecords {
    /// The JSON of a role.
    public static func encode(_ role: AccessRole) -> [UInt8] {
        json(RoleJSON(rules: role.rules.map(\.description)))
    }

    /// The JSON of a token or certificate record.
    public static func encode(_ record: some Encodable) -> [UInt8] {
        json(record)
    }

    /// Reads a role, naming what is wrong with it.
    public static func role(from bytes: [UInt8]) throws(AccessRecordError) -> AccessRole {
        let decoded: RoleJSON = try decode(bytes, "{\"rules\": [\"read:/glob\", ...]}")
        var rules: [AccessRule] = []
        for text in decoded.rules { rules.append(try AccessRule(parsing: text)) }
        return AccessRole(rules: rules)
    }

    /// Reads a token record, naming what is wrong with it.
    public static func token(from bytes: [UInt8]) throws(AccessRecordError) -> AccessTokenRecord {
        let record: AccessTokenRecord = try decode(bytes, "{\"name\": ..., \"sha256\": <64 hex digits>, \"roles\": [...]}")
        guard record.sha256.count == 64, record.sha256.allSatisfy({ $0.isHexDigit && !$0.isUppercase }) else {
            throw AccessRecordError("token record: sha256 must be 64 lowercase hex digits")
        }
        return record
    }

    /// Reads a session record, naming what is wrong with it.
    public static func session(from bytes: [UInt8]) throws(AccessRecordError) -> AccessPrincipal {
        let record: AccessSessionRecord = try decode(bytes, "{\"owner\": \"token:<id>\"}")
        guard let owner = AccessPrincipal(key: record.owner) else { throw AccessRecordError("session record: owner \"\(record.owner)\" is not token:<id>, certificate:<name> or local") }
        return owner
    }

    /// Reads a certificate record, naming what is wrong with it.
    public static func certificate(from bytes: [UInt8]) throws(AccessRecordError) -> AccessCertificateRecord {
        try decode(bytes, "{\"roles\": [...]}")
    }

    /// Checks a value about to be written at `path` under the reserved prefix: a record of
    /// the kind its path names, well formed. Anything else there is refused.
    public static func validate(_ value: [UInt8], at path: TreePath) throws(AccessRecordError) {
        guard let (kind, _) = AuthPaths.record(at: path) else {
            throw AccessRecordError("\(path): under \(AuthPaths.prefix) only roles/<name>, tokens/<id>, certs/<name> and sessions/<id> may be written")
        }
        switch kind {
        case .roles: _ = try role(from: value)
        case .tokens: _ = try token(from: value)
        case .certs: _ = try certificate(from: value)
        case .sessions: _ = try session(from: value)
        }
    }

    private struct RoleJSON: Codable {
        var rules: [String]
    }

    private static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data())
    }

    private static func decode<T: Decodable>(_ bytes: [UInt8], _ shape: String) throws(AccessRecordError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw AccessRecordError("not valid JSON of the form \(shape)")
        }
    }
}
