// libFuzzer target for the MessagePack scanner, frame decoder and reader. Built only by
// `make fuzz` (SKYNET_FUZZ=1 adds this target; -sanitize=fuzzer,address links libFuzzer).
//
// For every input, whatever the bytes: no crash, no hang, no leak; and the properties
// below hold, else the fuzzer stops with the input that broke them.
import CMsgPack
import FuzzEntry
import MessagePack

/// libmsgpack-c's own view of the first value in `bytes`: its length, or nil.
private func libraryLength(_ bytes: UnsafeRawBufferPointer) -> Int? {
    var unpacked = msgpack_unpacked()
    msgpack_unpacked_init(&unpacked)
    defer { msgpack_unpacked_destroy(&unpacked) }
    var offset = 0
    let status = msgpack_unpack_next(&unpacked, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, &offset)
    return status == MSGPACK_UNPACK_SUCCESS ? offset : nil
}

@_cdecl("fuzz_msgpack_main")
public func main(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runFuzzer(argc, argv) { data, size in fuzzMessagePack(data, size) }
}

// libFuzzer's own main (linked by -sanitize=fuzzer) names this symbol; SwiftPM's entry point wins.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMessagePack(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let limits = MessagePackLimits(maxMessageSize: 1 << 16, maxDepth: 32, maxContainerLength: 1 << 12)

    // The stream decoder, fed in two chunks split where the first byte says.
    var decoder = MessagePackFrameDecoder(limits: limits)
    let cut = size == 0 ? 0 : Int(bytes[0]) % (size + 1)
    decoder.feed(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))
    decoder.feed(UnsafeRawBufferPointer(rebasing: bytes[cut...]))
    var values: [MessagePackValue] = []
    while true {
        do {
            guard let value = try decoder.next() else { break }
            values.append(value)
        } catch {
            break
        }
    }

    // Every value decoded re-encodes to bytes that decode to the same value.
    for value in values {
        let writer = MessagePackWriter()
        writer.pack(value)
        let again = writer.bytes.withUnsafeBytes { try? MessagePackReader.unpack($0, limits: .default) }
        precondition(again == value, "a decoded value does not survive a round trip")
    }

    // What our decoder accepts as the first value, libmsgpack-c parses, with the same length.
    var scanner = MessagePackScanner(limits: limits)
    if case .complete(let length, _)? = try? scanner.scan(bytes) {
        precondition(libraryLength(bytes) == length, "our scanner and libmsgpack-c disagree on a value's length")
    }
    return 0
}
