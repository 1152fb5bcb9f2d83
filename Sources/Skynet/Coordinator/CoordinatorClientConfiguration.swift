import SkynetRPC

/// Where a `CoordinatorClient` connects and how patient it is.
public struct CoordinatorClientConfiguration: Sendable {
    /// Coordinator addresses as `host:port`, tried in order and then round-robin.
    public var addresses: [String]
    /// How long one call may take, including waiting for a connection.
    public var callTimeout: Duration
    /// How long one connection attempt may take.
    public var connectTimeout: Duration
    /// First and longest wait between reconnection rounds (jittered, doubling).
    public var backoff: ClosedRange<Duration>
    /// Fail waiting calls as soon as one round over every address failed, instead of
    /// retrying until the call timeout: for tools (such as `sky`) where a person waits.
    public var failFast: Bool
    /// TLS for the coordinator link; nil: plain TCP.
    public var tls: RPCTLS?
    /// The bearer token presented (`auth`) on every connection, for a coordinator with
    /// auth on; nil: anonymous. A refused token fails calls with `Unauthorized`.
    public var token: String?

    /// Creates a configuration; by default `127.0.0.1:8046`, 5 s calls, 1 s connects,
    /// backoff from 50 ms to 2 s.
    public init(
        addresses: [String] = ["127.0.0.1:8046"], callTimeout: Duration = .seconds(5),
        connectTimeout: Duration = .seconds(1), backoff: ClosedRange<Duration> = .milliseconds(50)...(.seconds(2)),
        failFast: Bool = false, tls: RPCTLS? = nil, token: String? = nil
    ) {
        self.token = token
        self.failFast = failFast
        self.tls = tls
        self.addresses = addresses
        self.callTimeout = callTimeout
        self.connectTimeout = connectTimeout
        self.backoff = backoff
    }

    /// Addresses from `SKYNET_COORDINATORS` (comma-separated), else the default; the
    /// token from `SKYNET_TOKEN`.
    public static func fromEnvironment(_ environment: [String: String]) -> CoordinatorClientConfiguration {
        let token = environment["SKYNET_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        guard let list = environment["SKYNET_COORDINATORS"], !list.isEmpty else { return .init(token: token) }
        return .init(addresses: list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, token: token)
    }
}

import Foundation
