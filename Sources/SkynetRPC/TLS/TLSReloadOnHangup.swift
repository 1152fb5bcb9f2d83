import Foundation
import Logging

/// SIGHUP re-reads a process's TLS files (`RPCTLS.reload()`): renewed certificates take
/// effect for new connections without a restart, and none is dropped. A reload that fails
/// is logged with its reason and the files in use stay. Parts of one process that share an
/// `RPCTLS` (skynetd and its timer service) each reload it, which reads the same files.
package final class TLSReloadOnHangup: Sendable {
    private let token: ProcessSignals.Token

    /// Reloads `tls` on every SIGHUP until `cancel()`; the signal's default action (ending
    /// the process) is off from now on.
    package init(_ tls: RPCTLS, logger: Logger) {
        token = ProcessSignals.add(SIGHUP) {
            do {
                try tls.reload()
                logger.notice("TLS files reloaded", metadata: ["tls.certificate": "\(tls.settings.certificatePath ?? "none")"])
            } catch {
                logger.error("TLS reload failed; the files loaded before stay in use", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Stops reloading on SIGHUP.
    package func cancel() {
        ProcessSignals.remove(token)
    }
}
