import SkynetTree
import Foundation
import Logging
import Synchronization
import Testing
@testable import SkynetCoordinator

@Suite("Storage: WAL, snapshots, recovery, lock", .timeLimit(.minutes(2)))
struct StorageTests {
    static let logger: Logger = {
        var logger = Logger(label: "test.storage")
        logger.logLevel = .critical
        return logger
    }()

    /// Writes `payloads` through a real WAL (group commit, fsync) and waits until all are durable.
    static func writeLog(_ directory: String, _ payloads: [[UInt8]]) async throws {
        let dir = try DataDirectory(path: directory)
        let recovered = try WALRecovery.recover(dir, logger: logger)
        let log = try WriteAheadLog(directory: dir, lastIndex: recovered.lastIndex, segmentName: recovered.segmentName, logger: logger)
        let (durable, continuation) = AsyncStream.makeStream(of: Int.self)
        log.start(onDurable: { continuation.yield($0.count) }, onFailure: { _, _ in continuation.finish() })
        for payload in payloads { try log.append(payload) }
        var count = 0
        for await batch in durable {
            count += batch
            if count == payloads.count { break }
        }
        #expect(count == payloads.count)
        log.close()
    }

    static func payloads(_ n: Int) -> [[UInt8]] {
        (0..<n).map { i in (0..<(3 + i * 7 % 50)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i) } }
    }

    /// Appends `payloads` to `log` and waits until all are durable (the log must be started
    /// with `durable`'s continuation).
    static func appendAll(_ log: WriteAheadLog, _ payloads: [[UInt8]], _ durable: inout AsyncStream<Int>.Iterator) async {
        for payload in payloads { _ = try? log.append(payload) }
        var count = 0
        while count < payloads.count, let batch = await durable.next() { count += batch }
        #expect(count == payloads.count)
    }

    @Test("a log entry framed in place is the record of its payload, and reads back")
    func logEntryRecord() {
        for data in Self.payloads(20) + [[]] {
            let index = UInt64(data.count) &* 0x0102_0304_0506
            var direct: [UInt8] = [0xAA]
            StorageRecord.appendLogEntry(index: index, data: data, to: &direct)
            var framed: [UInt8] = [0xAA]
            StorageRecord.append((0..<8).map { UInt8(truncatingIfNeeded: index >> (8 * UInt64($0))) } + data, to: &framed)
            #expect(direct == framed)
            var read: [LogEntry] = []
            let result = direct.withUnsafeBytes { raw in
                StorageRecord.scan(UnsafeRawBufferPointer(rebasing: raw[1...])) { payload, _ in read.append(LogEntry(walPayload: payload)!) }
            }
            #expect(result == .clean)
            #expect(read == [LogEntry(index: index, data: data)])
        }
    }

    @Test("the log writes zeros ahead of its records, keeps them out of recovery, and trims them at close and at rotation")
    func zerosAhead() async throws {
        let source = TemporaryDirectory()
        defer { source.remove() }
        let dir = try DataDirectory(path: source.path)
        let payloads = Self.payloads(300)
        // A segment limit small enough that the log rotates twice.
        let log = try WriteAheadLog(directory: dir, lastIndex: 0, segmentName: nil, segmentLimit: 4_000, logger: Self.logger)
        let (durable, continuation) = AsyncStream.makeStream(of: Int.self)
        log.start(onDurable: { continuation.yield($0.count) }, onFailure: { _, _ in continuation.finish() })
        var iterator = durable.makeAsyncIterator()
        for start in stride(from: 0, to: payloads.count, by: 50) {
            await Self.appendAll(log, Array(payloads[start..<(start + 50)]), &iterator)
        }
        let segments = try dir.segments()
        #expect(segments.count >= 3)
        let records = { (name: String) -> Int in
            let bytes = try PosixFile.readAll(dir.file(name))
            return bytes.withUnsafeBytes { raw in
                var end = 0
                _ = StorageRecord.scan(raw) { payload, offset in end = offset + StorageRecord.headerSize + payload.count }
                return end
            }
        }
        for segment in segments.dropLast() {
            #expect(try PosixFile.size(dir.file(segment.name)) == records(segment.name), "a rotated segment ends at its last record")
        }
        let last = segments.last!.name
        #expect(try PosixFile.size(dir.file(last)) >= records(last) + 1, "the live segment has zeros written ahead")
        // Recovery while zeros follow (a stop without close): every entry, the zeros cut.
        let copy = TemporaryDirectory()
        defer { copy.remove() }
        for segment in segments { try FileManager.default.copyItem(atPath: dir.file(segment.name), toPath: copy.path + "/" + segment.name) }
        let recovered = try WALRecovery.recover(try DataDirectory(path: copy.path), logger: Self.logger)
        #expect(recovered.entries.map(\.data) == payloads)
        #expect(try PosixFile.size(copy.path + "/" + last) == records(last))
        log.close()
        #expect(try PosixFile.size(dir.file(last)) == records(last), "close trims the zeros")
        #expect(try WALRecovery.recover(dir, logger: Self.logger).truncatedBytes == 0)
    }

    @Test("the durable handler is called at the same stack depth at every flush (no wrapper grows per call)")
    func handlerDepth() async throws {
        let source = TemporaryDirectory()
        defer { source.remove() }
        let dir = try DataDirectory(path: source.path)
        let log = try WriteAheadLog(directory: dir, lastIndex: 0, segmentName: nil, logger: Self.logger)
        let depths = Mutex<[Int]>([])
        let (durable, continuation) = AsyncStream.makeStream(of: Void.self)
        log.start(onDurable: { _ in
            let depth = Thread.callStackSymbols.count
            depths.withLock { $0.append(depth) }
            continuation.yield()
        }, onFailure: { _, _ in continuation.finish() })
        var flushed = durable.makeAsyncIterator()
        for i in 0..<40 {
            try log.append([UInt8(i)])
            _ = await flushed.next()   // one flush per append
        }
        log.close()
        let seen = depths.withLock { $0 }
        #expect(seen.count == 40)
        #expect(Set(seen).count == 1, "depths: \(seen)")
    }

    @Test("cutting the WAL at every byte inside its last record recovers exactly the records before it")
    func tornTail() async throws {
        let source = TemporaryDirectory()
        defer { source.remove() }
        let payloads = Self.payloads(12)
        try await Self.writeLog(source.path, payloads)
        let segment = source.file(DataDirectory.segmentName(1))
        let bytes = try PosixFile.readAll(segment)
        let lastRecord = StorageRecord.headerSize + 8 + payloads.last!.count
        let lastStart = bytes.count - lastRecord
        for cut in lastStart...bytes.count {
            let copy = TemporaryDirectory("skynet-cut")
            defer { copy.remove() }
            try Data(bytes[0..<cut]).write(to: URL(fileURLWithPath: copy.file(DataDirectory.segmentName(1))))
            let dir = try DataDirectory(path: copy.path)
            let recovered = try WALRecovery.recover(dir, logger: Self.logger)
            let expected = cut == bytes.count ? payloads.count : payloads.count - 1
            #expect(recovered.entries.map(\.data) == Array(payloads.prefix(expected)), "cut at \(cut)")
            #expect(recovered.lastIndex == UInt64(expected), "cut at \(cut)")
            #expect(try PosixFile.size(copy.file(DataDirectory.segmentName(1))) == (cut == bytes.count ? bytes.count : lastStart), "the torn tail is cut off")
        }
    }

    @Test("after a torn tail is cut, the log continues from the last good entry")
    func continueAfterTornTail() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await Self.writeLog(dir.path, Self.payloads(5))
        let segment = dir.file(DataDirectory.segmentName(1))
        let size = try PosixFile.size(segment)
        try PosixFile.truncate(segment, to: size - 3)
        try await Self.writeLog(dir.path, [[42, 42]])
        let recovered = try WALRecovery.recover(try DataDirectory(path: dir.path), logger: Self.logger)
        #expect(recovered.entries.map(\.index) == [1, 2, 3, 4, 5])
        #expect(recovered.entries.last?.data == [42, 42])
    }

    @Test("zeros after the last record (a file extended but not written) are a torn tail")
    func zeroFill() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try await Self.writeLog(dir.path, Self.payloads(4))
        let handle = try #require(FileHandle(forWritingAtPath: dir.file(DataDirectory.segmentName(1))))
        handle.seekToEndOfFile()
        handle.write(Data(count: 100))
        try handle.close()
        let recovered = try WALRecovery.recover(try DataDirectory(path: dir.path), logger: Self.logger)
        #expect(recovered.entries.count == 4)
        #expect(recovered.truncatedBytes == 100)
    }

    @Test("a corrupted record in the middle refuses to start, naming the file and offset")
    func corruptMiddle() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let payloads = Self.payloads(10)
        try await Self.writeLog(dir.path, payloads)
        let segment = dir.file(DataDirectory.segmentName(1))
        var bytes = try PosixFile.readAll(segment)
        let offset = payloads.prefix(4).reduce(0) { $0 + StorageRecord.headerSize + 8 + $1.count }
        bytes[offset + StorageRecord.headerSize + 9] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: segment))
        #expect(throws: StorageError.corrupt(path: segment, offset: offset, reason: "checksum mismatch in a \(8 + payloads[4].count)-byte record")) {
            try WALRecovery.recover(try DataDirectory(path: dir.path), logger: Self.logger)
        }
        #expect(try PosixFile.size(segment) == bytes.count, "nothing is cut when the damage is not at the tail")
    }

    @Test("a second process (or open) cannot take a locked data directory")
    func lock() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let first = try DataDirectory(path: dir.path)
        #expect(throws: StorageError.locked(directory: dir.path, holder: "pid \(getpid())")) { try DataDirectory(path: dir.path) }
        _ = first
    }

    @Test("a snapshot round-trips the state and the watch history; a damaged one is refused")
    func snapshot() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var machine = CoordinatorStateMachine()
        var history: [TreeEvent] = []
        _ = machine.apply(.openSession(ttlMilliseconds: 2000), at: 1)
        for i in 0..<300 {
            let op = TreeOperation.set(path: try TreePath("/d\(i % 7)/k\(i)"), value: Array("v\(i)".utf8), ifRev: -1, session: i % 3 == 0 ? 1 : nil)
            let (_, events) = machine.apply(.txn(compares: [], success: [op], failure: []), at: UInt64(i + 2))
            history += events
        }
        let directory = try DataDirectory(path: dir.path)
        try SnapshotFile.write(to: directory, index: machine.appliedIndex) { sink in
            try CoordinatorSnapshot.write(machine, history: history, into: &sink)
        }
        let path = dir.file(DataDirectory.snapshotName(machine.appliedIndex))
        let (restored, restoredHistory) = try CoordinatorSnapshot.read(path)
        #expect(restored.appliedIndex == machine.appliedIndex)
        #expect(restored.sessions == machine.sessions)
        #expect(restored.nextSession == machine.nextSession)
        #expect(restored.tree.revision == machine.tree.revision)
        #expect(restored.tree.walk(try TreeGlob("/**")) == machine.tree.walk(try TreeGlob("/**")))
        #expect(restored.tree.files(ofSession: 1) == machine.tree.files(ofSession: 1))
        #expect(restoredHistory == history)
        let size = try PosixFile.size(path)
        try PosixFile.truncate(path, to: size - 5)
        #expect(throws: StorageError.self) { try CoordinatorSnapshot.read(path) }
    }

    @Test("a node recovers snapshot plus log: every acknowledged write is back, sessions too")
    func nodeRecovery() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let configuration = CoordinatorNodeConfiguration(dataDirectory: dir.path, snapshotEvery: 7)
        var node: CoordinatorNode? = try CoordinatorNode.open(configuration: configuration, logger: Self.logger)
        guard case .sessionOpened(let session, _) = try await node!.write(.openSession(ttlMilliseconds: 60_000)) else {
            Issue.record("no session")
            return
        }
        for i in 0..<40 {
            _ = try await node!.write(.txn(compares: [], success: [.set(path: try TreePath("/k/\(i)"), value: [UInt8(i)], ifRev: -1, session: i == 0 ? session : nil)], failure: []))
        }
        let before = node!.read { $0.tree.walk(try! TreeGlob("/**")) }
        node!.stop()
        node = nil
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(names.contains { $0.hasSuffix(".snap") }, "a snapshot was taken, so recovery reads snapshot and log")
        let reopened = try CoordinatorNode.open(configuration: configuration, logger: Self.logger)
        defer { reopened.stop() }
        #expect(reopened.read { $0.tree.walk(try! TreeGlob("/**")) } == before)
        #expect(reopened.read { $0.sessions[session] } == 60_000)
        #expect(reopened.status().revision == 40)
        #expect(throws: StorageError.self, "the running node holds the directory's lock") { try DataDirectory(path: dir.path) }
    }
}
