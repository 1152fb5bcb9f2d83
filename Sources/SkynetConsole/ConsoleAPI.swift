import Foundation
import HTTPTypes
import Hummingbird
import MessagePack
import NIOCore
import Skynet
import SkynetRPC
import SkynetTimer
import SkynetTree

/// The dashboard's JSON API and event streams (docs/DASHBOARD.md describes each):
///
/// - `GET /api/topology`: every instance at a revision;
/// - `GET /api/events`: Server-Sent Events, a `snapshot` then `put`/`remove` per change;
/// - `GET /api/stats?instances=UUID,...`: live figures asked of those instances;
/// - `POST /api/instances/UUID/register|unregister|stop`: an admin call on the instance;
/// - `GET /api/tree?path=P`: a file (value and stat) or a directory (children);
/// - `GET /api/tree/events?path=P`: Server-Sent Events, a `change` per write to P or below;
/// - `GET /api/coordinator`: the coordinator's status;
/// - `GET /api/timers`: the in-process timer instance's figures.
///
/// Errors are JSON `{"code", "message"}` with the status that fits: 400 bad input, 404
/// nothing there, 502 an instance did not answer, 503 not ready yet.
enum ConsoleAPI {
    static func addRoutes(to router: Router<BasicRequestContext>, console: ConsoleState) {
        router.get("/api/topology") { _, _ in
            await answer {
                guard let (revision, instances) = console.feed.current else {
                    throw RPCError(.unavailable, "the registry has not been read yet; retry in a moment")
                }
                return try json(.ok, RegistrySnapshot(revision: revision, instances: instances))
            }
        }
        router.get("/api/events") { _, _ in
            eventStream(console.feed.subscribe())
        }
        router.get("/api/stats") { request, _ in
            await answer {
                let list = request.uri.queryParameters["instances"].map(String.init) ?? ""
                let uuids = list.split(separator: ",").map(String.init)
                guard uuids.count <= InstanceAdmin.maxStatsPerRequest else {
                    throw RPCError(.badRequest, "instances: at most \(InstanceAdmin.maxStatsPerRequest) per request, found \(uuids.count)")
                }
                var figures = InstanceFigures()
                var known: [RegistryInstance] = []
                for uuid in uuids {
                    if let instance = console.feed.instance(uuid: uuid) { known.append(instance) } else { figures.errors[uuid] = "no such instance" }
                }
                let asked = await InstanceAdmin.stats(of: known, timeout: console.adminTimeout, tls: console.coordinator.configuration.tls)
                figures.stats = asked.stats
                figures.errors.merge(asked.errors) { $1 }
                return try json(.ok, figures)
            }
        }
        router.post("/api/instances/:uuid/:action") { _, context in
            await answer {
                let uuid = context.parameters.get("uuid") ?? ""
                let action = context.parameters.get("action") ?? ""
                guard InstanceAdmin.actions.contains(action) else {
                    throw RPCError(.badRequest, "action: expected one of \(InstanceAdmin.actions.sorted().joined(separator: ", ")), found \"\(action)\"")
                }
                guard let instance = console.feed.instance(uuid: uuid) else { throw RPCError(.notFound, "no instance \(uuid) in the registry") }
                do {
                    let result = try await InstanceAdmin.call(instance.info.adminAddress, action, timeout: console.adminTimeout, tls: console.coordinator.configuration.tls)
                    return try json(.ok, ActionResult(uuid: uuid, action: action, ok: true, result: result.stringValue ?? "done"))
                } catch let error as RPCError {
                    throw ConsoleFailure(status: .badGateway, code: error.code.rawValue, message: "\(instance.info.adminAddress) refused \(action): \(error.message)")
                }
            }
        }
        router.get("/api/tree") { request, _ in
            await answer {
                let path = try treePath(request, console)
                guard let stat = try await console.coordinator.stat(path.string) else {
                    throw RPCError(.notFound, "nothing at \(path.string)")
                }
                switch stat {
                case .file:
                    guard let file = try await console.coordinator.get(path.string) else { throw RPCError(.notFound, "nothing at \(path.string)") }
                    return try json(.ok, TreeView(file: file))
                case .directory:
                    let children = try await console.coordinator.getdir(path.string)
                    return try json(.ok, TreeView(path: path.string, children: children))
                }
            }
        }
        router.get("/api/tree/events") { request, _ in
            await answer {
                let path = try treePath(request, console)
                return eventStream(TreeFollower.follow(console.coordinator, path.string == "/" ? "/**" : path.string + "/**"))
            }
        }
        router.get("/api/coordinator") { _, _ in
            await answer {
                var status = try await console.coordinator.status()
                if case .map(var fields) = status {
                    fields.append(("dashboards", .int(Int64(console.feed.subscriberCount))))
                    status = .map(fields)
                }
                return try json(.ok, status)
            }
        }
        router.get("/api/timers") { _, _ in
            await answer {
                guard let timer = console.timer else { return try json(.ok, TimerView(running: false, figures: nil)) }
                return try json(.ok, TimerView(running: true, figures: timer.figures()))
            }
        }
    }

    /// A `text/event-stream` response whose frames come from `frames`; the stream ends
    /// when the browser goes (the write fails) or when `frames` ends.
    static func eventStream(_ frames: some AsyncSequence<ByteBuffer, Never> & Sendable) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody(asyncSequence: frames))
    }

    /// The path a tree request names. With auth on the tree is not browsed here: the HTTP
    /// port takes no tokens, and the console's own token reads everything.
    private static func treePath(_ request: Request, _ console: ConsoleState) throws -> TreePath {
        if console.coordinator.configuration.token != nil {
            throw RPCError(.forbidden, "the tree browser is off while the coordinator has auth on; read the tree with `sky get` and a token")
        }
        guard let text = request.uri.queryParameters["path"].map(String.init) else { throw RPCError(.badRequest, "path: missing (for example ?path=/skynet)") }
        do {
            return try TreePath(text)
        } catch {
            throw RPCError(.badRequest, "path: \(error)")
        }
    }

    /// Runs `body`; errors become JSON `{"code", "message"}` with the status that fits.
    static func answer(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let failure as ConsoleFailure {
            return failure.response
        } catch let error as RPCError {
            let status: HTTPResponse.Status
            switch error.code {
            case .badRequest, .tooLarge: status = .badRequest
            case .notFound: status = .notFound
            case .unauthorized: status = .unauthorized
            case .forbidden: status = .forbidden
            case .unavailable, .notLeader: status = .serviceUnavailable
            case .deadlineExceeded: status = .gatewayTimeout
            default: status = .internalServerError
            }
            return ConsoleFailure(status: status, code: error.code.rawValue, message: error.message).response
        } catch let error as TreeError {
            return ConsoleFailure(status: .badRequest, code: "BadRequest", message: "\(error)").response
        } catch {
            return ConsoleFailure(status: .internalServerError, code: "Internal", message: "\(error)").response
        }
    }

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(bytes: try ConsoleJSON.encoder.encode(value))))
    }
}

/// An API error with its HTTP status, answered as JSON `{"code", "message"}`.
struct ConsoleFailure: Error {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    var response: Response {
        (try? ConsoleAPI.json(status, ["code": code, "message": message])) ?? Response(status: status)
    }
}

/// `POST /api/instances/UUID/ACTION`: what the instance answered.
struct ActionResult: Codable, Sendable {
    var uuid: String
    var action: String
    var ok: Bool
    var result: String?
}

/// `GET /api/timers`.
struct TimerView: Codable, Sendable {
    var running: Bool
    var figures: TimerFiguresSnapshot?
}
