import Foundation

/// The token flag every Skynet program takes (`-token`, or `SKYNET_TOKEN`): the bearer
/// token it presents to a coordinator with auth on. `@FILE` reads it from a file, which
/// keeps it out of `ps` and shell history.
package enum TokenFlag {
    /// The flag with its variable and help line.
    package static let flag = ConfigFlag("token", "SKYNET_TOKEN", value: "TOKEN|@FILE", help: "the token presented to a coordinator with auth on (`sky auth token create` makes one)")

    /// The token a flag value or variable names, read from the file for `@FILE`; nil when
    /// neither is given. Errors name the flag or variable.
    package static func token(_ picked: (value: String, source: String)?) throws(ServiceConfigError) -> String? {
        guard let (text, source) = picked else { return nil }
        var token = text
        if text.hasPrefix("@") {
            guard let contents = FileManager.default.contents(atPath: String(text.dropFirst())), let string = String(data: contents, encoding: .utf8) else {
                throw ServiceConfigError(field: source, "cannot read the token file \(text.dropFirst())")
            }
            token = string.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard !token.isEmpty, !token.contains(where: \.isWhitespace) else {
            throw ServiceConfigError(field: source, "a token is one word without spaces")
        }
        return token
    }
}
