import Metrics
import Prometheus

/// The process's Prometheus registry, with swift-metrics bootstrapped to it on first use.
///
/// Only executables bootstrap a metrics backend: skynetd at start, and a service program
/// when its operator asks for `/metrics` (`-metrics HOST:PORT`), through `Service.start`
/// (the program's whole body). A program that bootstraps swift-metrics itself must not
/// also pass `-metrics`: swift-metrics allows one bootstrap per process.
package enum PrometheusExport {
    /// The registry; the first use bootstraps swift-metrics with it (once per process).
    package static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Fine enough for calls that take tens of microseconds.
        factory.defaultDurationHistogramBuckets = [
            .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        factory.defaultValueHistogramBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
        MetricsSystem.bootstrap(factory)
        return registry
    }()
}
