import ArgumentParser
import Foundation
import Skynet

/// A file as `sky` prints it in JSON.
struct FileRow: Codable {
    var path: String
    var value: String
    var encoding: String
    var createRev: Int64
    var modRev: Int64
    var version: Int64
    var session: UInt64?

    init(_ file: TreeFile) {
        let (text, encoding) = Output.text(file.value)
        path = file.path.string
        value = text
        self.encoding = encoding
        createRev = file.stat.createRev
        modRev = file.stat.modRev
        version = file.stat.version
        session = file.stat.session
    }
}

/// `sky get <path>`.
struct GetFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "Print a file's value (with -json: its stat too).",
        discussion: """
            Examples:
              sky get /skynet/config/echo/greeting
              sky get /skynet/config/echo/greeting -rev=12 -json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file's path.") var path: String
    @Option(help: "Read as of this past revision.") var rev: Int64?

    func validate() throws {
        if let rev, rev < 1 { throw ValidationError("-rev must be a past revision (1 or more), found \(rev)") }
    }

    func run() async throws {
        let coordinator = try global.client()
        guard let file = try await coordinator.get(path, atRev: rev) else { throw SkyFailure("\(path): no such file") }
        if global.json { try Output.json(FileRow(file)) } else { print(Output.text(file.value).text) }
    }
}

/// `sky set <path> <value>`.
struct SetFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Write a file; --rev makes it a compare-and-set (0: must not exist).",
        discussion: """
            Examples:
              sky set /skynet/config/echo/greeting hello
              sky set /skynet/config/echo/greeting hi -rev=13   (only if still at 13)
              sky set /skynet/config/lock me -rev=0   (only if absent)
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file's path.") var path: String
    @Argument(help: "The value (UTF-8 text).") var value: String
    @Option(help: "Only if the file's modRev is this (0: only if it does not exist).") var rev: Int64?

    func validate() throws {
        if let rev, rev < 0 { throw ValidationError("-rev must be 0 (only if absent) or the file's revision, found \(rev)") }
    }

    func run() async throws {
        let coordinator = try global.client()
        let written = try await coordinator.set(path, value, ifRev: rev ?? -1)
        if global.json { try Output.json(["rev": written]) } else { print("rev \(written)") }
    }
}

/// `sky del <path>`.
struct DelFile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "del", abstract: "Delete a file; --rev makes it a compare-and-delete.",
        discussion: """
            Examples:
              sky del /skynet/config/echo/greeting
              sky del /skynet/config/echo/greeting -rev=14
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The file's path.") var path: String
    @Option(help: "Only if the file's modRev is this.") var rev: Int64?

    func validate() throws {
        if let rev, rev < 1 { throw ValidationError("-rev must be the file's revision (1 or more), found \(rev)") }
    }

    func run() async throws {
        let coordinator = try global.client()
        let written = try await coordinator.del(path, ifRev: rev ?? -1)
        if global.json { try Output.json(["rev": written]) } else { print("rev \(written)") }
    }
}

/// `sky ls <path>`.
struct Ls: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a directory.",
        discussion: """
            Examples:
              sky ls
              sky ls /skynet/services/echo
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The directory (default /).") var path = "/"

    func run() async throws {
        let coordinator = try global.client()
        let names = try await coordinator.getdir(path)
        if global.json { try Output.json(names) } else { for name in names { print(name) } }
    }
}

/// `sky walk <glob>`.
struct Walk: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print every file matching a glob (* one segment, ** any depth, ? one character).",
        discussion: """
            Examples:
              sky walk '/skynet/services/**'
              sky walk '/skynet/config/*/greeting' -json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The glob, such as /skynet/**.") var glob: String

    func run() async throws {
        let coordinator = try global.client()
        let files = try await coordinator.walk(glob)
        if global.json { try Output.json(files.map(FileRow.init)) } else {
            for file in files { print("\(file.path) = \(Output.text(file.value).text)") }
        }
    }
}

/// `sky watch <glob>`.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream changes to files matching a glob until Ctrl-C; resumes after reconnects.",
        discussion: """
            Examples:
              sky watch '/skynet/services/**'
              sky watch '/skynet/config/**' -rev=100 -json
            """)
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The glob, such as /skynet/services/**.") var glob: String
    @Option(help: "Start from this revision (default: changes from now on).") var rev: Int64 = 0

    func validate() throws {
        if rev < 0 { throw ValidationError("-rev must be 0 (changes from now on) or a past revision, found \(rev)") }
    }

    struct EventRow: Codable {
        var rev: Int64
        var kind: String
        var path: String
        var value: String
        var encoding: String
    }

    func run() async throws {
        let coordinator = try global.client()
        for try await update in coordinator.watch(glob, fromRev: rev) {
            for event in update.events {
                let (text, encoding) = Output.text(event.value)
                if global.json {
                    try Output.jsonLine(EventRow(rev: event.rev, kind: event.kind.rawValue, path: event.path.string, value: text, encoding: encoding))
                } else {
                    print("\(event.rev) \(event.kind.rawValue) \(event.path)" + (event.kind == .put ? " = \(text)" : ""))
                }
            }
            fflush(nil)
        }
    }
}
