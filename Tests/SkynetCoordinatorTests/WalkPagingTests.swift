import SkynetTree
import Testing
import SkynetCoordinator
import SkynetTestSupport

@Suite("Walk pages")
struct WalkPagingTests {
    static let names = ["a", "a-b", "a.c", "a_d", "b", "B", "z9", "0"]

    /// A random tree whose names include characters that sort below and above `/`.
    static func tree(seed: UInt64) throws -> ConfigTree {
        var rng = SeededGenerator(seed: seed)
        var tree = ConfigTree()
        for i in 0..<300 {
            let depth = Int.random(in: 1...3, using: &rng)
            let path = "/" + (0..<depth).map { _ in names.randomElement(using: &rng)! }.joined(separator: "/") + "/f\(i % 7)"
            _ = try? tree.set(try TreePath(path), [UInt8](repeating: 1, count: Int.random(in: 0...40, using: &rng)))
        }
        return tree
    }

    static func segmentOrder(_ a: TreePath, _ b: TreePath) -> Bool {
        a.segments.lexicographicallyPrecedes(b.segments)
    }

    @Test("paging with any page size yields exactly the full walk, in segment order", arguments: 0..<10)
    func pagesCoverTheWalk(seed: UInt64) throws {
        let tree = try Self.tree(seed: seed)
        for pattern in ["/**", "/a/**", "/*/b/*", "/a-b/**/f1", "/?/**"] {
            let glob = try TreeGlob(pattern)
            let full = tree.walk(glob)
            #expect(full.map(\.path) == full.map(\.path).sorted(by: Self.segmentOrder), "\(pattern): segment order")
            for pageBytes in [1, 60, 500, 100_000] {
                var paged: [TreeFile] = []
                var after: TreePath?
                var pages = 0
                while pages < 10_000 {
                    let (files, more) = tree.walk(glob, after: after, maxBytes: pageBytes)
                    paged += files
                    pages += 1
                    let bytes = files.reduce(0) { $0 + $1.pageBytes }
                    #expect(files.count <= 1 || bytes <= pageBytes, "a page of \(files.count) files holds \(bytes) bytes, over \(pageBytes)")
                    guard more, let last = files.last else { break }
                    after = last.path
                }
                #expect(paged == full, "seed \(seed), \(pattern), pages of \(pageBytes) bytes")
            }
        }
    }

    @Test("files deleted or added between pages: nothing repeats, nothing that stayed is missed")
    func changesBetweenPages() throws {
        var tree = try Self.tree(seed: 42)
        let glob = try TreeGlob("/**")
        let (first, more) = tree.walk(glob, after: nil, maxBytes: 200)
        #expect(more)
        let last = try #require(first.last)
        _ = try tree.del(last.path)   // the page's last path disappears
        let before = Set(tree.walk(glob).map(\.path))
        var rest: [TreeFile] = []
        var after: TreePath? = last.path
        for _ in 0..<10_000 {
            let (files, more) = tree.walk(glob, after: after, maxBytes: 200)
            rest += files
            guard more, let next = files.last else { break }
            after = next.path
        }
        let seen = first.map(\.path) + rest.map(\.path)
        #expect(Set(seen).count == seen.count, "no file twice")
        #expect(before.isSubset(of: Set(seen)), "every file that stayed was seen")
    }
}
