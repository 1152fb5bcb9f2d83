/// One grant of a role: permissions on the paths a glob matches.
///
/// Written `read,write:/skynet/config/app/**` on the command line and in role files.
public struct AccessRule: Hashable, Sendable, CustomStringConvertible {
    /// The paths covered.
    public var glob: TreeGlob
    /// What the holder may do there.
    public var permissions: Set<AccessPermission>

    /// Creates a rule.
    public init(glob: TreeGlob, permissions: Set<AccessPermission>) {
        self.glob = glob
        self.permissions = permissions
    }

    /// Parses `PERMISSIONS:GLOB`, permissions comma-separated (`read`, `write`, `admin`).
    public init(parsing text: String) throws(AccessRecordError) {
        guard let colon = text.firstIndex(of: ":") else {
            throw AccessRecordError("rule \"\(text)\": a rule is PERMISSIONS:GLOB, such as read,write:/skynet/config/app/**")
        }
        var permissions: Set<AccessPermission> = []
        for word in text[..<colon].split(separator: ",", omittingEmptySubsequences: false) {
            guard let permission = AccessPermission(rawValue: word.trimmingCharacters(in: " ")) else {
                throw AccessRecordError("rule \"\(text)\": unknown permission \"\(word)\"; use read, write or admin")
            }
            permissions.insert(permission)
        }
        let pattern = String(text[text.index(after: colon)...])
        do throws(TreeError) {
            self.init(glob: try TreeGlob(pattern), permissions: permissions)
        } catch {
            throw AccessRecordError("rule \"\(text)\": \(error)")
        }
    }

    /// `read,write:/glob`, permissions in a fixed order.
    public var description: String {
        "\(permissions.sorted().map(\.rawValue).joined(separator: ",")):\(glob.pattern)"
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        String(drop { $0 == set }.reversed().drop { $0 == set }.reversed())
    }
}
