import Foundation
import NIOCore

/// Turns an error into the sentence a user reads: never a Swift type name, an enum case
/// or a `Type(field: ...)` dump.
package enum ErrorText {
    /// A one-line, human sentence for `error`.
    package static func sentence(_ error: any Error) -> String {
        let text: String
        switch error {
        case let error as IOError:
            text = systemMessage(error.errnoCode)
        case let error as DecodingError:
            text = decodingMessage(error)
        case is CancellationError:
            text = "cancelled"
        case let error as any CustomStringConvertible:
            text = error.description
        default:
            text = "unexpected failure"
        }
        let line = text.split(whereSeparator: \.isNewline).joined(separator: " ")
        return looksInternal(line) ? "unexpected failure" : line
    }

    /// `strerror` in lower case: "address already in use".
    package static func systemMessage(_ errno: Int32) -> String {
        String(cString: strerror(errno)).lowercased()
    }

    private static func decodingMessage(_ error: DecodingError) -> String {
        func at(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        }
        switch error {
        case let .typeMismatch(_, context), let .valueNotFound(_, context), let .keyNotFound(_, context), let .dataCorrupted(context):
            return "unexpected data: \(at(context))"
        @unknown default:
            return "unexpected data"
        }
    }

    /// True for text that reads as a Swift value dump rather than a sentence.
    package static func looksInternal(_ text: String) -> Bool {
        if text.contains("Error(") || text.contains("commandStack") { return true }
        // A `Type(label: ...)` dump.
        if text.range(of: #"\b[A-Z][A-Za-z]+\([a-z][A-Za-z]*:"#, options: .regularExpression) != nil { return true }
        let modules = ["Swift", "Foundation", "NIOCore", "NIOPosix", "ArgumentParser", "MessagePack", "SkynetRPC", "SkynetCoordinator", "Skynet", "SkynetCLI", "sky", "skynetd"]
        return modules.contains { module in
            text.range(of: "\\b\(module)\\.[A-Z][A-Za-z]+", options: .regularExpression) != nil
        }
    }
}
