import Foundation
import Testing

/// The ```swift blocks of a Markdown file, each as its lines.
private func swiftBlocks(in path: String) throws -> [[String]] {
    var blocks: [[String]] = []
    var current: [String]?
    for line in try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n") {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        if current == nil, trimmed == "```swift" {
            current = []
        } else if current != nil, trimmed == "```" {
            blocks.append(current!)
            current = nil
        } else {
            current?.append(line)
        }
    }
    return blocks
}

/// Lines without indentation, blank ones left out: how code is compared.
private func normalized(_ lines: [String]) -> [String] {
    lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

/// Files below `directory` (relative to the repository) whose names end in `suffix`.
private func files(under directory: String, endingIn suffix: String) -> [String] {
    let root = repositoryRoot().appendingPathComponent(directory).path
    let found = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
    return found.filter { $0.hasSuffix(suffix) && !$0.contains(".build") }.map { root + "/" + $0 }.sorted()
}

@Suite("Documentation: every code sample is code that compiles and runs")
struct DocumentationTests {
    @Test("every Swift block in the README and the DocC articles stands verbatim in a compiled file (examples/consumer or Snippets)")
    func samplesAreCompiled() throws {
        let compiled = (files(under: "examples/consumer/Sources", endingIn: ".swift") + files(under: "Snippets", endingIn: ".swift"))
            .map { (path: $0, lines: normalized((try? String(contentsOfFile: $0, encoding: .utf8))?.components(separatedBy: "\n") ?? [])) }
        #expect(compiled.count >= 8, "the consumer's two programs and the snippets: \(compiled.map(\.path))")
        let documents = [repositoryRoot().appendingPathComponent("README.md").path]
            + files(under: "Sources", endingIn: ".md").filter { $0.contains(".docc/") }
        #expect(documents.count >= 10, "the README, four landing pages and five articles: \(documents)")
        var checked = 0
        for document in documents {
            for block in try swiftBlocks(in: document) {
                let lines = normalized(block)
                // A package manifest is compiled by SwiftPM, not as part of a package.
                guard let first = lines.first, !first.hasPrefix("// swift-tools-version") else { continue }
                let home = compiled.first { file in
                    file.lines.indices.contains { start in
                        start + lines.count <= file.lines.count && Array(file.lines[start..<(start + lines.count)]) == lines
                    }
                }
                #expect(home != nil, "this block of \(document) is in no compiled file:\n\(block.joined(separator: "\n"))")
                checked += 1
            }
        }
        #expect(checked >= 15, "samples checked: \(checked)")
    }

    @Test("the snippets run against a live skynetd and an echo service, and print what the articles say")
    func snippetsRun() async throws {
        let dir = temporaryPath("snippets")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let daemon = try await offPool { try SkynetdProcess(dataDir: dir) }
        defer { daemon.stop() }
        let echo = try await offPool { try EchoServiceProcess(coordinator: daemon.address, logDirectory: dir, label: "echo") }
        defer { echo.stop() }
        let environment = ["SKYNET_COORDINATORS": daemon.address]
        let expected: [(String, [String])] = [
            ("WritingAService", ["greeter serving 127.0.0.1:", "registered at /skynet/services/greeter/2/eu/127.0.0.1/", "Hello, Ada!\n42\n"]),
            ("CallingAService", ["as expected: no method named \"no-such-method\"", "hi cart cart", "\(echo.address) in rotation", "1 instance(s) of echo"]),
            ("Coordinator", ["someone wrote first:", "txn succeeded: true", "put /skynet/config/echo/farewell", "delete /skynet/config/echo/farewell", "hi true"]),
            ("RPCLayer", ["42\n"]),
            ("MessagePackCodable", [" true north-1\n"]),
            ("EmbeddedCoordinator", ["coordinator on 127.0.0.1:"]),
            ("HealthAndLoad", ["orders serving 127.0.0.1:", "in rotation: true", "its figures, as `sky instances` asks for them:"]),
        ]
        #expect(expected.count == files(under: "Snippets", endingIn: ".swift").count, "every snippet is run here")
        for (snippet, fragments) in expected {
            let run = try await runTool(snippet, [], environment: environment)
            #expect(run.status == 0, "\(snippet) exited \(run.status):\n\(run.out)\n\(run.err)")
            for fragment in fragments { #expect(run.out.contains(fragment), "\(snippet) printed:\n\(run.out)") }
        }
    }
}
