/// Finds where one top-level MessagePack value ends, enforcing `MessagePackLimits`
/// on every header before anything is allocated for it.
///
/// A pure, resumable core: call `scan` with the bytes of the current frame (always from
/// its first byte) each time more arrive; it continues where it stopped, so feeding a
/// frame byte by byte costs linear time. After `.complete` or a thrown error the scanner
/// is ready for the next frame. It never reads payload bytes, only headers.
public struct MessagePackScanner: Sendable {
    /// What a scan found.
    public enum Result: Hashable, Sendable {
        /// The frame is not complete yet; at least `missing` more bytes are needed.
        case incomplete(missing: Int)
        /// A whole value of `length` bytes, with containers nested `depth` deep.
        case complete(length: Int, depth: Int)
    }

    /// The limits every frame is checked against.
    public let limits: MessagePackLimits
    private var offset = 0
    /// Child values still expected by each open container, innermost last.
    private var open: [Int] = []
    private var deepest = 0

    /// Creates a scanner enforcing `limits`.
    public init(limits: MessagePackLimits = .default) {
        self.limits = limits
        open.reserveCapacity(min(limits.maxDepth, 64))
    }

    /// Bytes of the current frame already known to belong to it.
    public var scannedByteCount: Int { offset }

    /// Continues scanning `bytes`, which must start at the current frame's first byte and
    /// extend what earlier calls saw. Throws the first limit or format violation found.
    public mutating func scan(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> Result {
        do {
            return try scanElements(bytes)
        } catch {
            reset()
            throw error
        }
    }

    /// Scans `bytes` (the current frame from its first byte) and, once it is whole,
    /// unpacks it; returns the value and the frame's length, or `nil` while incomplete.
    public mutating func nextValue(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> (value: MessagePackValue, length: Int)? {
        guard case .complete(let length, let depth) = try scan(bytes) else { return nil }
        let frame = UnsafeRawBufferPointer(rebasing: bytes[..<length])
        return (try MessagePackReader.unpackFrame(frame, depth: depth), length)
    }

    /// Forgets the current frame.
    public mutating func reset() {
        offset = 0
        open.removeAll(keepingCapacity: true)
        deepest = 0
    }

    private mutating func scanElements(_ bytes: UnsafeRawBufferPointer) throws(MessagePackError) -> Result {
        while true {
            guard let header = try MessagePackHeader.read(bytes, at: offset) else {
                let marker = offset < bytes.count ? bytes[offset] : 0
                let wanted = offset + MessagePackHeader.minimumLength(marker: marker)
                try checkSize(wanted)
                return .incomplete(missing: max(1, wanted - bytes.count))
            }
            switch header.body {
            case .bytes(let payload):
                let end = offset + header.length + payload
                try checkSize(end)
                if end > bytes.count { return .incomplete(missing: end - bytes.count) }
                offset = end
            case .array(let count), .map(let count):
                if count > limits.maxContainerLength {
                    throw .containerTooLong(length: count, limit: limits.maxContainerLength)
                }
                let depth = open.count + 1
                if depth > limits.maxDepth { throw .depthExceeded(depth: depth, limit: limits.maxDepth) }
                // Every child takes at least one byte: the frame is at least this long.
                let children = header.body == .map(count) ? count * 2 : count
                try checkSize(offset + header.length + children)
                offset += header.length
                deepest = max(deepest, depth)
                if children > 0 {
                    open.append(children)
                    continue
                }
            }
            if finishElement() {
                let result = Result.complete(length: offset, depth: deepest)
                reset()
                return result
            }
        }
    }

    /// Counts one finished child against the open containers; true when the frame is done.
    private mutating func finishElement() -> Bool {
        while let last = open.last {
            if last > 1 {
                open[open.count - 1] = last - 1
                return false
            }
            open.removeLast()
        }
        return true
    }

    private func checkSize(_ size: Int) throws(MessagePackError) {
        if size > limits.maxMessageSize { throw .messageTooLarge(size: size, limit: limits.maxMessageSize) }
    }
}
