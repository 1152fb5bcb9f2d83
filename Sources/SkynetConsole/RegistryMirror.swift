import MessagePack
import Skynet
import SkynetTree

/// The registry as the console sees it: every instance by its registry path, kept from one
/// walk and then the watch's events, and the changes each event makes.
///
/// Pure: the shell feeds it what the coordinator said; files that are not instance records
/// (other depths, undecodable values) are left out rather than failing the feed.
struct RegistryMirror {
    /// One change to what the console shows.
    enum Change: Hashable, Sendable {
        /// An instance appeared or its record changed.
        case put(RegistryInstance)
        /// The instance at this path is gone.
        case removed(path: String)
    }

    /// The revision the mirror reflects.
    private(set) var revision: Int64 = 0
    private(set) var instances: [String: RegistryInstance] = [:]

    /// Replaces everything with `files`, read at `revision`.
    mutating func reset(revision: Int64, files: [TreeFile]) {
        self.revision = revision
        instances = [:]
        for file in files {
            if let instance = RegistryInstance(path: file.path.string, value: file.value) { instances[instance.path] = instance }
        }
    }

    /// Applies one revision's events; returns the changes the console must show, in order.
    mutating func apply(revision: Int64, events: [TreeEvent]) -> [Change] {
        self.revision = max(self.revision, revision)
        var changes: [Change] = []
        for event in events {
            let path = event.path.string
            switch event.kind {
            case .put:
                if let instance = RegistryInstance(path: path, value: event.value) {
                    guard instances[path] != instance else { continue }
                    instances[path] = instance
                    changes.append(.put(instance))
                } else if instances.removeValue(forKey: path) != nil {
                    changes.append(.removed(path: path))
                }
            case .delete:
                if instances.removeValue(forKey: path) != nil { changes.append(.removed(path: path)) }
            }
        }
        return changes
    }

    /// Every instance, by region, host, service, version and port.
    var sorted: [RegistryInstance] { instances.values.sorted() }
}

/// One instance as the console shows it: its registry path and its record.
struct RegistryInstance: Codable, Hashable, Sendable, Comparable {
    /// Its registry path, `/skynet/services/<name>/<version>/<region>/<host>/<port>`.
    var path: String
    /// What the instance published.
    var info: ServiceInfo

    init(path: String, info: ServiceInfo) {
        self.path = path
        self.info = info
    }

    /// The record in a registry file, or `nil` when the file is not one.
    init?(path: String, value: [UInt8]) {
        guard ServicePath.parse(path) != nil, let info = try? MessagePackDecoder().decode(ServiceInfo.self, from: value) else { return nil }
        self.init(path: path, info: info)
    }

    static func < (a: Self, b: Self) -> Bool {
        (a.info.region, a.info.host, a.info.name, a.info.version, a.info.port ?? 0, a.path)
            < (b.info.region, b.info.host, b.info.name, b.info.version, b.info.port ?? 0, b.path)
    }
}
