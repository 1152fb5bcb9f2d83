import SkynetRPC

/// What a Skynet service is: its methods, and optional lifecycle hooks.
///
/// ```swift
/// struct Echo: ServiceProtocol {
///     func registerMethods(_ router: inout RPCRouter) {
///         router.register("echo") { (text: String) in text }
///     }
/// }
/// try await Service(config: .commandLine(name: "echo"), delegate: Echo()).start()
/// ```
/// Hooks run on the service's own tasks; the defaults do nothing.
public protocol ServiceProtocol: Sendable {
    /// Registers the methods callers can use, as typed Codable handlers on `router`.
    func registerMethods(_ router: inout RPCRouter)
    /// The service listens (before it is registered).
    func started(_ service: Service) async
    /// The service stopped serving.
    func stopped(_ service: Service) async
    /// The service entered rotation: clients may send it calls.
    func registered(_ service: Service) async
    /// The service left rotation: clients send it no new calls.
    func unregistered(_ service: Service) async
    /// Ranges of keys moved to or from this instance (see `Service.isMine`).
    func keysMoved(_ service: Service, _ moves: [KeyRangeMove]) async
    /// The health check, run every `ServiceConfig.healthCheckInterval` (and given as long to
    /// answer): throwing takes the instance out of rotation with the error as the reason in
    /// its `ServiceInfo`; passing again brings it back. The default always passes.
    func healthCheck(_ service: Service) async throws
    /// The figure the overload ceiling (`ServiceConfig.loadCeiling`) applies to, from the
    /// last second's `report`; 1 means fully busy. The default is `report.cpu`.
    func load(_ report: LoadReport) -> Double
}

extension ServiceProtocol {
    public func started(_ service: Service) async {}
    public func stopped(_ service: Service) async {}
    public func registered(_ service: Service) async {}
    public func unregistered(_ service: Service) async {}
    public func keysMoved(_ service: Service, _ moves: [KeyRangeMove]) async {}
    public func healthCheck(_ service: Service) async throws {}
    public func load(_ report: LoadReport) -> Double { report.cpu }
}
