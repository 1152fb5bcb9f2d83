import Dispatch
import Foundation

/// SIGUSR1 / SIGUSR2 raise / lower a service's log level one notch while it runs.
final class LogLevelSignals {
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
