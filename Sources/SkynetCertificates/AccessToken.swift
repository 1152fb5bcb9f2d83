import Crypto

/// Bearer tokens for a coordinator with auth on: making them and deriving what the
/// coordinator stores of them (`sky auth token create`, `skynetd --auth-bootstrap`).
///
/// The coordinator keeps only the token's SHA-256 (`/skynet/auth/tokens/<id>`, the id being
/// the digest's first 16 hex digits), so reading the tree never reveals a usable token.
package enum AccessToken {
    /// Shortest token accepted: shorter ones are too easy to guess.
    package static let minimumLength = 16

    /// A new token: `skt_` and 43 base64url characters (256 random bits).
    package static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var bits = 0, count = 0
        var text = "skt_"
        for byte in bytes {
            bits = bits << 8 | Int(byte)
            count += 8
            while count >= 6 {
                count -= 6
                text.append(alphabet[(bits >> count) & 63])
            }
        }
        if count > 0 { text.append(alphabet[(bits << (6 - count)) & 63]) }
        return text
    }

    /// SHA-256 of the token, 64 lowercase hex digits.
    package static func sha256(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// The token's id: where its record lives (`/skynet/auth/tokens/<id>`).
    package static func id(_ token: String) -> String {
        String(sha256(token).prefix(16))
    }
}
