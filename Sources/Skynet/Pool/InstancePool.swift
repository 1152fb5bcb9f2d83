/// The state of a service client's pool, as a pure core: which instances exist, how each
/// one's connection stands, how busy and healthy each is, and which one takes the next call.
///
/// The shell feeds it the instance list (from a registry watch), connection outcomes and
/// call outcomes, performs the returned `InstancePool.Action`s (connect, disconnect) and
/// asks `pick` where to send a call. Time comes in as a `Duration` from the shell's
/// monotonic clock and randomness from the caller's generator, so tests replay exactly.
///
/// Picking: only registered instances with a ready connection that are not ejected; the
/// caller's host first, then its region, then anywhere (the Go seed's chooser); within that
/// tier, power of two choices. The two are compared by cost: when both sent a fresh load
/// report (`loadReported`), outstanding calls × reported latency ÷ (1 − utilization) (the
/// queueing delay of a busy server grows like 1 ÷ (1 − ρ)), a report without latency taking
/// the other's; otherwise outstanding calls.
/// Instances reporting a utilization over `loadCeiling` are left out while others can take
/// the call; instances out of rotation for load (`standby`) are called only when no
/// registered instance can, so a fleet overloaded everywhere still serves. A lost connection takes an instance
/// out at once (until it reconnects, with jittered exponential backoff); consecutive call
/// failures eject it for a while (doubling, capped), but never more than
/// `maxEjectedFraction` of the pool, so a bad deploy cannot eject everything.
public struct InstancePool: Sendable {
    /// How eager the pool is to eject and reconnect.
    public struct Configuration: Hashable, Sendable {
        /// Consecutive failed calls that eject an instance.
        public var failuresToEject: Int
        /// First ejection; each further one doubles, up to `maxEjection`.
        public var baseEjection: Duration
        /// Longest ejection.
        public var maxEjection: Duration
        /// Largest share of instances ejected at once; one of two may be, never all of them.
        public var maxEjectedFraction: Double
        /// Reconnection backoff bounds.
        public var backoff: ClosedRange<Duration>
        /// Instances reporting a utilization over this are left out while others can take
        /// the call; nil: none are.
        public var loadCeiling: Double?
        /// How long a load report counts; older ones are ignored.
        public var reportLifetime: Duration

        /// Creates a configuration: eject after 5 failures for 1 s (doubling to 30 s), at most
        /// half the pool; reconnect after 50 ms doubling to 2 s.
        public init(
            failuresToEject: Int = 5, baseEjection: Duration = .seconds(1), maxEjection: Duration = .seconds(30),
            maxEjectedFraction: Double = 0.5, backoff: ClosedRange<Duration> = .milliseconds(50)...(.seconds(2)),
            loadCeiling: Double? = nil, reportLifetime: Duration = .seconds(5)
        ) {
            self.failuresToEject = failuresToEject
            self.baseEjection = baseEjection
            self.maxEjection = maxEjection
            self.maxEjectedFraction = maxEjectedFraction
            self.backoff = backoff
            self.loadCeiling = loadCeiling
            self.reportLifetime = reportLifetime
        }
    }

    /// What the pool knows of an instance from the registry.
    public struct Descriptor: Hashable, Sendable {
        /// Its service address, `host:port`; identifies it in the pool.
        public var address: String
        /// Its region.
        public var region: String
        /// Its host.
        public var host: String
        /// False when it is running but out of rotation.
        public var registered: Bool
        /// Out of rotation for load only: called when no registered instance can take a call.
        public var standby: Bool

        /// Creates a descriptor.
        public init(address: String, region: String, host: String, registered: Bool, standby: Bool = false) {
            self.address = address
            self.region = region
            self.host = host
            self.registered = registered
            self.standby = standby
        }
    }

    /// Where an instance's connection stands.
    public enum ConnectionState: Hashable, Sendable {
        case idle
        case connecting
        case ready
        /// Waiting until `until` before the next connection attempt.
        case backingOff(until: Duration)
    }

