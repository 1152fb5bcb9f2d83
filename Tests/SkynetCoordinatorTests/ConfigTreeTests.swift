import SkynetTree
import Testing
import SkynetCoordinator

@Suite("Config tree")
struct ConfigTreeTests {
    private func p(_ s: String) -> TreePath { try! TreePath(s) }
    private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test("set and get, with revisions, versions and stat")
    func setGet() throws {
        var tree = ConfigTree()
        let (rev1, events1) = try tree.set(p("/a/b"), bytes("one"))
        #expect(rev1 == 1)
        #expect(events1 == [TreeEvent(rev: 1, path: p("/a/b"), kind: .put, value: bytes("one"))])
        let (rev2, _) = try tree.set(p("/a/b"), bytes("two"), ifRev: 1)
        #expect(rev2 == 2)
        let file = try #require(try tree.get(p("/a/b")))
        #expect(file.value == bytes("two"))
        #expect(file.stat == FileStat(createRev: 1, modRev: 2, version: 2, session: nil, size: 3))
        #expect(try tree.get(p("/a/b"), atRev: 1)?.value == bytes("one"))
        #expect(tree.stat(p("/a")) == .directory(children: 1))
        #expect(try tree.getdir(p("/a")) == ["b"])
        #expect(try tree.getdir(.root) == ["a"])
    }

    @Test("compare-and-set: 0 must not exist, n must match, -1 always")
    func compareAndSet() throws {
        var tree = ConfigTree()
        _ = try tree.set(p("/k"), bytes("v"), ifRev: 0)
        #expect(throws: TreeError.revMismatch(path: "/k", expected: 0, current: 1)) { try tree.set(p("/k"), bytes("x"), ifRev: 0) }
        #expect(throws: TreeError.revMismatch(path: "/k", expected: 7, current: 1)) { try tree.set(p("/k"), bytes("x"), ifRev: 7) }
        #expect(throws: TreeError.revMismatch(path: "/k", expected: 7, current: 1)) { try tree.del(p("/k"), ifRev: 7) }
        #expect(tree.revision == 1)
        _ = try tree.del(p("/k"), ifRev: 1)
        #expect(try tree.get(p("/k")) == nil)
        #expect(throws: TreeError.notFound(path: "/k")) { try tree.del(p("/k")) }
        #expect(try tree.get(p("/k"), atRev: 1)?.value == bytes("v"))
    }

    @Test("files and directories do not overlap")
    func conflicts() throws {
        var tree = ConfigTree()
        _ = try tree.set(p("/a/b"), bytes("x"))
        #expect(throws: TreeError.badPath(path: "/a", rule: "/a is a directory")) { try tree.set(p("/a"), bytes("y")) }
        #expect(throws: TreeError.badPath(path: "/a/b/c", rule: "/a/b is a file")) { try tree.set(p("/a/b/c"), bytes("y")) }
        _ = try tree.del(p("/a/b"))
        #expect(tree.stat(p("/a")) == nil)   // directories exist only while they have children
        _ = try tree.set(p("/a"), bytes("now a file"))
        #expect(tree.stat(p("/a"))?.isFile == true)
    }

    @Test("values over the limit are refused")
    func tooLarge() {
        var tree = ConfigTree(limits: .init(maxValueSize: 4))
        #expect(throws: TreeError.tooLarge(size: 5, limit: 4)) { try tree.set(p("/k"), bytes("12345")) }
        #expect(tree.revision == 0)
    }

    @Test("a transaction is one revision; a failing operation leaves nothing behind")
    func transactions() throws {
        var tree = ConfigTree()
        _ = try tree.set(p("/x"), bytes("1"))
        let (ok, events) = try tree.txn(
            [TxnCompare(p("/x"), .value(bytes("1")))],
            success: [.set(path: p("/y"), value: bytes("2"), ifRev: 0, session: nil), .del(path: p("/x"), ifRev: -1), .get(path: p("/y"))],
            failure: [])
        #expect(ok.succeeded)
        #expect(ok.revision == 2)
        #expect(events.map(\.rev) == [2, 2])
        #expect(ok.results.last == .read(try tree.get(p("/y"))))
        let before = tree.revision
        #expect(throws: TreeError.notFound(path: "/x")) {
            try tree.txn([], success: [.set(path: p("/z"), value: bytes("3"), ifRev: -1, session: nil), .del(path: p("/x"), ifRev: -1)], failure: [])
        }
        #expect(tree.revision == before)
        #expect(try tree.get(p("/z")) == nil)
        #expect(tree.stat(p("/z")) == nil)
        let (failed, _) = try tree.txn([TxnCompare(p("/y"), .version(5), .greater)], success: [], failure: [.get(path: p("/y"))])
        #expect(!failed.succeeded)
        #expect(failed.revision == before)
    }

    @Test("deleting a session removes all its files in one revision")
    func sessions() throws {
        var tree = ConfigTree()
        _ = try tree.set(p("/s/a"), bytes("a"), session: 7)
        _ = try tree.set(p("/s/b"), bytes("b"), session: 7)
        _ = try tree.set(p("/s/c"), bytes("c"), session: 8)
        _ = try tree.set(p("/s/b"), bytes("b2"))   // rewritten without a session: no longer ephemeral
        #expect(tree.files(ofSession: 7) == [p("/s/a")])
        let (rev, events) = tree.deleteSession(7)
        #expect(events == [TreeEvent(rev: rev, path: p("/s/a"), kind: .delete, value: [])])
        #expect(tree.deleteSession(7).events.isEmpty)
        #expect(try tree.getdir(p("/s")) == ["b", "c"])
    }

    @Test("reads at past revisions, compaction and the future")
    func history() throws {
        var tree = ConfigTree()
        for i in 1...10 { _ = try tree.set(p("/k"), bytes("\(i)")) }
        #expect(try tree.get(p("/k"), atRev: 4)?.value == bytes("4"))
        tree.compact(keepingFrom: 6)
        #expect(tree.oldestRevision == 6)
        #expect(throws: TreeError.compacted(requested: 5, oldest: 6)) { try tree.get(p("/k"), atRev: 5) }
        #expect(try tree.get(p("/k"), atRev: 6)?.value == bytes("6"))
        #expect(throws: TreeError.futureRevision(requested: 11, current: 10)) { try tree.get(p("/k"), atRev: 11) }
    }

    @Test("walk prunes by the glob and returns sorted files")
    func walk() throws {
        var tree = ConfigTree()
        for path in ["/svc/echo/1/us/a", "/svc/echo/2/eu/b", "/svc/time/1/us/c", "/other/x"] {
            _ = try tree.set(p(path), bytes(path))
        }
        #expect(tree.walk(try TreeGlob("/svc/*/1/**")).map(\.path.string) == ["/svc/echo/1/us/a", "/svc/time/1/us/c"])
        #expect(tree.walk(try TreeGlob("/**")).count == 4)
        #expect(tree.walk(try TreeGlob("/other/x")).map(\.path.string) == ["/other/x"])
    }
}

extension TreeNodeStat {
    var isFile: Bool {
        if case .file = self { return true }
        return false
    }
}
