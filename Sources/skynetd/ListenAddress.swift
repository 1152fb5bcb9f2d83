import ArgumentParser

/// A `HOST:PORT` from the command line.
struct ListenAddress {
    var host: String
    var port: Int

    init(_ text: String) throws {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port) else {
            throw ValidationError("--listen must be HOST:PORT with a port from 0 to 65535, such as 127.0.0.1:8046; found \"\(text)\"")
        }
        host = String(text[..<colon])
        self.port = port
    }
}
