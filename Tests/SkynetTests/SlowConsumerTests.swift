import Foundation
import MessagePack
import Skynet
import SkynetCoordinator
import SkynetRPC
import Testing

@Suite("Slow watchers over the wire", .timeLimit(.minutes(1)))
struct SlowConsumerTests {
    @Test("a watcher that stops reading is cancelled with SlowConsumer; other watchers miss nothing")
    func slowWatcherIsCancelled() async throws {
        let limits = WatchHubLimits(maxHistoryEvents: 100, maxHistoryBytes: 1 << 20, maxPendingBytes: 32 << 10)
        try await withCoordinator({ $0.watchLimits = limits }) { server, client in
            let port = server.localAddress!.port!
            let stalled = try StalledSocket(port: port)
            try stalled.send(RPCMessage.request(msgid: 1, method: "watch", params: [.uint(7), "/slow/**"]).value)
            let start = try await client.set("/slow/start", "0")
            let healthy = client.watch("/slow/**", fromRev: start)
            let value = [UInt8](repeating: 0x61, count: 4096)
            let writes = 1_500
            // The healthy watcher reads as the writes happen.
            let reader = Task { try await collect(healthy) { $0.count == writes + 1 } }
            for i in 0..<writes { try await client.set("/slow/k\(i % 50)", value) }
            // The healthy watcher on another connection saw every revision.
            let seen = try await reader.value
            #expect(seen.map(\.rev) == Array(start...(start + Int64(writes))))
            // The stalled one was cut loose: the hub no longer holds it, and what it is finally
            // told names the revision to resume from.
            #expect(try await client.status()["watches"]?.int64Value == 1, "only the healthy watch is left")
            let cancel = try #require(try stalled.readUntil(method: "watchCancelled"))
            let error = RPCError(value: cancel.params.count > 1 ? cancel.params[1] : .nil)
            #expect(error.code == .slowConsumer)
            #expect((error.data?["resumeFrom"]?.int64Value ?? 0) > start)
        }
    }
}

/// A TCP client that sends but does not read until asked, with a tiny receive buffer, so the
/// server's writes to it back up.
final class StalledSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var size: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw SkynetdError("connect failed: errno \(errno)") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ message: MessagePackValue) throws {
        let writer = MessagePackWriter(capacity: 64)
        writer.pack(message)
        let bytes = writer.bytes
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw SkynetdError("send failed") }
    }

    /// Reads (and decodes) messages until a notification named `method` arrives or the peer stops.
    func readUntil(method: String) throws -> RPCNotification? {
        var decoder = MessagePackFrameDecoder()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            decoder.feed(buffer[0..<n])
            while let value = try decoder.next() {
                if case .notification(let name, let params) = try RPCMessage(value: value), name == method {
                    return RPCNotification(method: name, params: params)
                }
            }
        }
    }

    deinit { close(fd) }
}

@Suite("A slow consumer of CoordinatorClient.watch", .timeLimit(.minutes(1)))
struct SlowClientConsumerTests {
    @Test("a watch nobody reads pauses after maxBufferedUpdates and later resumes from history: every event, once, in order")
    func pausesAndResumes() async throws {
        try await withCoordinator { _, client in
            let start = try await client.set("/s/start", "0")
            let watch = client.watch("/s/**", fromRev: start)
            let writes = CoordinatorClient.maxBufferedUpdates * 3
            for i in 0..<writes { try await client.set("/s/k\(i % 10)", "\(i)") }
            // Not one update was taken: the client stopped buffering and dropped the server-side watch.
            var watches: Int64 = -1
            for _ in 0..<1_000 {
                watches = try await client.status()["watches"]?.int64Value ?? -1
                if watches == 0 { break }
            }
            #expect(watches == 0, "the paused watch was dropped on the server")
            let events = try await collect(watch) { $0.count == writes + 1 }
            #expect(events.map(\.rev) == Array(start...(start + Int64(writes))), "nothing missed, nothing twice")
            #expect(events.last?.value.text == "\(writes - 1)")
        }
    }
}
