import Foundation
import MessagePack
import NIOCore
import NIOPosix
import SkynetRPC
import Synchronization

/// Misbehaving peers of `sky-bench abuse`, each a loop that ends by itself at `until`.
enum Abusers {
    /// A raw TCP connection to `port` (no RPC handler: bytes in, bytes out as the abuser likes).
    static func rawChannel(port: Int, autoRead: Bool) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                // Drop whatever arrives: these peers do not care about answers.
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Sink()) }
            }
            .connect(host: "127.0.0.1", port: port).get()
    }

    private final class Sink: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    static func frame(_ message: RPCMessage) -> ByteBuffer {
        var buffer = ByteBuffer()
        message.write(to: &buffer)
        return buffer
    }

    /// Walks and watches with globs that backtrack exponentially in a naive matcher, and
    /// globs over the wildcard cap (refused `BadPath`). Returns requests made.
    static func globBombs(port: Int, until end: ContinuousClock.Instant) async throws -> Int {
        let connection = try await RPCConnection.connect(host: "127.0.0.1", port: port)
        let bomb = "/" + Array(repeating: "**/a", count: 16).joined(separator: "/") + "/b"
        let overCap = "/" + Array(repeating: "*", count: 40).joined(separator: "/")
        var requests = 0, wire = UInt64(1_000_000)
        while ContinuousClock.now < end {
            _ = try? await connection.call("walk", [.string(bomb)])
            _ = try? await connection.call("walk", [.string(overCap)])
            wire += 1
            _ = try? await connection.call("watch", [.uint(wire), .string(bomb), .int(0)])
            _ = try? await connection.call("unwatch", [.uint(wire)])
            requests += 4
        }
        await connection.close()
        return requests
    }

    /// Opens `count` connections that send nothing; returns them for the caller to close.
    static func idle(port: Int, count: Int) async throws -> [any Channel] {
        var channels: [any Channel] = []
        channels.reserveCapacity(count)
        for _ in 0..<count { channels.append(try await rawChannel(port: port, autoRead: true)) }
        return channels
    }

    /// Watches everything and never reads a byte, while `writer` changes the tree.
    static func slowReader(port: Int) async throws -> any Channel {
        let channel = try await rawChannel(port: port, autoRead: false)
        try await channel.writeAndFlush(frame(.request(msgid: 1, method: "watch", params: [.uint(1), "/**", .int(0)]))).get()
        return channel
    }

    /// Connects, sends a frame that breaks a limit or is not MessagePack, and repeats.
    static func malformed(port: Int, until end: ContinuousClock.Instant) async throws -> Int {
        let frames: [[UInt8]] = [
            [0xdb, 0x7f, 0xff, 0xff, 0xff] + Array(repeating: 0x61, count: 64),   // a 2 GiB string header
            [0xdd, 0xff, 0xff, 0xff, 0xff],                                       // an array of 4 billion
            Array(repeating: 0x91, count: 10_000),                               // nesting 10,000 deep
            [0xc1, 0xc1, 0xc1],                                                   // never-used bytes
            [0x94, 0x00, 0x01, 0xa4] + Array("echo".utf8) + [0x90, 0x94, 0x05, 0x01, 0x02, 0x03],  // a request, then a message of type 5
        ]
        var sent = 0
        while ContinuousClock.now < end {
            let channel = try await rawChannel(port: port, autoRead: true)
            try? await channel.writeAndFlush(ByteBuffer(bytes: frames[sent % frames.count])).get()
            // The server closes it; should it not within a second, this loop still moves on.
            let giveUp = channel.eventLoop.scheduleTask(in: .seconds(1)) { channel.close(promise: nil) }
            try? await channel.closeFuture.get()
            giveUp.cancel()
            sent += 1
        }
        return sent
    }

    /// Sends requests as fast as the socket takes them and never reads the answers.
    static func flood(port: Int, until end: ContinuousClock.Instant) async throws -> Int {
        let channel = try await rawChannel(port: port, autoRead: false)
        var sent = 0
        var msgid: UInt32 = 0
        while ContinuousClock.now < end, channel.isActive {
            if channel.isWritable {
                var batch = ByteBuffer()
                for _ in 0..<64 {
                    msgid &+= 1
                    RPCMessage.request(msgid: msgid, method: "get", params: ["/abuse/probe"]).write(to: &batch)
                }
                channel.writeAndFlush(batch, promise: nil)
                sent += 64
            } else {
                try await Task.sleep(for: .milliseconds(1))   // the abuser waits for its own socket
            }
        }
        try? await channel.close()
        return sent
    }
}
