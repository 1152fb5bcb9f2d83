import ArgumentParser
import Foundation
import Skynet
import SkynetCertificates

/// `sky auth ...`: roles and tokens of a coordinator with auth on. They are records under
/// /skynet/auth, which only a token with `admin` there may read or write.
struct AuthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth", abstract: "Manage the roles and tokens of a coordinator with auth on (needs an admin token).",
        discussion: """
            A role is a list of rules PERMISSIONS:GLOB (permissions read, write, admin; admin includes the others
            and is the only one that reaches /skynet/auth). A token holds roles.

            Examples:
              sky auth role add app-config 'read,write:/skynet/config/app/**' -token=@root.token
              sky auth token create -name=deploy -role=app-config -token=@root.token
              sky auth token revoke deploy -token=@root.token
            """,
        subcommands: [AuthRole.self, AuthToken.self, AuthCert.self])
}

/// `sky auth cert ...`.
struct AuthCert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert", abstract: "Give client certificates (mutual TLS) roles, by common name.",
        discussion: """
            A caller whose verified client certificate has common name NAME holds NAME's roles without a token.

            Examples:
              sky auth cert add deploy-bot -role=app-config
              sky auth cert list
            """,
        subcommands: [AuthCertAdd.self, AuthCertRemove.self, AuthCertList.self])
}

/// `sky auth role ...`.
struct AuthRole: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "role", abstract: "Add, remove and list roles.",
        discussion: """
            Examples:
              sky auth role add reader 'read:/skynet/**'
              sky auth role list
            """,
        subcommands: [AuthRoleAdd.self, AuthRoleRemove.self, AuthRoleList.self])
}

/// `sky auth token ...`.
struct AuthToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, revoke and list tokens.",
        discussion: """
            Examples:
              sky auth token create -name=deploy -role=reader
              sky auth token revoke deploy
            """,
        subcommands: [AuthTokenCreate.self, AuthTokenRevoke.self, AuthTokenList.self])
}

