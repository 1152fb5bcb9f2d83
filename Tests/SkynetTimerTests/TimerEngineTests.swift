import Foundation
import MessagePack
import SkynetTestSupport
import Testing

@testable import SkynetTimer

@Suite("Timer engine core (manual clock)")
struct TimerEngineTests {
    private let hook = TimerCallback.http(method: "POST", uri: "http://127.0.0.1:1/hook")

    private func record(_ n: UInt8, due: Int64, retries: Int = 2) -> TimerRecord {
        TimerRecord(id: UUID(uuid: (n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), due: due, spec: TimerSpec(timeout: due, data: [n], callback: hook, retries: retries))
    }

    @Test("fires at the due time, counts the attempt, and a delivered timer is gone")
    func deliver() {
        var engine = TimerEngine(now: 0)
        engine.add(record(1, due: 100), shard: 3)
        let early = engine.fire(now: 99)
        #expect(early.isEmpty)
        let due = engine.fire(now: 100)
        #expect(due.map(\.record.attempts) == [1])
        #expect(engine.record(due[0].record.id)?.state == .delivering)
        let delivered = engine.delivered(due[0])
        #expect(delivered)
        #expect(engine.count == 0)
        #expect(engine.ids(inShard: 3).isEmpty)
    }

    @Test("a failed attempt is retried after a backoff that doubles, then the timer is kept as failed")
    func retriesThenFailed() throws {
        var engine = TimerEngine(configuration: .init(backoffBase: 1_000, backoffCap: 60_000), now: 0)
        engine.add(record(1, due: 10, retries: 2), shard: 0)
        var now: Int64 = 10
        var waits: [Int64] = []
        for attempt in 1...3 {
            let due = engine.fire(now: now)
            try #require(due.count == 1, "attempt \(attempt)")
            #expect(due[0].record.attempts == attempt)
            let outcome = engine.failed(due[0], error: "HTTP 500", now: now, jitter: 1)
            let after = try #require(outcome)
            if attempt < 3 {
                #expect(after.state == .pending)
                waits.append(after.due - now)
                let early = engine.fire(now: after.due - 1)
                #expect(early.isEmpty)
                now = after.due
            } else {
                #expect(after.state == .failed)
                #expect(after.lastError == "HTTP 500")
            }
        }
        #expect(waits == [1_000, 2_000])
        let later = engine.fire(now: 10_000_000)
        #expect(later.isEmpty)
        #expect(engine.record(record(1, due: 0).id)?.state == .failed)
    }

    @Test("jitter takes the upper half of the wait, and the cap holds")
    func backoff() {
        let engine = TimerEngine(configuration: .init(backoffBase: 1_000, backoffCap: 8_000), now: 0)
        #expect(engine.backoff(attempt: 1, jitter: 0) == 500)
        #expect(engine.backoff(attempt: 1, jitter: 1) == 1_000)
        #expect(engine.backoff(attempt: 3, jitter: 1) == 4_000)
        #expect(engine.backoff(attempt: 30, jitter: 1) == 8_000)
        #expect(engine.backoff(attempt: 30, jitter: 0) == 4_000)
    }

    @Test("an outcome for a timer replaced meanwhile is stale and changes nothing")
    func staleOutcome() {
        var engine = TimerEngine(now: 0)
        let first = record(1, due: 5)
        engine.add(first, shard: 0)
        let due = engine.fire(now: 5)
        var replaced = first
        replaced.due = 1_000
        engine.add(replaced, shard: 0)
        let delivered = engine.delivered(due[0])
        let failed = engine.failed(due[0], error: "late", now: 6, jitter: 0)
        #expect(!delivered)
        #expect(failed == nil)
        #expect(engine.record(first.id)?.state == .pending)
        let fired = engine.fire(now: 1_000)
        #expect(fired.count == 1)
    }

    @Test("unloading a shard drops its timers only; cancel removes one")
    func unloadAndCancel() {
        var engine = TimerEngine(now: 0)
        engine.add(record(1, due: 50), shard: 1)
        engine.add(record(2, due: 50), shard: 2)
        engine.add(record(3, due: 60), shard: 2)
        let queued = engine.fire(now: 50).filter { $0.record.id == record(2, due: 0).id }
        #expect(queued.count == 1)
        engine.unload(shard: 2)
        #expect(engine.count == 1)
        #expect(!engine.isCurrent(queued[0]), "an attempt queued for a shard that moved away is dropped")
        let removed = engine.remove(record(1, due: 0).id)
        let again = engine.remove(record(1, due: 0).id)
        #expect(removed != nil)
        #expect(again == nil)
        let fired = engine.fire(now: 100)
        #expect(fired.isEmpty)
    }

    @Test("a failed timer loaded from the store stays failed and never fires")
    func loadedFailed() {
        var engine = TimerEngine(now: 0)
        var failed = record(1, due: 5)
        failed.state = .failed
        failed.lastError = "HTTP 503"
        engine.add(failed, shard: 0)
        let fired = engine.fire(now: 100)
        #expect(fired.isEmpty)
        #expect(engine.record(failed.id)?.lastError == "HTTP 503")
    }

    @Test("records survive the stored form unchanged, for both transports")
    func wireRoundTrip() {
        let http = TimerRecord(id: UUID(), due: 123, spec: TimerSpec(timeout: 9, data: Array("hi".utf8), callback: hook, retries: 4), attempts: 2, state: .failed, lastError: "boom")
        let skynet = TimerRecord(id: UUID(), due: 1, spec: TimerSpec(timeout: 1, callback: .skynet(service: "echo", version: nil, method: "echo")))
        #expect(TimerRecord(encoded: http.encoded()) == http)
        #expect(TimerRecord(encoded: skynet.encoded()) == skynet)
        #expect(TimerRecord(encoded: [0xc1]) == nil)
    }
}

@Suite("Timer spec parsing")
struct TimerSpecParserTests {
    private func parse(_ json: String) -> Result<TimerSpec, TimerSpecError> {
        let value = try! JSONDecoder().decode(MessagePackValue.self, from: Data(json.utf8))
        return Result { () throws(TimerSpecError) in try TimerSpecParser.parse(value) }
    }

