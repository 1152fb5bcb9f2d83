import SkynetCertificates
import SkynetTree
import Testing

@Suite("Access policy: roles, tokens and path rules")
struct AccessPolicyTests {
    static let readerToken = "reader-token-0123456789"
    static let appToken = "app-token-0123456789abc"
    static let rootToken = "root-token-0123456789abc"

    /// The records of a small deployment: root, a reader of everything, and an app limited
    /// to its config subtree.
    static func files(dropping dropped: String? = nil) throws -> [TreeFile] {
        var records: [(TreePath, [UInt8])] = [
            (try AuthPaths.path(.roles, "root"), AccessRecords.encode(AccessRole(rules: [try AccessRule(parsing: "admin:/**")]))),
            (try AuthPaths.path(.roles, "reader"), AccessRecords.encode(AccessRole(rules: [try AccessRule(parsing: "read:/**")]))),
            (try AuthPaths.path(.roles, "app"), AccessRecords.encode(AccessRole(rules: [try AccessRule(parsing: "read,write:/skynet/config/app/**")]))),
        ]
        for (token, name, role) in [(rootToken, "root", "root"), (readerToken, "reader", "reader"), (appToken, "app", "app")] where name != dropped {
            let record = AccessTokenRecord(name: name, sha256: AccessToken.sha256(token), roles: [role])
            records.append((try AuthPaths.path(.tokens, AccessToken.id(token)), AccessRecords.encode(record)))
        }
        return records.map { TreeFile(path: $0.0, value: $0.1, stat: FileStat(createRev: 1, modRev: 1, version: 1, session: nil, size: $0.1.count)) }
    }

    static func principal(_ policy: AccessPolicy, _ token: String) -> AccessPrincipal? {
        policy.principal(tokenID: AccessToken.id(token), sha256: AccessToken.sha256(token))
    }

    @Test("tokens authenticate by their digest; a wrong digest or an unknown id does not")
    func authenticate() throws {
        let policy = AccessPolicy(files: try Self.files(), revision: 5)
        #expect(Self.principal(policy, Self.readerToken) == .token(id: AccessToken.id(Self.readerToken)))
        #expect(policy.principal(tokenID: AccessToken.id(Self.readerToken), sha256: AccessToken.sha256(Self.appToken)) == nil)
        #expect(Self.principal(policy, "not-a-token-at-all-0000") == nil)
        #expect(policy.problems.isEmpty, "\(policy.problems)")
        #expect(policy.describe(.token(id: AccessToken.id(Self.appToken))).contains("\"app\""), "errors name the token, not its secret")
    }

    @Test("read, write and admin by rule; admin includes the others")
    func decide() throws {
        let policy = AccessPolicy(files: try Self.files(), revision: 5)
        let reader = try #require(Self.principal(policy, Self.readerToken))
        let app = try #require(Self.principal(policy, Self.appToken))
        let root = try #require(Self.principal(policy, Self.rootToken))
        let config = try TreePath("/skynet/config/app/db"), other = try TreePath("/skynet/config/billing/db")
        #expect(policy.decide(reader, .read, other) == .allowed)
        #expect(policy.decide(reader, .write, other) == .denied(.write))
        #expect(policy.decide(app, .write, config) == .allowed)
        #expect(policy.decide(app, .read, other) == .denied(.read))
        #expect(policy.decide(app, .admin, config) == .denied(.admin))
        #expect(policy.decide(root, .write, other) == .allowed)
    }

    @Test("compiled grants agree with the globs: subtrees end at a segment boundary, wildcards are matched")
    func grants() throws {
        let grant = AccessGrant([try AccessRule(parsing: "read,write:/skynet/config/app/**"), try AccessRule(parsing: "read:/skynet/config/*/public/**"), try AccessRule(parsing: "write:/x/?")])
        for (path, permission, expected) in [
            ("/skynet/config/app", AccessPermission.read, true), ("/skynet/config/app/a/b", .write, true),
            ("/skynet/config/apple", .read, false), ("/skynet/config/ap", .read, false),
            ("/skynet/config/billing/public/x", .read, true), ("/skynet/config/billing/public/x", .write, false),
            ("/skynet/config/billing/private/x", .read, false), ("/x/a", .write, true), ("/x/ab", .write, false),
            ("/x/a", .read, false), ("/skynet/config/app/a", .admin, false),
        ] {
            #expect(grant.allows(permission, try TreePath(path)) == expected, "\(permission) on \(path)")
        }
        #expect(AccessGrant([try AccessRule(parsing: "admin:/**")]).allows(.write, try TreePath("/any/where")))
    }

