import Logging
import SkynetRPC

/// How a service names itself and where it listens: from code, then `SKYNET_*`
/// environment, then the seed's flags (`-name -version -region -host -l -admin
/// -coordinators`), each later source winning.
///
/// Every value is checked when the configuration is made: a name, version, region or
/// host that cannot be a path segment, or an address that is not `HOST:PORT` /
/// `HOST:LOW-HIGH`, is a `ServiceConfigError` naming the field.
public struct ServiceConfig: Sendable {
    /// The service's name (`echo`).
    public var name: String
    /// Its version (`1`, `2.1.0`).
    public var version: String
    /// Its region (`us`, `eu-west`).
    public var region: String
    /// The host it registers under (defaults to the service address's host).
    public var host: String
    /// Where it serves calls; the first free port of the range wins.
    public var serviceAddress: AddressRange
    /// Where it serves admin calls (`register`, `unregister`, `stop`, `logLevel`, `stats`, `info`).
    public var adminAddress: AddressRange
    /// Coordinator addresses, `host:port`.
    public var coordinators: [String]
    /// The TTL of the service's registration session.
    public var sessionTTL: Duration
    /// The load (`ServiceProtocol.load`, 1 = fully busy) over which the instance takes
    /// itself out of rotation, after three one-second samples over it; nil: never.
    public var loadCeiling: Double?
    /// The load under which an instance out of rotation for load comes back, after five
    /// samples under it (defaults to 80% of the ceiling).
    public var loadFloor: Double?
    /// How often the health check (`ServiceProtocol.healthCheck`) runs, and how long it may take.
    public var healthCheckInterval: Duration
    /// Where to serve Prometheus `/metrics` (`HOST:PORT`; port 0 picks one); nil: nowhere.
    public var metricsAddress: HostPort?
    /// Where the service logs.
    public var logger: Logger
    /// How long the service's own coordinator calls (registering, keepalives, following its
    /// ring) may take each before they fail `Unavailable`.
    public var coordinatorTimeout: Duration = .seconds(5)
    /// TLS for the service and admin ports and the coordinator link (SIGHUP re-reads its
    /// files); nil: plain TCP.
    public var tls: RPCTLS?
    /// Serve in plain TCP on an address other machines reach. Off by default: without TLS
    /// such a service refuses to start, since anyone reaching its admin port could stop it.
    public var insecure = false
    /// The token the service presents to the coordinator (auth on). With it, its admin
    /// calls (`register`, `unregister`, `stop`, `logLevel`) obey only callers whose token
    /// holds `admin` on the instance's path.
    public var token: String?

    /// The flags `overriding(environment:arguments:)` and `commandLine` understand.
    public static var flags: Set<String> { Set(flagTable.map(\.name)) }

    /// Each flag with the variable it overrides and its help line.
    package static let flagTable: [ConfigFlag] = [
        ConfigFlag("name", "SKYNET_NAME", value: "NAME", help: "the service's name"),
        ConfigFlag("version", "SKYNET_VERSION", value: "VERSION", help: "its version"),
        ConfigFlag("region", "SKYNET_REGION", value: "REGION", help: "its region"),
        ConfigFlag("host", "SKYNET_HOST", value: "HOST", help: "the host it registers under"),
        ConfigFlag("l", "SKYNET_SERVICE_ADDR", value: "HOST:PORT[-PORT]", help: "where it serves calls; the first free port wins"),
        ConfigFlag("admin", "SKYNET_ADMIN_ADDR", value: "HOST:PORT[-PORT]", help: "where it serves admin calls"),
        ConfigFlag("coordinators", "SKYNET_COORDINATORS", value: "HOST:PORT,...", help: "the coordinator addresses"),
        ConfigFlag("load-ceiling", "SKYNET_LOAD_CEILING", value: "FRACTION", help: "leave rotation while load stays over it (0.9: 90% busy)"),
        ConfigFlag("load-floor", "SKYNET_LOAD_FLOOR", value: "FRACTION", help: "return to rotation once load stays under it"),
        ConfigFlag("metrics", "SKYNET_METRICS", value: "HOST:PORT", help: "serve Prometheus /metrics there"),
    ] + TLSFlags.table + [
        TokenFlag.flag,
        ConfigFlag("insecure", "SKYNET_INSECURE", value: "", help: "serve without TLS on an address other machines reach"),
    ]

