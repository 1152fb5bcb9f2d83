import Metrics

/// A service client's series, created once per pool through swift-metrics (a program that
/// bootstrapped no backend pays next to nothing): labelled by service name only, never by
/// instance, so the label set stays bounded however the fleet churns.
struct PoolMetrics: Sendable {
    let picks: Counter
    let retries: Counter
    let budgetRefusals: Counter
    let ejections: Counter
    let noInstance: Counter
    private let instances: [(state: String, gauge: Gauge)]

    init(service: String, factory: any MetricsFactory) {
        let dimensions = [("service", service)]
        picks = Counter(label: "skynet_pool_picks_total", dimensions: dimensions, factory: factory)
        retries = Counter(label: "skynet_pool_retries_total", dimensions: dimensions, factory: factory)
        budgetRefusals = Counter(label: "skynet_pool_retry_budget_refusals_total", dimensions: dimensions, factory: factory)
        ejections = Counter(label: "skynet_pool_ejections_total", dimensions: dimensions, factory: factory)
        noInstance = Counter(label: "skynet_pool_no_instance_total", dimensions: dimensions, factory: factory)
        instances = ["ready", "connecting", "backing_off", "ejected", "out_of_rotation"].map { state in
            (state, Gauge(label: "skynet_pool_instances", dimensions: dimensions + [("state", state)], factory: factory))
        }
    }

    /// Records how many instances stand in each state.
    func record(_ census: InstancePool.Census) {
        let counts = [census.ready, census.connecting, census.backingOff, census.ejected, census.outOfRotation]
        for (index, count) in counts.enumerated() { instances[index].gauge.record(count) }
    }
}
