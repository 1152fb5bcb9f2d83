import Dispatch
import Foundation

/// SIGUSR1 / SIGUSR2 raise / lower a service's log level one notch while it runs.
///
/// Installed by `start` (before the service says it serves), so a signal can never meet
/// the default action, which would end the process.
final class LogLevelSignals: @unchecked Sendable {
    // @unchecked: `sources` is set in init and never changed; DispatchSource's cancel is
    // thread-safe.
    private let sources: [any DispatchSourceSignal]

    init(service: Service) {
        sources = [(SIGUSR1, true), (SIGUSR2, false)].map { signalNumber, up in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak service] in
                guard let service else { return }
                let level = service.shiftLogLevel(up: up)
                service.log.notice("log level changed", metadata: ["log.level": "\(level)"])
            }
            source.resume()
            return source
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
