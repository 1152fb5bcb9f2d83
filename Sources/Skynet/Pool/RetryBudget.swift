/// Limits retries to a fraction of recent requests, so a failing backend sees at most
/// (1 + ratio) times its normal load instead of a retry storm (Finagle's RetryBudget).
///
/// A pure core over a time the caller passes in: each request deposits `ratio` tokens into
/// the current one-second bucket, each retry withdraws one token (oldest bucket first);
/// buckets older than the window are dropped, so memory is fixed whatever the traffic. A
/// floor of `minRetriesPerSecond` keeps low-traffic clients able to retry.
public struct RetryBudget: Sendable {
    /// Retries allowed per request, such as 0.2.
    public let ratio: Double
    /// Retries always allowed per second, whatever the traffic.
    public let minRetriesPerSecond: Double
    /// Milli-tokens per bucket: integers, so 100 deposits of 0.2 buy exactly 20 retries.
    private var buckets: [Int]
    private let deposited: Int
    private var currentSecond: Int64?
    private var floorSecond: Int64?
    private var floorUsed = 0.0

    /// Creates a budget: by default 20% of requests, at least 10 retries per second, over 10 s.
    public init(ratio: Double = 0.2, minRetriesPerSecond: Double = 10, windowSeconds: Int = 10) {
        precondition(windowSeconds > 0 && ratio >= 0 && minRetriesPerSecond >= 0)
        self.ratio = ratio
        self.minRetriesPerSecond = minRetriesPerSecond
        buckets = Array(repeating: 0, count: windowSeconds)
        deposited = Int((ratio * 1000).rounded())
    }

    /// Tokens available now (without the per-second floor).
    public var balance: Double { Double(buckets.reduce(0, +)) / 1000 }

    /// A request was made.
    public mutating func deposit(now: Duration) {
        let slot = advance(now)
        buckets[slot] += deposited
    }

    /// Takes one retry from the budget; false when it is spent (do not retry).
    public mutating func tryWithdraw(now: Duration) -> Bool {
        let slot = advance(now)
        let second = now.components.seconds
        if floorSecond != second {
            floorSecond = second
            floorUsed = 0
        }
        if floorUsed + 1 <= minRetriesPerSecond {
            floorUsed += 1
            return true
        }
        guard buckets.reduce(0, +) >= 1000 else { return false }
        var needed = 1000
        // Oldest bucket first: the slot after the current one is the oldest.
        for offset in 1...buckets.count where needed > 0 {
            let i = (slot + offset) % buckets.count
            let take = min(needed, buckets[i])
            buckets[i] -= take
            needed -= take
        }
        return true
    }

    /// Moves the current bucket to `now`'s second, clearing the ones that fell out of the window.
    private mutating func advance(_ now: Duration) -> Int {
        let second = now.components.seconds
        let count = Int64(buckets.count)
        if let current = currentSecond, second > current {
            for s in (current + 1)...min(second, current + count) { buckets[Int(s % count)] = 0 }
        }
        if currentSecond.map({ second > $0 }) ?? true { currentSecond = second }
        return Int((currentSecond ?? second) % count)
    }
}
