import SkynetTestSupport
import Testing
@testable import SkynetCoordinator

@Suite("Sorted directory names")
struct SortedNamesTests {
    @Test("randomized: inserts and removals across chunk splits agree with a sorted set; reading from a bound starts there", arguments: 0..<8)
    func agreesWithReference(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var names = SortedNames()
        var reference = Set<String>()
        for _ in 0..<6_000 {
            let name = "n\(Int.random(in: 0..<3_000, using: &random))"
            if Bool.random(using: &random) || reference.count < 100 {
                #expect(names.insert(name) == reference.insert(name).inserted)
            } else {
                #expect(names.remove(name) == (reference.remove(name) != nil))
            }
        }
        let sorted = reference.sorted()
        #expect(Array(names) == sorted)
        #expect(names.count == reference.count)
        #expect(reference.count > SortedNames.maxChunk * 2, "enough names for several chunks")
        for _ in 0..<50 {
            let bound = "n\(Int.random(in: 0..<3_000, using: &random))"
            #expect(Array(names.names(from: Substring(bound))) == sorted.filter { $0 >= bound })
            #expect(names.contains(bound) == reference.contains(bound))
        }
        #expect(Array(names.names(from: "zzz")).isEmpty)
        #expect(Array(names.names(from: nil)) == sorted)
    }

    @Test("a copy keeps its names while the original changes")
    func copies() {
        var names = SortedNames()
        for i in 0..<2_000 { names.insert("k\(i)") }
        let copy = names
        names.remove("k1")
        names.insert("a")
        #expect(copy.count == 2_000 && copy.contains("k1") && !copy.contains("a"))
        #expect(names.count == 2_000 && !names.contains("k1") && names.contains("a"))
        #expect(Array(names).first == "a")
    }
}
