/// The last `capacity` samples of a figure (latencies, lateness), overwriting the oldest,
/// with their mean and percentiles: the window `stats` and the timer's figures report.
package struct RecentSamples: Sendable {
    private var samples: [Double]
    private var next = 0
    private var filled = 0

    /// An empty window of `capacity` samples.
    package init(capacity: Int = 1024) {
        samples = [Double](repeating: 0, count: max(1, capacity))
    }

    /// Adds `value`, dropping the oldest once full.
    package mutating func add(_ value: Double) {
        samples[next] = value
        next = (next + 1) % samples.count
        filled = min(filled + 1, samples.count)
    }

    /// The samples held (in no particular order once the window has wrapped).
    package var values: ArraySlice<Double> { samples.prefix(filled) }

    /// Summary of `values`: mean and the given percentiles (0...1), 0 when empty.
    package static func summary(_ values: some Collection<Double>, percentiles: [Double]) -> (mean: Double, percentiles: [Double]) {
        guard !values.isEmpty else { return (0, percentiles.map { _ in 0 }) }
        let sorted = values.sorted()
        let mean = sorted.reduce(0, +) / Double(sorted.count)
        return (mean, percentiles.map { sorted[min(sorted.count - 1, Int(Double(sorted.count) * $0))] })
    }
}
