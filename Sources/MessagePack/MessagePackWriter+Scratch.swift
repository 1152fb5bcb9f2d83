extension MessagePackWriter {
    /// Calls `body` with this thread's scratch writer, empty; what `body` returns must not
    /// keep the writer (copy its bytes out).
    ///
    /// For hot paths that pack a message and copy it elsewhere at once: a fresh writer
    /// costs three allocations (the object, its buffer header, its bytes) and their frees.
    /// A nested call on the same thread gets a fresh writer, so the scratch one is never
    /// packed into twice at once; after a use that grew it past 64 KiB the thread drops it,
    /// so one large message does not pin its size for the thread's life.
    package static func withScratch<R>(_ body: (MessagePackWriter) throws -> R) rethrows -> R {
        let slot = ScratchSlot.perThread.current
        guard !slot.busy else { return try body(MessagePackWriter()) }
        slot.busy = true
        defer {
            slot.busy = false
            if slot.writer.capacity > ScratchSlot.keptCapacity { slot.writer = MessagePackWriter() }
        }
        slot.writer.reset()
        return try body(slot.writer)
    }
}

/// One thread's scratch writer (see `PerThread`).
private final class ScratchSlot {
    static let keptCapacity = 64 << 10
    static let perThread = PerThread { ScratchSlot() }

    var writer = MessagePackWriter()
    var busy = false
}
