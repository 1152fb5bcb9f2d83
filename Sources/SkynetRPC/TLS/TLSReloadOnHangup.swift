import Dispatch
import Foundation
import Logging
import Synchronization

/// SIGHUP re-reads a process's TLS files (`RPCTLS.reload()`): renewed certificates take
/// effect for new connections without a restart, and none is dropped. A reload that fails
/// is logged with its reason and the files in use stay.
///
/// One signal source serves the whole process, however many parts ask (skynetd and the
/// timer service inside it): installing a second would set SIGHUP's disposition again
/// and take it from the first, which would then never fire.
package final class TLSReloadOnHangup: Sendable {
    private struct Entry: Sendable {
        let tls: RPCTLS
        let logger: Logger
    }

    private struct Registry: ~Copyable {
        var entries: [UInt64: Entry] = [:]
        var next: UInt64 = 0
        var installed = false
    }

    private static let registry = Mutex(Registry())
    // Made once, under the registry's lock, and never released: DispatchSource is
    // thread-safe to resume, and nothing else touches it.
    private nonisolated(unsafe) static var source: (any DispatchSourceSignal)?

    private let id: UInt64

    /// Reloads `tls` on every SIGHUP until `cancel()`; the signal's default action (ending
    /// the process) is off from now on.
    package init(_ tls: RPCTLS, logger: Logger) {
        id = Self.registry.withLock { registry in
            defer { registry.next += 1 }
            registry.entries[registry.next] = Entry(tls: tls, logger: logger)
            if !registry.installed {
                registry.installed = true
                signal(SIGHUP, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
                source.setEventHandler { Self.reloadAll() }
                source.resume()
                Self.source = source
            }
            return registry.next
        }
    }

    /// Stops reloading this one.
    package func cancel() {
        _ = Self.registry.withLock { $0.entries.removeValue(forKey: id) }
    }

    private static func reloadAll() {
        let entries = registry.withLock { Array($0.entries.values) }
        var done = Set<ObjectIdentifier>()
        for entry in entries where done.insert(ObjectIdentifier(entry.tls)).inserted {
            do {
                try entry.tls.reload()
                entry.logger.notice("TLS files reloaded", metadata: ["tls.certificate": "\(entry.tls.settings.certificatePath ?? "none")"])
            } catch {
                entry.logger.error("TLS reload failed; the files loaded before stay in use", metadata: ["error": "\(error)"])
            }
        }
    }
}
