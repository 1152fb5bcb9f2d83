import Foundation

/// One etcd member's client address, as `--store etcd://h1:2379,h2:2379` names it.
public struct EtcdEndpoint: Hashable, Sendable, CustomStringConvertible {
    /// The host name or IPv4 address.
    public var host: String
    /// The client port.
    public var port: Int

    /// An endpoint at `host:port`.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }

    /// The endpoints of a store URL `etcd://h1:2379,h2:2379` (the scheme may be left out);
    /// nil when a part is not `host:port` with a port from 1 to 65535.
    public static func list(_ url: String) -> [EtcdEndpoint]? {
        let body = url.hasPrefix("etcd://") ? String(url.dropFirst("etcd://".count)) : url
        var endpoints: [EtcdEndpoint] = []
        for part in body.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmingCharacters(in: .whitespaces)
            guard let colon = item.lastIndex(of: ":"), let port = Int(item[item.index(after: colon)...]),
                  (1...65535).contains(port), colon > item.startIndex
            else { return nil }
            endpoints.append(EtcdEndpoint(host: String(item[..<colon]), port: port))
        }
        return endpoints.isEmpty ? nil : endpoints
    }
}
