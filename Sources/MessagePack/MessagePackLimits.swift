/// Bounds a decoder enforces while reading, before it allocates anything for a value.
///
/// The defaults fit the RPC layer: a 4 MiB message, 64 nested containers, 65,536
/// elements (or pairs) in one container.
public struct MessagePackLimits: Hashable, Sendable {
    /// Largest encoded size of one top-level value, in bytes.
    public var maxMessageSize: Int
    /// Largest number of containers nested inside one another (a flat array is depth 1).
    public var maxDepth: Int
    /// Largest element count of one array, or pair count of one map.
    public var maxContainerLength: Int

    /// Creates limits; every bound must be positive.
    public init(maxMessageSize: Int = 4 << 20, maxDepth: Int = 64, maxContainerLength: Int = 65_536) {
        precondition(maxMessageSize > 0 && maxDepth > 0 && maxContainerLength >= 0)
        self.maxMessageSize = maxMessageSize
        self.maxDepth = maxDepth
        self.maxContainerLength = maxContainerLength
    }

    /// The defaults described above.
    public static let `default` = MessagePackLimits()
}
