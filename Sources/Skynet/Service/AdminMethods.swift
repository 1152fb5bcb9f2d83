import Logging
import MessagePack
import SkynetRPC

/// The admin methods every service answers on its admin address: `register`,
/// `unregister`, `stop`, `logLevel` (optional new level; returns the level), `stats`, `info`,
/// and `auth` (a caller's token, for a coordinator with auth on: then the first four obey
/// only tokens with `admin` on the instance's path, see `AdminAuthority`).
/// docs/WIRE.md ("Services") specifies them for instances in other languages.
enum AdminMethods {
    /// The methods that change the instance, which need authority.
    static let guarded: Set<String> = ["register", "unregister", "stop", "logLevel"]

    /// The admin router; it holds the service weakly (the service holds the admin server).
    static func router(for owner: Service) -> RPCRouter {
        weak let weakService = owner
        @Sendable func service() throws -> Service {
            guard let service = weakService else { throw RPCError(.unavailable, "the service is gone") }
            return service
        }
        var router = RPCRouter()
        router.register("register") { () async throws -> Bool in
            try await service().register()
            return true
        }
        router.register("unregister") { () async throws -> Bool in
            try await service().unregister()
            return true
        }
        router.register("stop") { () throws -> Bool in
            let service = try service()
            // Answer first; the stop drains this very call's connection afterwards.
            Task { await service.stop() }
            return true
        }
        router.register("logLevel") { (level: String?) throws -> String in
            let service = try service()
            if let level {
                guard let parsed = Logger.Level(rawValue: level) else {
                    throw RPCError(.badRequest, "logLevel: expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(level)\"")
                }
                service.setLogLevel(parsed)
            }
            return service.log.logLevel.rawValue
        }
        router.register("stats") { () throws in try service().statsSnapshot() }
        let authority = AdminAuthority()
        router.registerRaw("auth") { values, context in
            guard values.count == 1, let token = values[0].stringValue else {
                throw RPCError(.badRequest, "auth: params must be [token: str]")
            }
            authority.present(token, on: context.connection)
            return .bool(true)
        }
        router.wrapMethods { name, handler in
            guard guarded.contains(name) else { return handler }
            return { values, context in
                let service = try service()
                guard let path = service.info?.path else { throw RPCError(.unavailable, "service not started") }
                try await authority.require(name, path: path, context: context, coordinator: service.coordinator)
                return try await handler(values, context)
            }
        }
        router.register("info") { () throws -> ServiceInfo in
            guard let info = try service().info else { throw RPCError(.unavailable, "service not started") }
            return info
        }
        return router
    }
}
