import Metrics
import Prometheus
import SkynetConsole
import SkynetCoordinator
import SkynetTimer
import Synchronization

/// skynetd's `/metrics`: the store's figures read from `status` at each scrape, beside
/// the series the libraries create in the registry skynetd bootstrapped
/// (`PrometheusExport.registry`, the executable's job).
enum SkynetdMetrics {
    /// `/metrics` for `store`: the store's revision, files, sessions, watches, data size,
    /// fsyncs and members, and the timers `timer` holds, brought up to date before each scrape.
    static func console(registry: PrometheusCollectorRegistry, store: any CoordinatorStore, timer: TimerServer?) -> ConsoleMetrics {
        let revision = Gauge(label: "skynet_coordinator_revision")
        let files = Gauge(label: "skynet_coordinator_files")
        let sessions = Gauge(label: "skynet_coordinator_sessions")
        let watches = Gauge(label: "skynet_coordinator_watches")
        let dataSize = Gauge(label: "skynet_coordinator_data_bytes")
        let fsyncs = Counter(label: "skynet_coordinator_fsyncs_total")
        let members = Gauge(label: "skynet_coordinator_members")
        let healthy = Gauge(label: "skynet_coordinator_members_healthy")
        let fsyncsSeen = Mutex(0)
        return ConsoleMetrics(registry: registry) {
            let status = await store.status()
            revision.record(status.revision)
            files.record(status.files)
            sessions.record(status.sessions)
            watches.record(status.watches)
            dataSize.record(status.dataSize)
            let added = fsyncsSeen.withLock { seen in
                defer { seen = max(seen, status.fsyncs) }
                return max(0, status.fsyncs - seen)
            }
            fsyncs.increment(by: added)
            members.record(status.members.count)
            healthy.record(status.members.count { $0.isHealthy })
            Gauge(label: "skynet_coordinator_store_info", dimensions: [("store", status.store)]).record(1)
            _ = timer?.figures()   // records skynet_timer_held
        }
    }
}
