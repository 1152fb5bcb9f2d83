import Dispatch
import Foundation
import Logging

/// SIGHUP re-reads a process's TLS files (`RPCTLS.reload()`): renewed certificates take
/// effect for new connections without a restart, and none is dropped. A reload that fails
/// is logged with its reason and the files in use stay.
package final class TLSReloadOnHangup: Sendable {
    // DispatchSourceSignal is thread-safe to resume and cancel; it is set once, in init.
    private nonisolated(unsafe) let source: any DispatchSourceSignal

    /// Installs the handler; the signal's default action (ending the process) is off until
    /// `cancel()` and beyond.
    package init(_ tls: RPCTLS, logger: Logger) {
        signal(SIGHUP, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler {
            do {
                try tls.reload()
                logger.notice("TLS files reloaded", metadata: ["tls.certificate": "\(tls.settings.certificatePath ?? "none")"])
            } catch {
                logger.error("TLS reload failed; the files loaded before stay in use", metadata: ["error": "\(error)"])
            }
        }
        source.resume()
    }

    /// Stops handling SIGHUP.
    package func cancel() {
        source.cancel()
    }
}
