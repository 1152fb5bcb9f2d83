import MessagePack
import SkynetRPC
import Synchronization

/// The connections that asked for load reports (`skynet.load.subscribe`), and the push of
/// each new report to all of them: encoded once, written to each without a task apiece.
final class LoadReporter: Sendable {
    private let subscribers = Mutex<[ObjectIdentifier: RPCServerConnection]>([:])

    /// Adds the connection until it closes; a second subscription is a no-op.
    func subscribe(_ connection: RPCServerConnection) {
        let id = connection.id
        let added = subscribers.withLock { $0.updateValue(connection, forKey: id) == nil }
        guard added else { return }
        connection.onClose { [weak self] in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
    }

    /// Connections subscribed now.
    var count: Int { subscribers.withLock { $0.count } }

    /// Sends `report` to every subscribed connection.
    func push(_ report: LoadReport) {
        let connections = subscribers.withLock { Array($0.values) }
        guard !connections.isEmpty, let value = try? MessagePackEncoder().encodeToValue(report) else { return }
        let buffer = RPCMessage.notification(method: LoadReport.notification, params: [value]).encoded()
        let bytes = Array(buffer.readableBytesView)
        for connection in connections {
            connection.writeEncoded(bytes) { _ in }
        }
    }
}
