/// A watch hub's watchers by slot, in fixed chunks of 4,096.
///
/// Why chunks: a single array doubles as it grows, and each doubling copies every watcher
/// and drops the old buffer into the heap, where it stays resident; at 100,000 watchers
/// that was about 80 bytes of garbage per watcher. Chunks are reserved once at full size,
/// so growing never copies nor frees what is already held.
struct WatcherSlots: Sendable {
    private static let shift = 12
    private static let chunkSize = 1 << shift

    private var chunks: [[WatchHub.Watcher?]] = []
    /// Slots made so far (live or free).
    private(set) var count = 0

    subscript(slot: Int) -> WatchHub.Watcher? {
        get { chunks[slot >> Self.shift][slot & (Self.chunkSize - 1)] }
        set { chunks[slot >> Self.shift][slot & (Self.chunkSize - 1)] = newValue }
    }

    /// Runs `body` on the watcher in `slot` in place (the subscript's setter copies it out
    /// and back).
    mutating func update<R>(_ slot: Int, _ body: (inout WatchHub.Watcher?) -> R) -> R {
        body(&chunks[slot >> Self.shift][slot & (Self.chunkSize - 1)])
    }

    /// Adds a slot holding `watcher` at index `count`.
    mutating func append(_ watcher: WatchHub.Watcher) {
        if count & (Self.chunkSize - 1) == 0 {
            var chunk: [WatchHub.Watcher?] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(watcher)
        count += 1
    }

    /// Every slot, in order.
    var indices: Range<Int> { 0..<count }
}
