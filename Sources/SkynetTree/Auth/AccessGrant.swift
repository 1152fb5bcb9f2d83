/// What one principal may do: its roles' rules, compiled for checking on every call.
///
/// Each rule keeps its permissions as a bit mask and its glob's literal leading
/// segments, so a path outside a rule's subtree is passed over with one prefix comparison,
/// and a rule that is a whole subtree (`/a/b/**`) needs no glob matching at all.
public struct AccessGrant: Sendable {
    struct Rule: Sendable {
        var glob: TreeGlob
        /// Permissions whose `includes` answers yes, as bits of `AccessGrant.bit`.
        var allows: UInt8
        /// The glob's literal leading segments as a path ("/" for none).
        var literal: String
        /// True when the glob is `literal/**`: anything at or below `literal` matches.
        var isSubtree: Bool
    }

    let rules: [Rule]

    /// Compiles `rules`.
    public init(_ rules: [AccessRule]) {
        self.rules = rules.map { rule in
            var allows: UInt8 = 0
            for wanted in AccessPermission.allCases where rule.permissions.contains(where: { $0.includes(wanted) }) { allows |= Self.bit(wanted) }
            let literal = "/" + rule.glob.literalSegments.joined(separator: "/")
            let isSubtree = rule.glob.pattern == (literal == "/" ? "/**" : literal + "/**")
            return Rule(glob: rule.glob, allows: allows, literal: literal, isSubtree: isSubtree)
        }
    }

    static func bit(_ permission: AccessPermission) -> UInt8 {
        switch permission {
        case .read: 1
        case .write: 2
        case .admin: 4
        }
    }

    /// True when some rule allows `permission` on `path` (the reserved prefix is the
    /// policy's business: see `AccessPolicy.decide`).
    public func allows(_ permission: AccessPermission, _ path: TreePath) -> Bool {
        let wanted = Self.bit(permission)
        let text = path.string
        for index in rules.indices where rules[index].allows & wanted != 0 {
            guard AuthPaths.isAtOrBelow(text, rules[index].literal) else { continue }
            if rules[index].isSubtree || rules[index].glob.matches(path) { return true }
        }
        return false
    }

    /// True when some rule allowing `permission` could match `path` or a path below it.
    func mayAllow(_ permission: AccessPermission, atOrBelow path: TreePath) -> Bool {
        let wanted = Self.bit(permission)
        return rules.contains { rule in
            rule.allows & wanted != 0 && (rule.glob.matches(path) || rule.glob.mayMatchBelow(path))
        }
    }
}
