import Logging

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
    /// Where the service logs.
    public var logger: Logger

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
    ]

    /// Creates and checks a configuration.
    public init(
        name: String, version: String = "1", region: String = "local", host: String? = nil,
        serviceAddress: String = "127.0.0.1:9000-9999", adminAddress: String = "127.0.0.1:9000-9999",
        coordinators: [String] = ["127.0.0.1:8046"], sessionTTL: Duration = .seconds(5),
        logger: Logger = Logger(label: "skynet.service")
    ) throws(ServiceConfigError) {
        let service = try AddressRange(serviceAddress, field: "serviceAddress")
        try self.init(
            name: name, version: version, region: region, host: host ?? service.host, service: service,
            admin: try AddressRange(adminAddress, field: "adminAddress"), coordinators: coordinators,
            sessionTTL: sessionTTL, logger: logger)
    }

    private init(
        name: String, version: String, region: String, host: String, service: AddressRange, admin: AddressRange,
        coordinators: [String], sessionTTL: Duration, logger: Logger
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
        self.name = name
        self.version = version
        self.region = region
        self.host = host
        self.serviceAddress = service
        self.adminAddress = admin
        self.coordinators = coordinators
        self.sessionTTL = sessionTTL
        self.logger = logger
    }

    /// This configuration with `SKYNET_*` variables applied (an empty one counts as unset),
    /// then flags from `arguments` (without the program name). Errors name the variable or
    /// flag at fault; an argument that is not a flag is one.
    public func overriding(environment: [String: String], arguments: [String] = []) throws(ServiceConfigError) -> ServiceConfig {
        let flags = try GoFlags(arguments, known: Self.flags)
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
        return try ServiceConfig(
            name: name, version: version, region: region, host: host, service: service, admin: admin,
            coordinators: coordinators, sessionTTL: sessionTTL, logger: logger)
    }

    /// The path of this service's instance file once bound to `port`.
    public func instancePath(port: Int) -> String {
        ServicePath.instance(name: name, version: version, region: region, host: host, port: port)
    }
}
