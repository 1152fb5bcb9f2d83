import MessagePack
import SkynetTree

/// Criteria over registered instances (empty or `nil` = any), answered from the registry:
/// `findInstances`, `findHosts`, `findServices`, `findRegions`, `serviceVersions`, and
/// `watch`, which follows the matching set as it changes.
public struct Query: Hashable, Sendable {
    /// Service name.
    public var service: String?
    /// Service version.
    public var version: String?
    /// Region.
    public var region: String?
    /// Host.
    public var host: String?
    /// Only instances in (true) or out of (false) rotation; `nil` for both.
    public var registered: Bool?

    /// Creates criteria.
    public init(service: String? = nil, version: String? = nil, region: String? = nil, host: String? = nil, registered: Bool? = nil) {
        self.service = service
        self.version = version
        self.region = region
        self.host = host
        self.registered = registered
    }

    /// The registry glob these criteria walk.
    public var glob: String { ServicePath.glob(name: service, version: version, region: region, host: host) }

    /// True when `info` meets the criteria.
    public func matches(_ info: ServiceInfo) -> Bool {
        func same(_ wanted: String?, _ actual: String) -> Bool { (wanted?.isEmpty ?? true) || wanted == actual }
        return same(service, info.name) && same(version, info.version) && same(region, info.region)
            && same(host, info.host) && (registered == nil || registered == info.registered)
    }

    /// Matching instances, sorted by path.
    public func findInstances(_ coordinator: CoordinatorClient) async throws -> [ServiceInfo] {
        try await Self.decode(coordinator.walk(glob)).filter(matches)
    }

    /// Hosts with a matching instance, sorted.
    public func findHosts(_ coordinator: CoordinatorClient) async throws -> [String] {
        Set(try await findInstances(coordinator).map(\.host)).sorted()
    }

    /// Services with a matching instance, sorted.
    public func findServices(_ coordinator: CoordinatorClient) async throws -> [String] {
        Set(try await findInstances(coordinator).map(\.name)).sorted()
    }

    /// Regions with a matching instance, sorted.
    public func findRegions(_ coordinator: CoordinatorClient) async throws -> [String] {
        Set(try await findInstances(coordinator).map(\.region)).sorted()
    }

    /// Versions with a matching instance, sorted.
    public func serviceVersions(_ coordinator: CoordinatorClient) async throws -> [String] {
        Set(try await findInstances(coordinator).map(\.version)).sorted()
    }

    /// The matching set now and after every change, resuming by itself across coordinator
    /// reconnects. Each element is the whole set, so a consumer that reads slowly gets only
    /// the newest one (memory stays bounded). Ends with an error only if the registry
    /// cannot be watched at all.
    public func watch(_ coordinator: CoordinatorClient) -> AsyncThrowingStream<[ServiceInfo], any Error> {
        let query = self
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: [ServiceInfo].self, bufferingPolicy: .bufferingNewest(1))
        do {
            let task = Task {
                do {
                    let (revision, files) = try await coordinator.walkAtRevision(query.glob)
                    var current: [String: ServiceInfo] = [:]
                    for file in files { current[file.path.string] = Self.decode(path: file.path.string, value: file.value) }
                    continuation.yield(current.values.filter(query.matches).sorted { $0.serviceAddress < $1.serviceAddress })
                    for try await update in coordinator.watch(query.glob, fromRev: revision + 1) where !update.isProgress {
                        for event in update.events {
                            switch event.kind {
                            case .put: current[event.path.string] = Self.decode(path: event.path.string, value: event.value)
                            case .delete: current[event.path.string] = nil
                            }
                        }
                        continuation.yield(current.values.filter(query.matches).sorted { $0.serviceAddress < $1.serviceAddress })
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return stream
    }

    static func decode(_ files: [TreeFile]) -> [ServiceInfo] {
        files.compactMap { decode(path: $0.path.string, value: $0.value) }
    }

    /// The instance record in a registry file; files that are not one are skipped.
    static func decode(path: String, value: [UInt8]) -> ServiceInfo? {
        guard ServicePath.parse(path) != nil else { return nil }
        return try? MessagePackDecoder().decode(ServiceInfo.self, from: value)
    }
}
