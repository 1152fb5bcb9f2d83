import Dispatch
import Foundation
import Synchronization

/// Handlers for a Unix signal, many per process: one dispatch source per signal serves them
/// all. Installing a second source for a signal sets its disposition again and takes it
/// from the first, which then never fires (two services in one process, or skynetd and the
/// timer service inside it, would each silently lose their handlers).
package enum ProcessSignals {
    /// What `add` returns; pass it to `remove`.
    package struct Token: Hashable, Sendable {
        let signal: Int32
        let id: UInt64
    }

    private struct Registry: ~Copyable {
        var handlers: [Int32: [UInt64: @Sendable () -> Void]] = [:]
        var next: UInt64 = 0
    }

    private static let registry = Mutex(Registry())
    // One source per signal, made under the registry's lock and never released:
    // DispatchSource is thread-safe to resume, and nothing else touches it.
    private nonisolated(unsafe) static var sources: [Int32: any DispatchSourceSignal] = [:]

    /// Runs `handler` on a global queue at each `signalNumber` until `remove`; the signal's
    /// default action (often ending the process) is off from the first `add` on.
    package static func add(_ signalNumber: Int32, _ handler: @escaping @Sendable () -> Void) -> Token {
        registry.withLock { registry in
            defer { registry.next += 1 }
            if registry.handlers[signalNumber] == nil {
                registry.handlers[signalNumber] = [:]
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
                source.setEventHandler { fire(signalNumber) }
                source.resume()
                sources[signalNumber] = source
            }
            registry.handlers[signalNumber]![registry.next] = handler
            return Token(signal: signalNumber, id: registry.next)
        }
    }

    /// Stops running the handler `token` names.
    package static func remove(_ token: Token) {
        _ = registry.withLock { $0.handlers[token.signal]?.removeValue(forKey: token.id) }
    }

    private static func fire(_ signalNumber: Int32) {
        let handlers = registry.withLock { registry in registry.handlers[signalNumber].map { $0.sorted { $0.key < $1.key }.map(\.value) } ?? [] }
        for handler in handlers { handler() }
    }
}
