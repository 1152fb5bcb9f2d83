import Foundation
import SkynetTestSupport
import Testing
@testable import SkynetCoordinator

@Suite("CRC-32C: hardware instruction and table fallback")
struct CRC32CTests {
    /// Check values from RFC 3720 (iSCSI), appendix B.4, and the usual "123456789".
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).map { UInt8(31 - $0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test("the fallback gives the published check values")
    func softwareVectors() {
        for (bytes, expected) in Self.vectors {
            #expect(bytes.withUnsafeBytes { CRC32C.software($0) } == expected, "\(bytes.count) bytes")
        }
    }

    @Test("the checksum in use (hardware where the CPU has it) gives the published check values")
    func vectors() {
        for (bytes, expected) in Self.vectors {
            #expect(CRC32C.checksum(bytes) == expected, "\(bytes.count) bytes, hardware: \(CRC32C.hardware)")
        }
    }

    @Test("hardware and fallback agree at every length and alignment, and when continued")
    func agree() {
        var generator = SeededGenerator(seed: 0x5EED)
        let data = (0..<4_200).map { _ in UInt8.random(in: 0...255, using: &generator) }
        data.withUnsafeBytes { all in
            for length in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 255, 256, 1_000, 4_096] {
                for offset in 0..<8 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    let whole = CRC32C.software(slice)
                    #expect(CRC32C.checksum(slice) == whole, "length \(length) at offset \(offset)")
                    let cut = length / 3
                    let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[..<cut]))
                    #expect(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[cut...]), continuing: first) == whole)
                }
            }
        }
    }

    #if arch(x86_64)
    @Test("x86-64 machines with SSE4.2 (this project's CI) use the instruction")
    func usesHardware() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        #expect(CRC32C.hardware == cpuinfo.contains(" sse4_2"))
    }
    #endif
}
