import Foundation
import Testing

/// Runs the executable `name` built beside the tests with `arguments` (and `environment`
/// added to this process's); returns its exit status, stdout and stderr. Both outputs are
/// checked for text no user should meet: Swift type names, value dumps, parser internals.
/// The child is waited for on a thread of its own, never on the cooperative pool, so tests
/// running alongside keep their threads while it runs.
func runTool(
    _ name: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
    sourceLocation: SourceLocation = #_sourceLocation
) async throws -> (status: Int32, out: String, err: String) {
    let result = try await offPool { try runToolBlocking(name, arguments, stdin: stdin, environment: environment) }
    for (stream, text) in [("stdout", result.out), ("stderr", result.err)] {
        if let leak = internalText(in: text) {
            Issue.record("\(name) \(arguments.joined(separator: " ")) printed internal text \"\(leak)\" on \(stream):\n\(text)", sourceLocation: sourceLocation)
        }
    }
    return result
}

private func runToolBlocking(
    _ name: String, _ arguments: [String], stdin: String?, environment: [String: String]
) throws -> (status: Int32, out: String, err: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: SkynetdProcess.builtBinary(name))
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    // stderr is read on its own thread so a full stderr pipe cannot stall the child.
    let errData = ErrCollector(err.fileHandleForReading)
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), errData.wait())
}

/// The first piece of `text` that reads as a Swift internal rather than for people: a
/// module-qualified type name, a `SomethingError(` or `Type(label:` dump, or the parser's
/// `commandStack`.
func internalText(in text: String) -> String? {
    let patterns = [
        #"\b(Swift|Foundation|NIOCore|NIOPosix|ArgumentParser|MessagePack|SkynetRPC|SkynetCoordinator|SkynetCLI|Skynet|sky|skynetd)\.[A-Z][A-Za-z]+"#,
        #"[A-Za-z]*Error\("#, #"\b[A-Z][A-Za-z]+\([a-z][A-Za-z]*:"#, "commandStack",
    ]
    for pattern in patterns {
        if let range = text.range(of: pattern, options: .regularExpression) { return String(text[range]) }
    }
    return nil
}

/// Reads a pipe to its end on a thread of its own.
private final class ErrCollector: @unchecked Sendable {
    // @unchecked: `data` is written by the reading thread before it signals `done`, and read
    // only after `wait` has seen that signal.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}
