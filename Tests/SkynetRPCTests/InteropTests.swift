import Foundation
import Testing
@testable import SkynetRPC

@Suite("Interop with an independent MessagePack implementation", .timeLimit(.minutes(1)))
struct InteropTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Interop/interop_client.py").path

    /// Runs the Python client against `port`; returns its stdout, or fails with its stderr.
    private func runPython(port: Int) async throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, "127.0.0.1", String(port)]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do { try process.run() } catch { continuation.resume(throwing: error) }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        if stderr.contains("No module named 'msgpack'") {
            Issue.record("Python's msgpack is missing: run the README's test command (`make test`), which installs it")
        }
        try #require(process.terminationStatus == 0, "python client failed: \(stderr)")
        return stdout
    }

    @Test("a Python msgpack client calls a Skynet server with positional params and pipelining")
    func pythonClient() async throws {
        let gate = Gate()
        let (notes, continuation) = AsyncStream.makeStream(of: RPCNotification.self)
        try await withServer(router: testRouter(gate: gate, notifications: continuation)) { _, port in
            let output = try await runPython(port: port)
            let replies = try #require(try JSONSerialization.jsonObject(with: output) as? [[Any]])
            let byID = Dictionary(uniqueKeysWithValues: replies.compactMap { reply -> (Int, [Any])? in
                guard reply.count == 4, reply[0] as? Int == 1, let id = reply[1] as? Int else { return nil }
                return (id, reply)
            })
            #expect(byID.count == 7)
            #expect(byID[1]?[2] is NSNull)
            #expect(byID[1]?[3] as? Int == 5)
            #expect(byID[2]?[3] as? String == "héllo wörld")
            let unknown = byID[3]?[2] as? [String: String]
            #expect(unknown == ["code": "NoSuchMethod", "message": "no method named \"nope\""])
            let bad = byID[4]?[2] as? [String: String]
            #expect(bad?["code"] == "BadRequest")
            #expect(bad?["message"] == "at params[0]: expected Int, found str \"x\"")
            let raw = byID[5]?[3] as? [Any]
            #expect(raw?.count == 5)
            #expect((raw?.first as? [String: [Int]]) == ["k": [1, 2]])
            #expect((raw?.last as? [String: [Int]]) == ["bin": [0, 1]])
            #expect(byID[6]?[3] as? String == "Countess Ada")
            #expect(byID[7]?[3] as? String == "last")
            var iterator = notes.makeAsyncIterator()
            #expect(await iterator.next() == RPCNotification(method: "note", params: ["from python"]))
        }
    }
}