    @Test("a good request parses with defaults", arguments: [
        (#"{"timeout": 1000, "callback": {"transport": "http", "uri": "http://h/x"}}"#, TimerCallback.http(method: "POST", uri: "http://h/x")),
        (#"{"timeout": 1000.0, "callback": {"transport": "HTTP", "method": "put", "uri": "https://h:1/x"}}"#, .http(method: "PUT", uri: "https://h:1/x")),
        (#"{"timeout": 1, "callback": {"transport": "skynet", "service": "echo", "method": "echo"}}"#, .skynet(service: "echo", version: nil, method: "echo")),
    ])
    func good(json: String, callback: TimerCallback) throws {
        let spec = try parse(json).get()
        #expect(spec.callback == callback)
        #expect(spec.retries == TimerSpec.defaultRetries)
    }

    @Test("each broken rule names its field", arguments: [
        (#"{"callback": {}}"#, "timeout"),
        (#"{"timeout": "5"}"#, "timeout"),
        (#"{"timeout": 2147483648}"#, "timeout"),
        (#"{"timeout": -1}"#, "timeout"),
        (#"{"timeout": 10}"#, "callback"),
        (#"{"timeout": 10, "callback": 3}"#, "callback"),
        (#"{"timeout": 10, "callback": {"uri": "http://h"}}"#, "callback.transport"),
        (#"{"timeout": 10, "callback": {"transport": "smtp"}}"#, "callback.transport"),
        (#"{"timeout": 10, "callback": {"transport": "http"}}"#, "callback.uri"),
        (#"{"timeout": 10, "callback": {"transport": "http", "uri": "file:///etc/passwd"}}"#, "callback.uri"),
        (#"{"timeout": 10, "callback": {"transport": "http", "uri": "http://"}}"#, "callback.uri"),
        (#"{"timeout": 10, "callback": {"transport": "http", "uri": "http://h", "method": "brew"}}"#, "callback.method"),
        (#"{"timeout": 10, "callback": {"transport": "skynet", "method": "echo"}}"#, "callback.service"),
        (#"{"timeout": 10, "callback": {"transport": "skynet", "service": "echo"}}"#, "callback.method"),
        (#"{"timeout": 10, "data": 5, "callback": {"transport": "http", "uri": "http://h"}}"#, "data"),
        (#"{"timeout": 10, "retries": 99, "callback": {"transport": "http", "uri": "http://h"}}"#, "retries"),
        ("[]", "body"),
    ])
    func bad(json: String, field: String) {
        guard case .failure(let error) = parse(json) else {
            Issue.record("\(json) parsed")
            return
        }
        #expect(error.field == field, "\(json): \(error.reason)")
    }

    @Test("data over the limit is refused with the limit stated")
    func oversized() {
        let json = #"{"timeout": 10, "data": ""# + String(repeating: "x", count: TimerSpec.maxData + 1) + #"", "callback": {"transport": "http", "uri": "http://h"}}"#
        guard case .failure(let error) = parse(json) else {
            Issue.record("oversized data parsed")
            return
        }
        #expect(error.field == "data")
        #expect(error.rule.contains("\(TimerSpec.maxData)"))
    }
}

@Suite("Timer ids as text")
struct TimerIDTextTests {
    @Test("lowercasedText and init(text:) agree with Foundation's form, over many ids")
    func roundTrip() {
        for _ in 0..<2_000 {
            let id = UUID()
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(text: id.lowercasedText) == id)
            #expect(UUID(text: id.uuidString) == id)
        }
    }

    @Test("anything but 8-4-4-4-12 hex digits is refused", arguments: [
        "", "not-a-uuid", "0b8f3c1e2f4a4d559c7e5a0d6f1e2b3c", "0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3", "0b8f3c1e-2f4a-4d55-9c7e-5a0d6f1e2b3cc",
        "0b8f3c1e-2f4a-4d55-9c7e_5a0d6f1e2b3c", "0b8f3c1g-2f4a-4d55-9c7e-5a0d6f1e2b3c",
    ])
    func refused(text: String) {
        #expect(UUID(text: text) == nil)
        #expect((UUID(uuidString: text) == nil) == (UUID(text: text) == nil))
    }
}
