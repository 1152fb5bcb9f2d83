import Foundation

/// What an instance publishes about itself in its ephemeral registry file (as a
/// MessagePack map with these field names), and what `Query` and `sky` read back; docs/WIRE.md
/// ("Registry layout") specifies it for other languages.
public struct ServiceInfo: Codable, Hashable, Sendable {
    /// A unique id for this run of the instance.
    public var uuid: String
    /// Service name.
    public var name: String
    /// Service version.
    public var version: String
    /// Region.
    public var region: String
    /// Host it registers under.
    public var host: String
    /// Where it serves calls, `host:port`.
    public var serviceAddress: String
    /// Where it serves admin calls, `host:port`.
    public var adminAddress: String
    /// Its process id.
    public var pid: Int32
    /// When it started.
    public var started: Date
    /// False while it runs out of rotation (clients send it no new calls).
    public var registered: Bool
    /// Why it is out of rotation (nil while it is in): an admin's `unregister`, a failing
    /// health check, or load over its ceiling.
    public var outOfRotation: OutOfRotation?
    /// Free-form labels.
    public var metadata: [String: String]

    /// Creates an info record.
    public init(
        uuid: String, name: String, version: String, region: String, host: String, serviceAddress: String,
        adminAddress: String, pid: Int32, started: Date, registered: Bool, outOfRotation: OutOfRotation? = nil,
        metadata: [String: String] = [:]
    ) {
        self.uuid = uuid
        self.name = name
        self.version = version
        self.region = region
        self.host = host
        self.serviceAddress = serviceAddress
        self.adminAddress = adminAddress
        self.pid = pid
        self.started = started
        self.registered = registered
        self.outOfRotation = outOfRotation
        self.metadata = metadata
    }

    /// The port of the service address, when it has one.
    public var port: Int? { HostPort(serviceAddress)?.port }

    /// The registry path of this instance.
    public var path: String? {
        port.map { ServicePath.instance(name: name, version: version, region: region, host: host, port: $0) }
    }
}
