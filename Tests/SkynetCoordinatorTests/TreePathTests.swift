import SkynetTree
import SkynetTestSupport
import Testing
import SkynetCoordinator

@Suite("Tree paths and globs")
struct TreePathTests {
    @Test("valid paths", arguments: ["/", "/a", "/skynet/services/echo/1/us/host-a/9001", "/a.b_c-D/0"])
    func valid(path: String) throws {
        #expect(try TreePath(path).string == path)
    }

    @Test("each rule is named", arguments: [
        ("a/b", "must start with /"),
        ("/a/", "must not end with /"),
        ("/a//b", "empty segment"),
        ("/a/../b", "segments . and .. are not allowed"),
        ("/a/b c", "segments may only use A-Z a-z 0-9 . _ - (found ' ')"),
        ("/é", "segments may only use A-Z a-z 0-9 . _ - (found byte 0xc3)"),
    ])
    func invalid(path: String, rule: String) {
        #expect(throws: TreeError.badPath(path: path, rule: rule)) { try TreePath(path) }
    }

    @Test("the length limit")
    func length() throws {
        let long = "/" + String(repeating: "a", count: 20)
        #expect(throws: TreeError.badPath(path: long, rule: "longer than 10 bytes")) { try TreePath(long, limits: .init(maxPathLength: 10)) }
    }

    @Test("parent and name")
    func parentAndName() throws {
        let path = try TreePath("/a/b/c")
        #expect(path.parent == (try TreePath("/a/b")))
        #expect(path.name == "c")
        #expect((try TreePath("/a")).parent == .root)
        #expect(TreePath.root.parent == nil)
    }

    @Test("globs: * one segment, ? one character, ** any depth", arguments: [
        ("/a/*", "/a/b", true), ("/a/*", "/a/b/c", false), ("/a/*", "/a", false),
        ("/a/b?", "/a/bc", true), ("/a/b?", "/a/b", false),
        ("/a/**", "/a", true), ("/a/**", "/a/b/c/d", true), ("/a/**", "/b", false),
        ("/**/c", "/c", true), ("/**/c", "/a/b/c", true), ("/**/c", "/a/b/cd", false),
        ("/a/*x*/z", "/a/fox-y/z", true), ("/a/*x*/z", "/a/foo/z", false),
        ("/skynet/services/*/1/**", "/skynet/services/echo/1/us/h/9001", true),
    ])
    func globs(pattern: String, path: String, matches: Bool) throws {
        #expect(try TreeGlob(pattern).matches(TreePath(path)) == matches)
    }

    @Test("bad globs are refused, and so is a pattern with more wildcard segments than the cap")
    func badGlobs() throws {
        #expect(throws: TreeError.badPath(path: "/a/b**", rule: "** must be a whole segment")) { try TreeGlob("/a/b**") }
        #expect(throws: TreeError.badPath(path: "a/*", rule: "must start with /")) { try TreeGlob("a/*") }
        let cap = TreeGlob.maxWildcardSegments
        _ = try TreeGlob("/" + Array(repeating: "*", count: cap).joined(separator: "/"))
        let over = "/" + Array(repeating: "*", count: cap + 1).joined(separator: "/")
        #expect(throws: TreeError.badPath(path: over, rule: "at most \(cap) segments may hold wildcards, found \(cap + 1)")) { try TreeGlob(over) }
        // Repeated ** collapse into one, so they do not count against the cap.
        #expect(try TreeGlob("/" + Array(repeating: "**", count: 200).joined(separator: "/") + "/x").matches(TreePath("/a/b/x")))
    }

    @Test("a glob bomb matches in linear time: ** segments that would backtrack exponentially")
    func globBomb() throws {
        // 16 × "**/a" then "b", against 200 segments of "a": a backtracking matcher tries
        // about C(200, 16) splits (more than 10^23); this one does at most 33 × 200 steps.
        let pattern = try TreeGlob("/" + Array(repeating: "**/a", count: 16).joined(separator: "/") + "/b")
        let path = try TreePath("/" + Array(repeating: "a", count: 200).joined(separator: "/"), limits: .init(maxPathLength: 4096))
        #expect(!pattern.matches(path))
        #expect(pattern.matches(try TreePath("/" + Array(repeating: "a", count: 199).joined(separator: "/") + "/b", limits: .init(maxPathLength: 4096))))
        let starry = try TreeGlob("/*a*a*a*a*a*a*a*a*a*a*b")
        #expect(!starry.matches(try TreePath("/" + String(repeating: "a", count: 500))))
    }

    @Test("the linear matcher agrees with a plain recursive one on 20,000 random patterns and paths")
    func globsAgainstReference() throws {
        var random = SeededGenerator(seed: 0x61_0B)
        let patternSegments = ["a", "b", "*", "?", "a*", "*b", "**", "**"]
        let pathSegments = ["a", "b", "ab"]
        var matched = 0
        for round in 0..<20_000 {
            let pattern = (0..<Int.random(in: 0...5, using: &random)).map { _ in patternSegments.randomElement(using: &random)! }
            let path = (0..<Int.random(in: 0...5, using: &random)).map { _ in pathSegments.randomElement(using: &random)! }
            let glob = try TreeGlob("/" + pattern.joined(separator: "/"))
            let expected = Reference.match(pattern[...], path[...])
            #expect(glob.matches(try TreePath("/" + path.joined(separator: "/"))) == expected,
                    "seed 0x610B round \(round): /\(pattern.joined(separator: "/")) against /\(path.joined(separator: "/"))")
            if expected { matched += 1 }
        }
        #expect(matched > 3_000 && matched < 17_000, "both outcomes are well represented: \(matched) matches")
    }

    /// The definition of a match, written as plainly as possible (exponential, fine for short inputs).
    private enum Reference {
        static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<String>) -> Bool {
            guard let first = pattern.first else { return path.isEmpty }
            if first == "**" {
                return (0...path.count).contains { match(pattern.dropFirst(), path.dropFirst($0)) }
            }
            guard let segment = path.first else { return false }
            return segmentMatch(Array(first)[...], Array(segment)[...]) && match(pattern.dropFirst(), path.dropFirst())
        }

        static func segmentMatch(_ pattern: ArraySlice<Character>, _ text: ArraySlice<Character>) -> Bool {
            guard let first = pattern.first else { return text.isEmpty }
            if first == "*" { return (0...text.count).contains { segmentMatch(pattern.dropFirst(), text.dropFirst($0)) } }
            guard let char = text.first, first == "?" || first == char else { return false }
            return segmentMatch(pattern.dropFirst(), text.dropFirst())
        }
    }

    @Test("ancestors: the directories above a path, nearest first, without the root")
    func ancestors() throws {
        #expect(try TreePath("/a/b/c").ancestors.map(\.string) == ["/a/b", "/a"])
        #expect(try TreePath("/a").ancestors.isEmpty)
        #expect(TreePath.root.ancestors.isEmpty)
    }
}
