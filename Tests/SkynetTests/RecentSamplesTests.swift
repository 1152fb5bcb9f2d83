import Skynet
import Testing

@Suite("Recent samples")
struct RecentSamplesTests {
    @Test("the window keeps the last samples only; mean and percentiles over them; zero when empty")
    func window() {
        var window = RecentSamples(capacity: 4)
        #expect(RecentSamples.summary(window.values, percentiles: [0.5]).mean == 0)
        for value in [100.0, 1, 2, 3, 4] { window.add(value) }   // 100 falls out
        #expect(window.values.sorted() == [1, 2, 3, 4])
        let summary = RecentSamples.summary(window.values, percentiles: [0.5, 0.99])
        #expect(summary.mean == 2.5)
        #expect(summary.percentiles == [3, 4])
    }
}
