import SkynetTestSupport
import SkynetTree
import Testing

@testable import SkynetEtcd

@Suite("Which concurrent writes share one etcd Txn")
struct EtcdBatcherTests {
    static func entry(_ id: UInt64, _ paths: String..., bytes: Int = 8) -> EtcdBatcher.Entry {
        .init(id: id, paths: paths.map { try! TreePath($0) }, weight: 3, bytes: bytes)
    }

    @Test("a lone write goes at once; with every slot busy writes wait, and a freed slot takes them together")
    func groupCommit() {
        var batcher = EtcdBatcher(limits: .init(maxInFlight: 2, maxEntries: 10))
        #expect(batcher.submit(Self.entry(0, "/a")) == [0])
        #expect(batcher.submit(Self.entry(1, "/b")) == [1])
        #expect(batcher.submit(Self.entry(2, "/c")) == nil)
        #expect(batcher.submit(Self.entry(3, "/d")) == nil)
        #expect(batcher.waiting == 2 && batcher.inFlight == 2)
        #expect(batcher.finished() == [2, 3])
        #expect(batcher.finished() == nil)
        #expect(batcher.finished() == nil)
        #expect(batcher.inFlight == 0)
        #expect(batcher.submit(Self.entry(4, "/e")) == [4])
    }

    @Test("related paths never share a batch and keep their order; siblings do share")
    func related() {
        var batcher = EtcdBatcher(limits: .init(maxInFlight: 1, maxEntries: 10))
        #expect(batcher.submit(Self.entry(0, "/busy")) == [0])
        for (id, path) in [(1, "/a/x"), (2, "/a/y"), (3, "/a/x"), (4, "/a"), (5, "/a/x/deeper"), (6, "/b"), (7, "/a/x")] as [(UInt64, String)] {
            #expect(batcher.submit(Self.entry(id, path)) == nil)
        }
        // 3 repeats 1's path; 4 is above both; 5 below 1; 7 repeats 1 (and waits behind 3).
        #expect(batcher.finished() == [1, 2, 6])
        #expect(batcher.finished() == [3])
        #expect(batcher.finished() == [4])
        #expect(batcher.finished() == [5])
        #expect(batcher.finished() == [7])
        #expect(batcher.finished() == nil)
    }

    @Test("a write's compares count as its paths; the root touches everything")
    func comparesAndRoot() {
        var batcher = EtcdBatcher(limits: .init(maxInFlight: 1, maxEntries: 10))
        #expect(batcher.submit(Self.entry(0, "/busy")) == [0])
        #expect(batcher.submit(Self.entry(1, "/lock", "/data/a")) == nil)
        #expect(batcher.submit(Self.entry(2, "/data/b")) == nil)
        #expect(batcher.submit(Self.entry(3, "/lock", "/data/c")) == nil)
        #expect(batcher.finished() == [1, 2])
        #expect(batcher.submit(Self.entry(4, "/")) == nil)
        #expect(batcher.finished() == [3])
        #expect(batcher.finished() == [4])
    }

    @Test("batches stop at their entry and byte limits; big or heavy writes are not admitted")
    func limits() {
        var batcher = EtcdBatcher(limits: .init(maxInFlight: 1, maxEntries: 3, maxWeight: 10, maxBytes: 100))
        #expect(batcher.limits.admit(weight: 10, bytes: 100))
        #expect(!batcher.limits.admit(weight: 11, bytes: 1))
        #expect(!batcher.limits.admit(weight: 1, bytes: 101))
        #expect(batcher.submit(Self.entry(0, "/busy")) == [0])
        for id in 1...5 as ClosedRange<UInt64> { #expect(batcher.submit(Self.entry(id, "/k\(id)", bytes: id == 3 ? 90 : 10)) == nil) }
        #expect(batcher.finished() == [1, 2], "3's 90 bytes would pass 100")
        #expect(batcher.finished() == [3, 4])
        #expect(batcher.finished() == [5])
    }

    @Test("random arrivals and completions (seeded): each write sent once, no batch holds related writes, related writes in arrival order, slots bounded", arguments: [1, 2, 3, 4, 5] as [UInt64])
    func model(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let limits = EtcdBatcher.Limits(maxInFlight: 3, maxEntries: 6, maxWeight: 32, maxBytes: 64)
        var batcher = EtcdBatcher(limits: limits)
        let names = ["a", "b", "c"]
        var entries: [EtcdBatcher.Entry] = []
        var sentIn: [UInt64: Int] = [:]
        var batches = 0
        var outstanding = 0
        func record(_ batch: [UInt64]?) {
            guard let batch else { return }
            #expect(!batch.isEmpty, "seed \(seed)")
            for id in batch {
                #expect(sentIn[id] == nil, "seed \(seed): \(id) sent twice")
                sentIn[id] = batches
            }
            #expect(batch.map { entries[Int($0)].bytes }.reduce(0, +) <= limits.maxBytes || batch.count == 1, "seed \(seed)")
            #expect(batch.count <= limits.maxEntries, "seed \(seed)")
            batches += 1
            outstanding += 1
        }
        for _ in 0..<600 {
            if outstanding > 0, Int.random(in: 0..<3, using: &random) == 0 {
                outstanding -= 1
                record(batcher.finished())
            } else {
                let id = UInt64(entries.count)
                let depth = Int.random(in: 1...3, using: &random)
                let path = try TreePath("/" + (0..<depth).map { _ in names.randomElement(using: &random)! }.joined(separator: "/"))
                let entry = EtcdBatcher.Entry(id: id, paths: [path], weight: 1, bytes: Int.random(in: 1...40, using: &random))
                entries.append(entry)
                record(batcher.submit(entry))
            }
            #expect(batcher.inFlight <= limits.maxInFlight && batcher.inFlight == outstanding, "seed \(seed)")
        }
        while outstanding > 0 {
            outstanding -= 1
            record(batcher.finished())
        }
        #expect(batcher.waiting == 0 && sentIn.count == entries.count, "seed \(seed): every write was sent")
        func related(_ a: TreePath, _ b: TreePath) -> Bool {
            a == b || a.ancestors.contains(b) || b.ancestors.contains(a)
        }
        for i in entries.indices {
            for j in entries.indices where j > i && related(entries[i].paths[0], entries[j].paths[0]) {
                let (first, second) = (sentIn[UInt64(i)]!, sentIn[UInt64(j)]!)
                #expect(first < second, "seed \(seed): \(entries[i].paths[0]) (write \(i)) and \(entries[j].paths[0]) (write \(j)) in batches \(first), \(second)")
            }
        }
    }
}