    /// What the shell must do.
    public enum Action: Hashable, Sendable {
        /// Open a connection to the instance (report `connected` or `connectFailed`).
        case connect(String)
        /// Close the instance's connection: it left the pool.
        case disconnect(String)
    }

    /// Why a call failed, as far as the pool cares.
    public enum Failure: Hashable, Sendable {
        /// The connection broke: the instance leaves rotation until it reconnects.
        case connectionLost
        /// The call failed or timed out on a working connection.
        case callFailed
    }

    struct Instance: Sendable {
        var descriptor: Descriptor
        var connection: ConnectionState = .idle
        var outstanding = 0
        var consecutiveFailures = 0
        var ejectedUntil: Duration?
        var ejections = 0
        var connectAttempts = 0
        var report: LoadReport?
        var reportedAt = Duration.zero
    }

    /// The configuration in force.
    public let configuration: Configuration
    /// The caller's region and host, preferred when picking.
    public let localRegion: String, localHost: String
    /// Instances sorted by address (so seeded picks replay), and where each one is.
    private var slots: [Instance] = []
    private var position: [String: Int] = [:]
    /// The key-affinity ring over the available instances, rebuilt when they change.
    private var ring = HashRing(members: [])

    /// The instance at `address`, read and written in place.
    private subscript(_ address: String) -> Instance? {
        get { position[address].map { slots[$0] } }
        set {
            guard let i = position[address], let newValue else { return }
            slots[i] = newValue
        }
    }

    /// Creates an empty pool for a caller in `localRegion` on `localHost`.
    public init(configuration: Configuration = .init(), localRegion: String, localHost: String) {
        self.configuration = configuration
        self.localRegion = localRegion
        self.localHost = localHost
    }

    /// Addresses in the pool, sorted.
    public var addresses: [String] { slots.map(\.descriptor.address) }

    /// An instance's connection state, or `nil` when it is not in the pool.
    public func connectionState(of address: String) -> ConnectionState? { self[address]?.connection }

    /// True when the instance is ejected at `now`.
    public func isEjected(_ address: String, now: Duration) -> Bool {
        self[address]?.ejectedUntil.map { $0 > now } ?? false
    }

    /// Replaces the instance list (from the registry); new instances are connected, gone
    /// ones disconnected, others keep their state with their new registration flag.
    public mutating func update(_ descriptors: [Descriptor]) -> [Action] {
        var actions: [Action] = []
        let incoming = Dictionary(descriptors.map { ($0.address, $0) }, uniquingKeysWith: { _, last in last })
        var kept: [Instance] = []
        for instance in slots {
            if let descriptor = incoming[instance.descriptor.address] {
                var instance = instance
                instance.descriptor = descriptor
                kept.append(instance)
            } else {
                actions.append(.disconnect(instance.descriptor.address))
            }
        }
        for address in incoming.keys.sorted() where position[address] == nil {
            kept.append(Instance(descriptor: incoming[address]!, connection: .connecting))
            actions.append(.connect(address))
        }
        slots = kept.sorted { $0.descriptor.address < $1.descriptor.address }
        position = Dictionary(uniqueKeysWithValues: slots.enumerated().map { ($1.descriptor.address, $0) })
        return actions
    }

    /// The instance for the next call, or `nil` when none can take it now. `excluding`
    /// skips instances a retry must avoid.
    public func pick(now: Duration, excluding: Set<String> = [], using generator: inout some RandomNumberGenerator) -> String? {
        if let found = pick(now: now, excluding: excluding, ceiling: configuration.loadCeiling, standby: false, using: &generator) { return found }
        if configuration.loadCeiling != nil, let found = pick(now: now, excluding: excluding, ceiling: nil, standby: false, using: &generator) {
            return found
        }
        return pick(now: now, excluding: excluding, ceiling: nil, standby: true, using: &generator)
    }

