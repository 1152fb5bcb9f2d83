/// What a caller asks for: fire `callback` with `data` after `timeout` milliseconds.
public struct TimerSpec: Hashable, Sendable {
    /// Milliseconds from acceptance to the first delivery attempt, 1 ... 2^31 − 1.
    public var timeout: Int64
    /// The callback's body (HTTP) or argument (Skynet).
    public var data: [UInt8]
    /// Where the callback goes.
    public var callback: TimerCallback
    /// Delivery attempts after the first before the timer is kept as `failed`.
    public var retries: Int

    /// Limits a spec is checked against.
    public static let maxTimeout: Int64 = 2_147_483_647
    /// Most bytes of `data`.
    public static let maxData = 65_536
    /// Most retries a caller may ask for.
    public static let maxRetries = 20
    /// Retries when the caller names none.
    public static let defaultRetries = 5

    /// Creates a spec (`TimerSpecParser` checks one from outside).
    public init(timeout: Int64, data: [UInt8] = [], callback: TimerCallback, retries: Int = TimerSpec.defaultRetries) {
        self.timeout = timeout
        self.data = data
        self.callback = callback
        self.retries = retries
    }
}