    /// The flags that take no value.
    package static let booleanFlags: Set<String> = TLSFlags.booleans.union(["insecure"])

    /// Creates and checks a configuration.
    public init(
        name: String, version: String = "1", region: String = "local", host: String? = nil,
        serviceAddress: String = "127.0.0.1:9000-9999", adminAddress: String = "127.0.0.1:9000-9999",
        coordinators: [String] = ["127.0.0.1:8046"], sessionTTL: Duration = .seconds(5),
        loadCeiling: Double? = nil, loadFloor: Double? = nil, healthCheckInterval: Duration = .seconds(3),
        metricsAddress: String? = nil, logger: Logger = Logger(label: "skynet.service")
    ) throws(ServiceConfigError) {
        let service = try AddressRange(serviceAddress, field: "serviceAddress")
        try self.init(
            name: name, version: version, region: region, host: host ?? service.host, service: service,
            admin: try AddressRange(adminAddress, field: "adminAddress"), coordinators: coordinators,
            sessionTTL: sessionTTL, loadCeiling: loadCeiling, loadFloor: loadFloor, healthCheckInterval: healthCheckInterval,
            metricsAddress: try metricsAddress.map { (text) throws(ServiceConfigError) in try Self.metricsAddress(text, field: "metricsAddress") },
            logger: logger)
    }

    private init(
        name: String, version: String, region: String, host: String, service: AddressRange, admin: AddressRange,
        coordinators: [String], sessionTTL: Duration, loadCeiling: Double?, loadFloor: Double?, healthCheckInterval: Duration,
        metricsAddress: HostPort?, logger: Logger
    ) throws(ServiceConfigError) {
        try ServicePath.validate(name, field: "name")
        try ServicePath.validate(version, field: "version")
        try ServicePath.validate(region, field: "region")
        try ServicePath.validate(host, field: "host")
        guard !coordinators.isEmpty, coordinators.allSatisfy({ HostPort($0) != nil }) else {
            throw ServiceConfigError(field: "coordinators", "expected host:port[,host:port...], found \"\(coordinators.joined(separator: ","))\"")
        }
        guard sessionTTL >= .milliseconds(100) else {
            throw ServiceConfigError(field: "sessionTTL", "must be at least 100 ms, found \(sessionTTL)")
        }
        if let loadCeiling, !(loadCeiling > 0 && loadCeiling.isFinite) {
            throw ServiceConfigError(field: "loadCeiling", "must be a number over 0 (0.9 is 90% busy), found \(loadCeiling)")
        }
        if let loadFloor {
            guard loadCeiling != nil else { throw ServiceConfigError(field: "loadFloor", "needs a load ceiling") }
            guard loadFloor >= 0, loadFloor < loadCeiling! else {
                throw ServiceConfigError(field: "loadFloor", "must be at least 0 and under the ceiling \(loadCeiling!), found \(loadFloor)")
            }
        }
        guard healthCheckInterval >= .milliseconds(10) else {
            throw ServiceConfigError(field: "healthCheckInterval", "must be at least 10 ms, found \(healthCheckInterval)")
        }
        self.name = name
        self.version = version
        self.region = region
        self.host = host
        self.serviceAddress = service
        self.adminAddress = admin
        self.coordinators = coordinators
        self.sessionTTL = sessionTTL
        self.loadCeiling = loadCeiling
        self.loadFloor = loadFloor
        self.healthCheckInterval = healthCheckInterval
        self.metricsAddress = metricsAddress
        self.logger = logger
    }

    /// Parses a metrics listen address, naming `field` when it is not `HOST:PORT`.
    private static func metricsAddress(_ text: String, field: String) throws(ServiceConfigError) -> HostPort {
        guard let address = HostPort(text), !address.host.isEmpty else {
            throw ServiceConfigError(field: field, "expected HOST:PORT (port 0 picks a free one), found \"\(text)\"")
        }
        return address
    }

    /// Parses a load mark, naming `field` when it is not a number.
    private static func fraction(_ text: String, field: String) throws(ServiceConfigError) -> Double {
        guard let value = Double(text) else {
            throw ServiceConfigError(field: field, "expected a number such as 0.9 (90% busy), found \"\(text)\"")
        }
        return value
    }

    /// The overload marks the instance's rotation governor applies, when it has a ceiling.
    var rotationLimits: RotationGovernor.Limits? {
        loadCeiling.map { RotationGovernor.Limits(ceiling: $0, floor: loadFloor ?? $0 * 0.8) }
    }

