import Foundation
import SkynetCertificates

/// The token file `skynetd --auth-bootstrap FILE` starts from: one token per line (blank
/// lines and `#` comments skipped). A missing file is created with one new token, readable
/// by its owner only, so a first start needs nothing prepared.
package enum AuthBootstrapFile {
    /// Why the file cannot be used.
    package struct Failure: Error, CustomStringConvertible {
        package var description: String
    }

    /// The tokens in the file at `path`, and whether it was created just now.
    package static func tokens(at path: String) throws(Failure) -> (tokens: [String], created: Bool) {
        guard let data = FileManager.default.contents(atPath: path) else {
            guard !FileManager.default.fileExists(atPath: path) else { throw Failure(description: "cannot read it") }
            let token = AccessToken.generate()
            let created = FileManager.default.createFile(atPath: path, contents: Data("\(token)\n".utf8), attributes: [.posixPermissions: 0o600])
            guard created else { throw Failure(description: "it does not exist and cannot be created") }
            return ([token], true)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Failure(description: "not UTF-8 text") }
        var tokens: [String] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let token = line.trimmingCharacters(in: .whitespaces)
            if token.isEmpty || token.hasPrefix("#") { continue }
            guard token.utf8.count >= AccessToken.minimumLength, !token.contains(where: \.isWhitespace) else {
                throw Failure(description: "line \(number + 1): a token is one word of at least \(AccessToken.minimumLength) characters")
            }
            tokens.append(token)
        }
        guard !tokens.isEmpty else { throw Failure(description: "it holds no token") }
        return (tokens, false)
    }
}
