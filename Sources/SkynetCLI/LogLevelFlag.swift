import ArgumentParser
import Logging

/// The daemons' `--log-level` flag: its check, and the one logging backend they bootstrap.
package enum LogLevelFlag {
    /// The level `text` names; a usage error naming the choices otherwise.
    package static func level(_ text: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")); found \"\(text)\"")
        }
        return level
    }

    /// Bootstraps swift-log: every logger to standard error at `level` (executables only).
    package static func bootstrap(_ level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
