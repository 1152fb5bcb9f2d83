/// Decides whether a running instance is in rotation, as a pure core: an admin's wish,
/// the health check's verdicts and load samples go in; out comes the reason it is out (or
/// nil), and a change only when that reason's cause changes, so the tree sees transitions
/// and nothing else.
///
/// Load has hysteresis both ways: the instance leaves after `samplesToLeave` consecutive
/// samples over `ceiling`, and returns after `samplesToReturn` consecutive samples under
/// `floor`; a sample between the two marks resets both streaks. A health check takes the
/// instance out on its first failure and brings it back on its first pass. The admin's
/// `unregister` outranks both; health outranks load.
package struct RotationGovernor: Sendable {
    /// The overload marks.
    package struct Limits: Hashable, Sendable {
        package var ceiling: Double
        package var floor: Double
        package var samplesToLeave: Int
        package var samplesToReturn: Int

        package init(ceiling: Double, floor: Double, samplesToLeave: Int = 3, samplesToReturn: Int = 5) {
            self.ceiling = ceiling
            self.floor = min(floor, ceiling)
            self.samplesToLeave = max(1, samplesToLeave)
            self.samplesToReturn = max(1, samplesToReturn)
        }
    }

    package let limits: Limits?
    private(set) var wanted: Bool
    private var unwanted = "taken out of rotation by an admin call"
    private var unhealthy: String?
    private var overloaded: String?
    private var over = 0
    private var under = 0

    /// A governor for an instance the admin wants in (`wanted`) or out.
    package init(wanted: Bool, limits: Limits?) {
        self.wanted = wanted
        self.limits = limits
        if !wanted { unwanted = "started out of rotation" }
    }

    /// Why the instance is out of rotation now, or nil when it is in.
    package var outOfRotation: OutOfRotation? {
        if !wanted { return OutOfRotation(.unregistered, unwanted) }
        if let unhealthy { return OutOfRotation(.unhealthy, unhealthy) }
        if let overloaded { return OutOfRotation(.overloaded, overloaded) }
        return nil
    }

    /// The admin's wish changed (`detail` says why it is out, when it is). Returns the new
    /// reason (nil: in rotation) when the cause changed.
    package mutating func setWanted(_ wanted: Bool, detail: String? = nil) -> OutOfRotation?? {
        changing { governor in
            governor.wanted = wanted
            if let detail { governor.unwanted = detail }
        }
    }

    /// The health check passed (`failure` nil) or failed with `failure` as its reason.
    package mutating func healthChecked(failure: String?) -> OutOfRotation?? {
        changing { $0.unhealthy = failure.map { "health check failed: \($0)" } }
    }

    /// A load sample (`utilization`, 1 = fully busy).
    package mutating func loadSampled(_ utilization: Double) -> OutOfRotation?? {
        guard let limits else { return nil }
        return changing { governor in
            if utilization > limits.ceiling {
                governor.over += 1
                governor.under = 0
            } else if utilization < limits.floor {
                governor.under += 1
                governor.over = 0
            } else {
                governor.over = 0
                governor.under = 0
            }
            if governor.overloaded == nil, governor.over >= limits.samplesToLeave {
                governor.overloaded = "load \(Self.format(utilization)) over its ceiling \(Self.format(limits.ceiling)) for \(governor.over) samples; back under \(Self.format(limits.floor))"
            } else if governor.overloaded != nil, governor.under >= limits.samplesToReturn {
                governor.overloaded = nil
            }
        }
    }

    private mutating func changing(_ body: (inout Self) -> Void) -> OutOfRotation?? {
        let before = outOfRotation?.cause
        body(&self)
        let after = outOfRotation
        return after?.cause == before ? nil : .some(after)
    }

    private static func format(_ value: Double) -> String {
        String(Int((value * 100).rounded())) + "%"
    }
}
