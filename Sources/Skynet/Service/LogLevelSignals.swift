import Foundation
import SkynetRPC

/// SIGUSR1 / SIGUSR2 raise / lower a service's log level one notch while it runs.
///
/// Installed by `start` (before the service says it serves), so a signal can never meet
/// the default action, which would end the process. Through `ProcessSignals`, so services
/// sharing a process each keep theirs.
final class LogLevelSignals: Sendable {
    private let tokens: [ProcessSignals.Token]

    init(service: Service) {
        tokens = [(SIGUSR1, true), (SIGUSR2, false)].map { signalNumber, up in
            ProcessSignals.add(signalNumber) { [weak service] in
                guard let service else { return }
                let level = service.shiftLogLevel(up: up)
                service.log.notice("log level changed", metadata: ["log.level": "\(level)"])
            }
        }
    }

    func cancel() {
        for token in tokens { ProcessSignals.remove(token) }
    }
}
