/// Latencies collected by one benchmark phase.
struct LatencySamples {
    private var nanoseconds: [Int64] = []

    init(capacity: Int) { nanoseconds.reserveCapacity(capacity) }

    mutating func record(_ duration: Duration) {
        let (s, atto) = duration.components
        nanoseconds.append(s * 1_000_000_000 + atto / 1_000_000_000)
    }

    /// Number of samples.
    var count: Int { nanoseconds.count }

    mutating func append(_ other: LatencySamples) {
        nanoseconds.append(contentsOf: other.nanoseconds)
    }

    /// The `q`-quantile (0...1) in microseconds, nearest-rank.
    func percentileMicroseconds(_ q: Double) -> Double {
        guard !nanoseconds.isEmpty else { return 0 }
        let sorted = nanoseconds.sorted()
        let rank = min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1000
    }
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Rounds for JSON output.
func rounded(_ value: Double, _ places: Int = 1) -> Double {
    let scale = pow10(places)
    return (value * scale).rounded() / scale
}

private func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { acc, _ in acc * 10 } }
