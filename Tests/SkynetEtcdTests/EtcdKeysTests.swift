import Foundation
import SkynetTestSupport
import SkynetTree
import Testing

@testable import SkynetEtcd

@Suite("How tree paths map onto etcd keys")
struct EtcdKeysTests {
    let keys = EtcdKeys(namespace: "sky")

    @Test("a path's key and back")
    func roundTrip() throws {
        let path = try TreePath("/skynet/services/echo-1/v1.2")
        #expect(String(decoding: keys.key(path), as: UTF8.self) == "sky!skynet!services!echo-1!v1.2")
        #expect(keys.path(keys.key(path)) == path)
        #expect(keys.path(Data("other!x".utf8)) == nil)
    }

    @Test("byte order of keys is the tree's order, segment by segment (seeded)", arguments: [1, 2, 3] as [UInt64])
    func order(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let names = ["a", "a-b", "a.c", "ab", "b", "A", "0", "a-"]
        var paths: Set<TreePath> = []
        while paths.count < 200 {
            let depth = Int.random(in: 1...4, using: &random)
            paths.insert(try TreePath("/" + (0..<depth).map { _ in names.randomElement(using: &random)! }.joined(separator: "/")))
        }
        let bySegments = paths.sorted { a, b in a.segments.lexicographicallyPrecedes(b.segments) }
        let byKeys = paths.sorted { keys.key($0).lexicographicallyPrecedes(keys.key($1)) }
        #expect(byKeys == bySegments, "seed \(seed)")
    }

    @Test("a directory's range holds exactly the files below it")
    func ranges() throws {
        let directory = try TreePath("/a")
        let range = keys.below(directory)
        func inside(_ text: String) throws -> Bool {
            let key = keys.key(try TreePath(text))
            return !key.lexicographicallyPrecedes(range.start) && key.lexicographicallyPrecedes(range.end)
        }
        #expect(try inside("/a/x"))
        #expect(try inside("/a/x/y"))
        #expect(try !inside("/a"))
        #expect(try !inside("/a-b"))
        #expect(try !inside("/a.c/x"))
        #expect(try !inside("/ab"))
        let all = keys.below(.root)
        #expect(String(decoding: all.start, as: UTF8.self) == "sky!")
        #expect(String(decoding: all.end, as: UTF8.self) == "sky\"")
    }
}
