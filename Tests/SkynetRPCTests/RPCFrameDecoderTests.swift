import MessagePack
import NIOCore
import NIOEmbedded
import NIOTestUtils
import Testing
@testable import SkynetRPC

@Suite("RPC framing")
struct RPCFrameDecoderTests {
    private let sample: [RPCMessage] = [
        .request(msgid: 1, method: "echo", params: ["hi"]),
        .response(msgid: 1, error: .nil, result: "hi"),
        .notification(method: "tick", params: [1, 2]),
        .failure(7, RPCError(.noSuchMethod, "no method named \"x\"")),
        .request(msgid: UInt32.max, method: "big", params: [.binary([UInt8](repeating: 1, count: 300))]),
    ]

    @Test("byte by byte, whole, and many per buffer (ByteToMessageDecoderVerifier)")
    func verifier() throws {
        let pairs = sample.map { message in (message.encoded(), [message]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) { RPCFrameDecoder() }
    }

    @Test("every message survives encode and decode")
    func roundTrip() throws {
        let large = RPCMessage.request(msgid: 2, method: "big", params: [.binary([UInt8](repeating: 1, count: 70_000))])
        let bytes = (sample + [large]).flatMap { Array($0.encoded().readableBytesView) }
        #expect(try messages(in: bytes) == sample + [large])
    }

    @Test("bytes that are not MessagePack fail without a msgid")
    func garbage() {
        var decoder = RPCFrameDecoder()
        var buffer = ByteBuffer(bytes: [0xc1, 0x00])
        let error = #expect(throws: RPCProtocolError.self) { try decoder.nextMessage(&buffer) }
        #expect(error?.msgid == nil)
        #expect(error?.error.code == .badRequest)
    }

    @Test("an oversized request is refused on its header, naming its msgid")
    func oversized() {
        var decoder = RPCFrameDecoder(limits: .init(maxMessageSize: 1024))
        // [0, 42, "m", [bin32 of 1 MiB ...]] — only the header has arrived.
        var buffer = ByteBuffer(bytes: [0x94, 0x00, 42, 0xa1, 0x6d, 0x91, 0xc6, 0x00, 0x10, 0x00, 0x00])
        let error = #expect(throws: RPCProtocolError.self) { try decoder.nextMessage(&buffer) }
        #expect(error?.msgid == 42)
        #expect(error?.error.code == .tooLarge)
        #expect(error?.error.message.contains("maximum message size of 1024") == true)
    }

    static let wrongShapes: [(MessagePackValue, UInt32?, String)] = [
        ("hello", nil, "a message must be an array, found str"),
        ([0, 5, 123, []], 5, "method must be a str, found int"),
        ([0, 6, "m", "not-an-array"], 6, "params must be an array, found str"),
        ([0, 9, "m"], 9, "message type 0 with 3 elements is not a request"),
        ([3, 1, "m", []], nil, "message type 3 with 4 elements"),
        ([0, -1, "m", []], nil, "msgid must be a 32-bit unsigned int"),
    ]

    @Test("frames of the wrong shape say what is wrong", arguments: wrongShapes)
    func wrongShape(value: MessagePackValue, msgid: UInt32?, message: String) {
        var decoder = RPCFrameDecoder()
        var buffer = ByteBuffer(bytes: value.packed())
        let error = #expect(throws: RPCProtocolError.self) { try decoder.nextMessage(&buffer) }
        #expect(error?.msgid == msgid)
        #expect(error?.error.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test("call metadata is split off params only when it is Skynet's map")
    func metadata() {
        let metadata = RPCCallMetadata(requestID: "r1", timeout: .milliseconds(1500), attempt: 2, caller: "cli")
        let (params, found) = RPCCallMetadata.split(["a", metadata.value])
        #expect(params == ["a"])
        #expect(found == metadata)
        let userMap: MessagePackValue = .map(["skynet": "not metadata"])
        #expect(RPCCallMetadata.split(["a", userMap]).1 == nil)
    }
}
