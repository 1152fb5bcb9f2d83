import NIOCore

/// One Server-Sent Events frame (`text/event-stream`): an optional event name and the data,
/// each line of it on a `data:` line of its own, ended by a blank line.
struct ServerSentEvent: Hashable, Sendable {
    /// The event name (`event:`); `nil` is the default `message` event.
    var event: String?
    /// The payload; line breaks in it become separate `data:` lines, as the format requires.
    var data: String

    /// The frame's bytes.
    var text: String {
        var text = ""
        if let event { text += "event: \(Self.singleLine(event))\n" }
        // CR, LF and CRLF all end a line in the format: a payload line must not hold one.
        for line in data.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) {
            text += "data: \(line)\n"
        }
        return text + "\n"
    }

    /// A comment frame, which clients ignore: it keeps idle connections alive and lets a
    /// dead one be noticed.
    static let keepAlive = ": keep-alive\n\n"

    private static func singleLine(_ value: String) -> String {
        String(value.filter { $0 != "\n" && $0 != "\r" })
    }
}