    /// One picking pass over registered instances (or, with `standby`, over those out of
    /// rotation for load), leaving out those whose fresh report is over `ceiling`.
    private func pick(now: Duration, excluding: Set<String>, ceiling: Double?, standby: Bool, using generator: inout some RandomNumberGenerator) -> String? {
        // Two passes over the sorted slots, no allocation: find the best tier and its size,
        // then take two random members of it and keep the cheaper one.
        let fresh = now - configuration.reportLifetime
        func tier(_ instance: Instance) -> Int? {
            guard standby ? (!instance.descriptor.registered && instance.descriptor.standby) : instance.descriptor.registered,
                  instance.connection == .ready,
                  !(instance.ejectedUntil.map { $0 > now } ?? false),
                  excluding.isEmpty || !excluding.contains(instance.descriptor.address) else { return nil }
            if let ceiling, let report = instance.report, instance.reportedAt >= fresh, report.utilization > ceiling { return nil }
            if instance.descriptor.region != localRegion { return 2 }
            return instance.descriptor.host == localHost ? 0 : 1
        }
        var best = 3, count = 0
        for instance in slots {
            guard let t = tier(instance) else { continue }
            if t < best { (best, count) = (t, 1) } else if t == best { count += 1 }
        }
        guard count > 0 else { return nil }
        var first = 0, second = 0
        if count > 1 {
            first = Int.random(in: 0..<count, using: &generator)
            second = Int.random(in: 0..<(count - 1), using: &generator)
            if second >= first { second += 1 }
        }
        var a: Instance?, b: Instance?
        var k = 0
        for instance in slots where tier(instance) == best {
            if k == first { a = instance }
            if k == second { b = instance }
            k += 1
        }
        guard let a, let b else { return nil }
        return (cheaper(b, than: a, fresh: fresh) ? b : a).descriptor.address
    }

    /// True when `b` should take the call rather than `a`.
    private func cheaper(_ b: Instance, than a: Instance, fresh: Duration) -> Bool {
        guard let ra = a.report, let rb = b.report, a.reportedAt >= fresh, b.reportedAt >= fresh else {
            return b.outstanding < a.outstanding
        }
        // A report without latency (no calls answered in its window) borrows the other's:
        // read as 0 ms, an instance the pool stopped calling would look faster than any
        // instance it calls, and win every pick whatever its utilization.
        let latencyA = ra.meanLatencyMs > 0 ? ra.meanLatencyMs : max(0, rb.meanLatencyMs)
        let latencyB = rb.meanLatencyMs > 0 ? rb.meanLatencyMs : latencyA
        func cost(_ instance: Instance, _ latency: Double, _ report: LoadReport) -> Double {
            Double(instance.outstanding + 1) * (latency + 0.1) / max(0.05, 1 - min(max(0, report.utilization), 0.95))
        }
        return cost(b, latencyB, rb) < cost(a, latencyA, ra)
    }

    /// An instance's last load report (with when it came), or nil when it sent none.
    public func loadReport(of address: String) -> (report: LoadReport, at: Duration)? {
        guard let instance = self[address], let report = instance.report else { return nil }
        return (report, instance.reportedAt)
    }

    /// How many instances stand in each state, for a pool's gauges.
    public struct Census: Hashable, Sendable {
        /// Registered, connected, not ejected: can take calls.
        public var ready = 0
        /// Connecting now.
        public var connecting = 0
        /// Waiting to connect again.
        public var backingOff = 0
        /// Connected but ejected for failing calls.
        public var ejected = 0
        /// Connected or not, out of rotation.
        public var outOfRotation = 0
    }

    /// How many instances stand in each state at `now`.
    public func census(now: Duration) -> Census {
        var census = Census()
        for instance in slots {
            if !instance.descriptor.registered {
                census.outOfRotation += 1
                continue
            }
            switch instance.connection {
            case .idle, .connecting: census.connecting += 1
            case .backingOff: census.backingOff += 1
            case .ready:
                if instance.ejectedUntil.map({ $0 > now }) ?? false { census.ejected += 1 } else { census.ready += 1 }
            }
        }
        return census
    }

    /// The instance at `address` reported its load.
    public mutating func loadReported(_ address: String, _ report: LoadReport, now: Duration) {
        guard var instance = self[address] else { return }
        instance.report = report
        instance.reportedAt = now
        self[address] = instance
    }

