import Foundation

extension UUID {
    /// The id as timers show it: 36 lower-case characters, `8-4-4-4-12`. Written directly:
    /// Foundation's `uuidString` goes through `snprintf`, which showed in profiles of creates.
    package var lowercasedText: String {
        withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                let digits: StaticString = "0123456789abcdef"
                var i = 0
                for (n, byte) in bytes.enumerated() {
                    if n == 4 || n == 6 || n == 8 || n == 10 {
                        out[i] = UInt8(ascii: "-")
                        i += 1
                    }
                    out[i] = digits.utf8Start[Int(byte >> 4)]
                    out[i + 1] = digits.utf8Start[Int(byte & 0x0f)]
                    i += 2
                }
                return 36
            }
        }
    }

    /// Parses `8-4-4-4-12` hex digits (either case); `nil` for anything else.
    package init?(text: String) {
        var bytes = [UInt8](repeating: 0, count: 16)
        var utf8 = text.utf8.makeIterator()
        var n = 0, position = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while n < 16 {
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard utf8.next() == UInt8(ascii: "-") else { return nil }
                position += 1
            }
            guard let high = utf8.next().flatMap(hex), let low = utf8.next().flatMap(hex) else { return nil }
            bytes[n] = high << 4 | low
            n += 1
            position += 2
        }
        guard utf8.next() == nil else { return nil }
        self.init(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                         bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
