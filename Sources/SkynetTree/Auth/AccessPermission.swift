/// What a rule lets its holder do on the paths it covers.
///
/// `admin` includes `read` and `write`, and is the only permission that reaches the
/// reserved prefix (`AuthPaths.prefix`), where roles and tokens live.
public enum AccessPermission: String, Hashable, Sendable, CaseIterable, Codable, Comparable {
    /// Read files, walk and watch them.
    case read
    /// Create, change and delete files.
    case write
    /// Everything, including the reserved prefix and instances' admin calls.
    case admin

    /// True when holding `self` allows `wanted`.
    public func includes(_ wanted: AccessPermission) -> Bool {
        self == .admin || self == wanted
    }

    public static func < (a: AccessPermission, b: AccessPermission) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
