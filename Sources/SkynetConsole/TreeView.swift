import Foundation
import SkynetTree

/// `GET /api/tree`: a file with its value and stat, or a directory with its children.
struct TreeView: Codable, Sendable {
    /// Stat of a file, as the API shows it.
    struct Stat: Codable, Sendable {
        var createRev: Int64
        var modRev: Int64
        var version: Int64
        /// The session it is bound to (an ephemeral file), if any.
        var session: UInt64?
        var size: Int
    }

    var path: String
    /// `file` or `directory`.
    var kind: String
    var stat: Stat?
    /// The value as text when it is UTF-8, else base64 (`encoding` says which).
    var value: String?
    var encoding: String?
    /// For a file that holds MessagePack (registry records, timers), the value as JSON.
    var decoded: MessagePackJSON?
    /// A directory's children, sorted.
    var children: [String]?

    init(file: TreeFile) {
        path = file.path.string
        kind = "file"
        stat = Stat(createRev: file.stat.createRev, modRev: file.stat.modRev, version: file.stat.version, session: file.stat.session, size: file.stat.size)
        if let text = String(validating: file.value, as: UTF8.self) {
            (value, encoding) = (text, "utf8")
        } else {
            (value, encoding) = (Data(file.value).base64EncodedString(), "base64")
        }
        decoded = MessagePackJSON(file.value)
    }

    init(path: String, children: [String]) {
        self.path = path
        kind = "directory"
        self.children = children
    }
}