    /// This configuration with `SKYNET_*` variables applied (an empty one counts as unset),
    /// then flags from `arguments` (without the program name). Errors name the variable or
    /// flag at fault; an argument that is not a flag is one.
    public func overriding(environment: [String: String], arguments: [String] = []) throws(ServiceConfigError) -> ServiceConfig {
        let flags = try GoFlags(arguments, known: Self.flags, booleans: Self.booleanFlags)
        try flags.requireOnlyFlags()
        func pick(_ flag: String, _ variable: String) -> (String, String)? {
            flags.value(flag, orVariable: variable, in: environment)
        }
        func checked(_ value: (String, String)?, fallback: String) throws(ServiceConfigError) -> String {
            guard let (text, source) = value else { return fallback }
            try ServicePath.validate(text, field: source)
            return text
        }
        let name = try checked(pick("name", "SKYNET_NAME"), fallback: self.name)
        let version = try checked(pick("version", "SKYNET_VERSION"), fallback: self.version)
        let region = try checked(pick("region", "SKYNET_REGION"), fallback: self.region)
        let service = try pick("l", "SKYNET_SERVICE_ADDR").map { (text, source) throws(ServiceConfigError) in try AddressRange(text, field: source) } ?? serviceAddress
        let admin = try pick("admin", "SKYNET_ADMIN_ADDR").map { (text, source) throws(ServiceConfigError) in try AddressRange(text, field: source) } ?? adminAddress
        // An explicit host wins; otherwise a new service address brings its host along.
        let host = try checked(pick("host", "SKYNET_HOST"), fallback: service != serviceAddress && self.host == serviceAddress.host ? service.host : self.host)
        let coordinators = pick("coordinators", "SKYNET_COORDINATORS").map { $0.0.split(separator: ",").map { String($0) } } ?? self.coordinators
        let ceiling = try pick("load-ceiling", "SKYNET_LOAD_CEILING").map { (text, source) throws(ServiceConfigError) in try Self.fraction(text, field: source) } ?? loadCeiling
        let floor = try pick("load-floor", "SKYNET_LOAD_FLOOR").map { (text, source) throws(ServiceConfigError) in try Self.fraction(text, field: source) } ?? loadFloor
        let metrics = try pick("metrics", "SKYNET_METRICS").map { (text, source) throws(ServiceConfigError) in try Self.metricsAddress(text, field: source) } ?? metricsAddress
        var overridden = try ServiceConfig(
            name: name, version: version, region: region, host: host, service: service, admin: admin,
            coordinators: coordinators, sessionTTL: sessionTTL, loadCeiling: ceiling, loadFloor: floor,
            healthCheckInterval: healthCheckInterval, metricsAddress: metrics, logger: logger)
        overridden.coordinatorTimeout = coordinatorTimeout
        overridden.tls = try TLSFlags.tls(flags, environment: environment, current: tls)
        overridden.insecure = insecure
        overridden.token = try TokenFlag.token(pick("token", "SKYNET_TOKEN")) ?? token
        if let (text, source) = pick("insecure", "SKYNET_INSECURE") {
            switch text.lowercased() {
            case "true", "1", "yes": overridden.insecure = true
            case "false", "0", "no": overridden.insecure = false
            default: throw ServiceConfigError(field: source, "expected true or false, found \"\(text)\"")
            }
        }
        try overridden.checkExposure()
        return overridden
    }

    /// Throws naming the address when the service or admin port would be plain TCP on an
    /// address other machines reach, with neither a token nor `insecure` (checked again
    /// when binding).
    func checkExposure() throws(ServiceConfigError) {
        for (field, what, range) in [("serviceAddress", "calls", serviceAddress), ("adminAddress", "admin calls", adminAddress)] {
            if let refusal = ExposurePolicy.refusal(what, host: range.host, tls: tls != nil, auth: token != nil, insecure: insecure, tlsFlags: "-tls-cert and -tls-key", authFlag: "-token", insecureFlag: "-insecure") {
                throw ServiceConfigError(field: field, refusal)
            }
        }
    }

    /// The path of this service's instance file once bound to `port`.
    public func instancePath(port: Int) -> String {
        ServicePath.instance(name: name, version: version, region: region, host: host, port: port)
    }
}