    /// The instance for a call (or a retry, `avoiding` the instances it already tried):
    /// with a `key`, its owner on the ring of available instances, so a key keeps its
    /// instance while the set is stable; otherwise, or when the owner is to be avoided,
    /// `pick`; when every instance was tried, any will do.
    public mutating func pick(now: Duration, key: String?, avoiding tried: Set<String>, using generator: inout some RandomNumberGenerator) -> String? {
        if let key {
            let available = available(now: now)
            if available != ring.members { ring = HashRing(members: available) }
            if let owner = ring.owner(of: key), !tried.contains(owner) { return owner }
        }
        return pick(now: now, excluding: tried, using: &generator) ?? pick(now: now, using: &generator)
    }

    /// A call was sent to `address`.
    public mutating func callStarted(_ address: String) {
        self[address]?.outstanding += 1
    }

    /// A call on `address` succeeded: its failure streak and ejection history reset.
    public mutating func callSucceeded(_ address: String) {
        guard var instance = self[address] else { return }
        instance.outstanding = max(0, instance.outstanding - 1)
        instance.consecutiveFailures = 0
        instance.ejections = 0
        self[address] = instance
    }

    /// A call on `address` failed. Returns the actions to take (a reconnect for a lost connection).
    public mutating func callFailed(_ address: String, _ failure: Failure, now: Duration) -> [Action] {
        guard var instance = self[address] else { return [] }
        instance.outstanding = max(0, instance.outstanding - 1)
        switch failure {
        case .connectionLost:
            self[address] = instance
            return connectionLost(address)
        case .callFailed:
            instance.consecutiveFailures += 1
            if instance.consecutiveFailures >= configuration.failuresToEject, mayEject(now: now, excluding: address) {
                let factor = 1 << min(instance.ejections, 20)
                instance.ejectedUntil = now + min(configuration.maxEjection, configuration.baseEjection * factor)
                instance.ejections += 1
                instance.consecutiveFailures = 0
            }
        }
        self[address] = instance
        return []
    }

    /// The connection to `address` broke (noticed by a call or by the connection itself):
    /// it leaves rotation at once and is reconnected.
    public mutating func connectionLost(_ address: String) -> [Action] {
        guard self[address]?.connection == .ready else { return [] }
        self[address]!.connection = .connecting
        return [.connect(address)]
    }

    /// Addresses of instances that can take calls at `now` (registered, ready, not
    /// ejected), sorted: the members of the key-affinity ring.
    public func available(now: Duration) -> [String] {
        slots.filter { instance in
            instance.descriptor.registered && instance.connection == .ready && !(instance.ejectedUntil.map { $0 > now } ?? false)
        }.map(\.descriptor.address)
    }

    /// The connection to `address` is up.
    public mutating func connected(_ address: String) {
        self[address]?.connection = .ready
        self[address]?.connectAttempts = 0
    }

    /// Connecting to `address` failed; it waits a jittered, doubling delay (returned) before
    /// the shell calls `backoffElapsed`.
    public mutating func connectFailed(_ address: String, now: Duration, using generator: inout some RandomNumberGenerator) -> Duration? {
        guard var instance = self[address] else { return nil }
        let delay = Backoff.delay(attempt: instance.connectAttempts, in: configuration.backoff, using: &generator)
        instance.connectAttempts += 1
        instance.connection = .backingOff(until: now + delay)
        self[address] = instance
        return delay
    }

    /// A backoff delay passed: try `address` again.
    public mutating func backoffElapsed(_ address: String, now: Duration) -> [Action] {
        guard case .backingOff(let until) = self[address]?.connection, until <= now else { return [] }
        self[address]!.connection = .connecting
        return [.connect(address)]
    }

    /// True when ejecting one more instance keeps the ejected share within the cap.
    private func mayEject(now: Duration, excluding address: String) -> Bool {
        let ejected = slots.filter { $0.descriptor.address != address && ($0.ejectedUntil.map { $0 > now } ?? false) }.count
        let allowed = min(slots.count - 1, max(1, Int((Double(slots.count) * configuration.maxEjectedFraction).rounded(.down))))
        return ejected + 1 <= allowed
    }
}
