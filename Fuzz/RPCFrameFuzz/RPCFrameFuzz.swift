// libFuzzer target for SkynetRPC's frame decoder: TCP bytes to MessagePack-RPC messages.
// Built only by `make fuzz` (SKYNET_FUZZ=1 adds this target).
//
// For every input: no crash, no hang; each message decoded re-encodes to a frame that
// decodes to the same message.
import FuzzEntry
import MessagePack
import NIOCore
import SkynetRPC

@_cdecl("fuzz_rpc_frames_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzRPCFrames(data, size) }
}

// libFuzzer's own main (linked by -sanitize=fuzzer) names this symbol; SwiftPM's entry point wins.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRPCFrames(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var decoder = RPCFrameDecoder(limits: MessagePackLimits(maxMessageSize: 1 << 16, maxDepth: 32, maxContainerLength: 1 << 12))
    var buffer = ByteBuffer(bytes: bytes)
    while true {
        let message: RPCMessage?
        do {
            message = try decoder.nextMessage(&buffer)
        } catch {
            precondition(!error.error.message.isEmpty, "a protocol error says what is wrong")
            break
        }
        guard let message else { break }
        var encoded = ByteBuffer()
        message.write(to: &encoded)
        var again = RPCFrameDecoder()
        precondition((try? again.nextMessage(&encoded)) == message, "a decoded message does not survive a round trip")
    }
    return 0
}
