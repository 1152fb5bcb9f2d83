/// Turns a byte stream cut into arbitrary chunks into complete top-level values.
///
/// Feed chunks as they arrive and call `next()` until it returns `nil`. Limits are
/// checked on headers before their bytes are buffered, so an oversized or too deep
/// frame fails as soon as its header is seen. The first error ends the stream: a
/// MessagePack stream has no way to find the next frame after a bad one, so later
/// calls throw `streamFailed` carrying that first error.
public struct MessagePackFrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanner: MessagePackScanner
    private var failure: MessagePackError?

    /// Creates a decoder enforcing `limits` on every frame.
    public init(limits: MessagePackLimits = .default) {
        scanner = MessagePackScanner(limits: limits)
    }

    /// Bytes received but not yet returned as values.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Appends a chunk of the stream.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        guard failure == nil else { return }
        if start > 0, start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete value, or `nil` when more bytes are needed.
    public mutating func next() throws(MessagePackError) -> MessagePackValue? {
        if let failure { throw .streamFailed(MessagePackErrorBox(failure)) }
        let start = self.start
        let outcome: Result<(MessagePackValue, Int)?, MessagePackError> = buffer.withUnsafeBytes { raw in
            let frame = UnsafeRawBufferPointer(rebasing: raw[start...])
            return Result { () throws(MessagePackError) -> (MessagePackValue, Int)? in try scanner.nextValue(frame) }
        }
        switch outcome {
        case .success(nil):
            return nil
        case .success(let (value, length)?):
            self.start += length
            return value
        case .failure(let error):
            failure = error
            buffer = []
            self.start = 0
            throw error
        }
    }

    /// Declares the end of the stream: throws `truncated` when a partial frame is left.
    public func finish() throws(MessagePackError) {
        if let failure { throw .streamFailed(MessagePackErrorBox(failure)) }
        if bufferedByteCount > 0 { throw .truncated(missing: 1) }
    }
}