    @Test("the reserved prefix needs admin, whatever a read or write rule on /** says")
    func reserved() throws {
        let policy = AccessPolicy(files: try Self.files(), revision: 5)
        let reader = try #require(Self.principal(policy, Self.readerToken))
        let root = try #require(Self.principal(policy, Self.rootToken))
        let record = try AuthPaths.path(.tokens, "0123456789abcdef")
        #expect(policy.decide(reader, .read, record) == .denied(.admin))
        #expect(policy.decide(root, .write, record) == .allowed)
        #expect(!policy.mayRead(reader, atOrBelow: try TreePath(AuthPaths.prefix)))
        #expect(policy.mayRead(root, atOrBelow: try TreePath(AuthPaths.prefix)))
    }

    @Test("directories: a reader limited to a subtree may list the way down to it, nothing beside it")
    func listing() throws {
        let policy = AccessPolicy(files: try Self.files(), revision: 5)
        let app = try #require(Self.principal(policy, Self.appToken))
        #expect(policy.mayRead(app, atOrBelow: .root))
        #expect(policy.mayRead(app, atOrBelow: try TreePath("/skynet/config")))
        #expect(policy.mayRead(app, atOrBelow: try TreePath("/skynet/config/app")))
        #expect(!policy.mayRead(app, atOrBelow: try TreePath("/skynet/config/billing")))
        #expect(!policy.mayRead(app, atOrBelow: try TreePath("/skynet/services")))
    }

    @Test("a revoked token (its record gone) is unknown; its role's rules go with a removed role")
    func revoked() throws {
        let before = AccessPolicy(files: try Self.files(), revision: 5)
        let app = try #require(Self.principal(before, Self.appToken))
        let after = AccessPolicy(files: try Self.files(dropping: "app"), revision: 6)
        #expect(!after.knows(app))
        #expect(after.decide(app, .read, try TreePath("/skynet/config/app/db")) == .unknownPrincipal)
        let withoutRole = AccessPolicy(files: try Self.files().filter { $0.path.name != "app" }, revision: 7)
        #expect(withoutRole.decide(app, .read, try TreePath("/skynet/config/app/db")) == .denied(.read))
        #expect(withoutRole.problems.contains { $0.contains("role \"app\"") }, "\(withoutRole.problems)")
    }

    @Test("rules and records: bad ones are refused with what is wrong", arguments: [
        ("read:/a/**", nil), ("read,write:/a/*", nil), ("admin:/**", nil),
        ("/a/**", "PERMISSIONS:GLOB"), ("fly:/a", "unknown permission \"fly\""), ("read:a", "must start with /"),
        ("read,:/a", "unknown permission \"\""), ("read:/a/**b", "whole segment"),
    ] as [(String, String?)])
    func rules(text: String, error: String?) {
        do throws(AccessRecordError) {
            let rule = try AccessRule(parsing: text)
            #expect(error == nil, "\(text) parsed as \(rule)")
            #expect(try AccessRule(parsing: rule.description) == rule, "a rule prints as it parses")
        } catch let failure {
            #expect(error.map { failure.message.contains($0) } == true, "\(text): \(failure.message)")
        }
    }

    @Test("records are checked before they are written under the reserved prefix")
    func validation() throws {
        let role = try AuthPaths.path(.roles, "x")
        #expect(throws: AccessRecordError.self) { try AccessRecords.validate(Array("not json".utf8), at: role) }
        #expect(throws: AccessRecordError.self) { try AccessRecords.validate(Array(#"{"rules": ["nope"]}"#.utf8), at: role) }
        #expect(throws: AccessRecordError.self) { try AccessRecords.validate(Array(#"{"name": "a", "sha256": "XYZ", "roles": []}"#.utf8), at: try AuthPaths.path(.tokens, "a")) }
        #expect(throws: AccessRecordError.self) { try AccessRecords.validate(Array("{}".utf8), at: try TreePath("/skynet/auth/other")) }
        try AccessRecords.validate(AccessRecords.encode(AccessRole(rules: [try AccessRule(parsing: "read:/**")])), at: role)
        #expect(throws: TreeError.self) { try AuthPaths.path(.roles, "a/b") }
    }

    @Test("principals round-trip through the keys session records store; other text is refused")
    func principalKeys() throws {
        for principal in [AccessPrincipal.token(id: "0123456789abcdef"), .certificate(name: "deploy-bot"), .local] {
            #expect(AccessPrincipal(key: principal.key) == principal)
            #expect(try AccessRecords.session(from: AccessRecords.encode(AccessSessionRecord(owner: principal))) == principal)
        }
        for text in ["", "token:", "user:x", "token", "locals"] { #expect(AccessPrincipal(key: text) == nil, "\(text)") }
        #expect(throws: AccessRecordError.self) { try AccessRecords.validate(Array(#"{"owner": "nobody"}"#.utf8), at: try AuthPaths.path(.sessions, "7")) }
    }

    @Test("generated tokens: 256 random bits, distinct, and the id is the digest's prefix")
    func tokens() {
        let a = AccessToken.generate(), b = AccessToken.generate()
        #expect(a != b)
        #expect(a.hasPrefix("skt_") && a.count == 4 + 43)
        #expect(AccessToken.sha256("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AccessToken.id(a) == String(AccessToken.sha256(a).prefix(16)))
    }
}
