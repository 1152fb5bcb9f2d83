/// Size rules of the config tree.
public struct TreeLimits: Hashable, Sendable {
    /// Longest path, in bytes.
    public var maxPathLength: Int
    /// Largest file value, in bytes.
    public var maxValueSize: Int

    /// Creates limits: by default paths up to 1,024 bytes and values up to 1 MiB.
    public init(maxPathLength: Int = 1024, maxValueSize: Int = 1 << 20) {
        self.maxPathLength = maxPathLength
        self.maxValueSize = maxValueSize
    }

    /// The defaults.
    public static let `default` = TreeLimits()
}