/// `sky auth role add NAME RULE...`.
struct AuthRoleAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Create a role, or replace its rules.",
        discussion: """
            Examples:
              sky auth role add reader 'read:/skynet/**'
              sky auth role add echo-admin 'admin:/skynet/services/echo/**' 'read:/skynet/services/**'
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The role's name (A-Z a-z 0-9 . _ -).") var name: String
    @Argument(help: "Its rules, PERMISSIONS:GLOB each.") var rules: [String]

    func validate() throws {
        _ = try AuthNames.path(.roles, name)
        guard !rules.isEmpty else { throw ValidationError("give the role at least one rule, PERMISSIONS:GLOB") }
        _ = try parsedRules()
    }

    func parsedRules() throws -> [AccessRule] {
        try rules.map { text in
            do throws(AccessRecordError) { return try AccessRule(parsing: text) } catch { throw ValidationError(error.message) }
        }
    }

    func run() async throws {
        let role = AccessRole(rules: try parsedRules())
        let rev = try await global.client().set(try AuthNames.path(.roles, name).string, AccessRecords.encode(role))
        if global.json { try Output.json(["rev": rev]) } else { print("role \(name): \(role.rules.map(\.description).joined(separator: " ")) (rev \(rev))") }
    }
}

/// `sky auth role rm NAME`.
struct AuthRoleRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a role (tokens that name it lose its rules).",
        discussion: "Examples:\n  sky auth role rm reader")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The role's name.") var name: String

    func validate() throws { _ = try AuthNames.path(.roles, name) }

    func run() async throws {
        try await AuthNames.remove(.roles, name, global)
    }
}

/// `sky auth role list`.
struct AuthRoleList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List roles and their rules.", discussion: "Examples:\n  sky auth role list -json")
    @OptionGroup var global: GlobalOptions

    struct Row: Codable {
        var name: String
        var rules: [String]
    }

    func run() async throws {
        var rows: [Row] = []
        for file in try await global.client().walk("\(AuthPaths.prefix)/roles/*") {
            let rules = (try? AccessRecords.role(from: file.value))?.rules.map(\.description) ?? ["(unreadable record)"]
            rows.append(Row(name: String(file.path.name), rules: rules))
        }
        if global.json { try Output.json(rows) } else { Output.table(["ROLE", "RULES"], rows.map { [$0.name, $0.rules.joined(separator: " ")] }) }
    }
}

/// `sky auth token create`.
struct AuthTokenCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Make a token holding roles; it is printed once and never stored.",
        discussion: """
            The coordinator keeps only the token's SHA-256; keep the printed token somewhere safe.

            Examples:
              sky auth token create -name=deploy -role=app-config
              sky auth token create -name=ops -role=reader -role=echo-admin -json
            """)
    @OptionGroup var global: GlobalOptions
    @Option(help: "A name for people (list and errors show it).") var name: String
    @Option(help: "A role it holds (repeat for more).") var role: [String] = []

    func validate() throws {
        guard !role.isEmpty else { throw ValidationError("give the token at least one -role") }
        for role in role { _ = try AuthNames.path(.roles, role) }
        guard !name.isEmpty, name.count <= 128 else { throw ValidationError("-name must be 1 to 128 characters") }
    }

    struct Created: Codable {
        var token: String
        var id: String
        var name: String
        var roles: [String]
    }

    func run() async throws {
        let coordinator = try global.client()
        for role in role where try await coordinator.stat(try AuthNames.path(.roles, role).string) == nil {
            throw SkyFailure("no role \(role) (sky auth role add \(role) ...)")
        }
        let token = AccessToken.generate()
        let record = AccessTokenRecord(name: name, sha256: AccessToken.sha256(token), roles: role)
        _ = try await coordinator.set(try AuthNames.path(.tokens, AccessToken.id(token)).string, AccessRecords.encode(record), ifRev: 0)
        let created = Created(token: token, id: AccessToken.id(token), name: name, roles: role)
        if global.json { try Output.json(created) } else { print(token) }
    }
}

/// `sky auth token revoke ID|NAME`.
struct AuthTokenRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke", abstract: "Revoke a token by id or name; connections using it stop at their next call.",
        discussion: "Examples:\n  sky auth token revoke deploy\n  sky auth token revoke 3f2a9c0d1e4b5a67")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The token's id (sky auth token list) or name.") var token: String

    func run() async throws {
        let coordinator = try global.client()
        let matches = try await coordinator.walk("\(AuthPaths.prefix)/tokens/*").filter { file in
            file.path.name == token || (try? AccessRecords.token(from: file.value))?.name == token
        }
        guard !matches.isEmpty else { throw SkyFailure("no token with id or name \(token)") }
        guard matches.count == 1 else { throw SkyFailure("\(matches.count) tokens are named \(token); revoke one by id: \(matches.map { String($0.path.name) }.joined(separator: ", "))") }
        let rev = try await coordinator.del(matches[0].path.string, ifRev: matches[0].stat.modRev)
        if global.json { try Output.json(["rev": rev]) } else { print("token \(matches[0].path.name) revoked (rev \(rev))") }
    }
}

/// `sky auth token list`.
struct AuthTokenList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List tokens (ids, names, roles; never the tokens).", discussion: "Examples:\n  sky auth token list")
    @OptionGroup var global: GlobalOptions

    struct Row: Codable {
        var id: String
        var name: String
        var roles: [String]
    }

    func run() async throws {
        var rows: [Row] = []
        for file in try await global.client().walk("\(AuthPaths.prefix)/tokens/*") {
            let record = try? AccessRecords.token(from: file.value)
            rows.append(Row(id: String(file.path.name), name: record?.name ?? "(unreadable record)", roles: record?.roles ?? []))
        }
        if global.json { try Output.json(rows) } else { Output.table(["ID", "NAME", "ROLES"], rows.map { [$0.id, $0.name, $0.roles.joined(separator: ",")] }) }
    }
}

/// `sky auth cert add NAME -role R`.
struct AuthCertAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Give the certificates with this common name roles (replacing any).",
        discussion: "Examples:\n  sky auth cert add deploy-bot -role=app-config\n  sky auth cert add echo -role=echo-service")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The certificates' common name (sky tls cert -name).") var name: String
    @Option(help: "A role it holds (repeat for more).") var role: [String] = []

    func validate() throws {
        _ = try AuthNames.path(.certs, name)
        guard !role.isEmpty else { throw ValidationError("give the certificate at least one -role") }
        for role in role { _ = try AuthNames.path(.roles, role) }
    }

    func run() async throws {
        let coordinator = try global.client()
        for role in role where try await coordinator.stat(try AuthNames.path(.roles, role).string) == nil {
            throw SkyFailure("no role \(role) (sky auth role add \(role) ...)")
        }
        let rev = try await coordinator.set(try AuthNames.path(.certs, name).string, AccessRecords.encode(AccessCertificateRecord(roles: role)))
        if global.json { try Output.json(["rev": rev]) } else { print("certificate \(name): \(role.joined(separator: ",")) (rev \(rev))") }
    }
}

/// `sky auth cert rm NAME`.
struct AuthCertRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Take the roles of certificates with this common name away.", discussion: "Examples:\n  sky auth cert rm deploy-bot")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The certificates' common name.") var name: String

    func validate() throws { _ = try AuthNames.path(.certs, name) }

    func run() async throws {
        try await AuthNames.remove(.certs, name, global)
    }
}

/// `sky auth cert list`.
struct AuthCertList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List certificate names and their roles.", discussion: "Examples:\n  sky auth cert list -json")
    @OptionGroup var global: GlobalOptions

    struct Row: Codable {
        var name: String
        var roles: [String]
    }

    func run() async throws {
        let rows = try await global.client().walk("\(AuthPaths.prefix)/certs/*").map { file in
            Row(name: String(file.path.name), roles: (try? AccessRecords.certificate(from: file.value))?.roles ?? ["(unreadable record)"])
        }
        if global.json { try Output.json(rows) } else { Output.table(["CERTIFICATE", "ROLES"], rows.map { [$0.name, $0.roles.joined(separator: ",")] }) }
    }
}

/// Record paths from names given on the command line, refused with a usage error when a
/// name is not a path segment.
enum AuthNames {
    static func path(_ kind: AuthPaths.Kind, _ name: String) throws -> TreePath {
        do { return try AuthPaths.path(kind, name) } catch { throw ValidationError("\(noun(kind)) name \"\(name)\": \(error)") }
    }

    static func noun(_ kind: AuthPaths.Kind) -> String {
        switch kind {
        case .roles: "role"
        case .tokens: "token"
        case .certs: "certificate"
        case .sessions: "session"
        }
    }

    /// Deletes record `name` of `kind`, saying so; fails when there is none.
    static func remove(_ kind: AuthPaths.Kind, _ name: String, _ global: GlobalOptions) async throws {
        let coordinator = try global.client()
        let path = try path(kind, name).string
        guard try await coordinator.stat(path) != nil else { throw SkyFailure("no \(noun(kind)) \(name) on record") }
        let rev = try await coordinator.del(path)
        if global.json { try Output.json(["rev": rev]) } else { print("\(noun(kind)) \(name) removed (rev \(rev))") }
    }
}
