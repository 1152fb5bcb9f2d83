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

    @Test("bad globs are refused")
    func badGlobs() {
        #expect(throws: TreeError.badPath(path: "/a/b**", rule: "** must be a whole segment")) { try TreeGlob("/a/b**") }
        #expect(throws: TreeError.badPath(path: "a/*", rule: "must start with /")) { try TreeGlob("a/*") }
    }
}
