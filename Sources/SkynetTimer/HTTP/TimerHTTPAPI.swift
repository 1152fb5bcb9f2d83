import Foundation
import HTTPTypes
import Hummingbird
import MessagePack
import NIOCore
import SkynetRPC

/// The Skyring-compatible HTTP API over a `TimerNode`:
///
/// - `POST /timer` → 201 with `Location: /timer/<id>`
/// - `PUT /timer/:id` → 200, `DELETE /timer/:id` → 202, `GET /timer/:id` → 200; 404 for ids
///   unknown, cancelled or delivered
/// - `GET /timer?state=failed&after=<id>&limit=<n>` → 200 `{"timers": [...], "next": <id>}`
/// - `GET /ping` → 200
///
/// Bad input gets 400 with `x-skyring-reason: <field>: <rule>` and the same as JSON
/// `{"code": "BadRequest", "message": ...}`.
enum TimerHTTPAPI {
    /// Largest request body read.
    static let maxBody = 1 << 20
    static let reasonHeader = HTTPField.Name("x-skyring-reason")!

    static func router(node: TimerNode) -> Router<BasicRequestContext> {
        let router = Router()
        addRoutes(to: router, node: node)
        return router
    }

    /// Adds the API's routes to `router` (skynetd's HTTP port serves them beside its own).
    static func addRoutes(to router: Router<BasicRequestContext>, node: TimerNode) {
        router.get("/ping") { _, _ in Response(status: .ok) }
        router.post("/timer") { request, context in
            await answer {
                let spec = try await spec(request, context)
                let record = try await node.create(spec)
                return try json(.created, record.wireValue(dataAsText: true), headers: [.location: "/timer/\(record.idText)"])
            }
        }
        router.put("/timer/:id") { request, context in
            await answer {
                let id = try uuid(context)
                let spec = try await spec(request, context)
                return try json(.ok, try await node.update(id, spec).wireValue(dataAsText: true))
            }
        }
        router.delete("/timer/:id") { _, context in
            await answer {
                try await node.cancel(try uuid(context))
                return Response(status: .accepted)
            }
        }
        router.get("/timer/:id") { _, context in
            await answer { try json(.ok, try await node.get(try uuid(context)).wireValue(dataAsText: true)) }
        }
        router.get("/timer") { request, _ in
            await answer {
                let parameters = request.uri.queryParameters
                let (state, after) = (parameters["state"].map(String.init), parameters["after"].map(String.init))
                let limit = parameters["limit"].map { Int64(String($0)) ?? 0 }
                let query = try TimerSpecError.asBadRequest { () throws(TimerSpecError) in try TimerListQuery(state: state, after: after, limit: limit) }
                return try json(.ok, query.page(try await node.list(query), dataAsText: true))
            }
        }
    }

    private static func spec(_ request: Request, _ context: BasicRequestContext) async throws -> TimerSpec {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: maxBody)
        } catch {
            throw RPCError(.badRequest, "body: must be at most \(maxBody) bytes")
        }
        let value: MessagePackValue
        do {
            value = try JSONDecoder().decode(MessagePackValue.self, from: Data(body.readableBytesView))
        } catch {
            throw RPCError(.badRequest, "body: not valid JSON")
        }
        return try TimerSpecError.asBadRequest { () throws(TimerSpecError) in try TimerSpecParser.parse(value) }
    }

    private static func uuid(_ context: BasicRequestContext) throws -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(text: text) else { throw RPCError(.notFound, "no timer \(text) (not a timer id)") }
        return id
    }

    /// Runs `body`, turning errors into their HTTP status with the error as JSON.
    private static func answer(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let error as RPCError {
            let status: HTTPResponse.Status
            switch error.code {
            case .badRequest: status = .badRequest
            case .notFound: status = .notFound
            case .unavailable, .noSuchMethod: status = .serviceUnavailable
            case .deadlineExceeded: status = .gatewayTimeout
            default: status = .internalServerError
            }
            var headers = HTTPFields()
            if status == .badRequest { headers[reasonHeader] = error.message }
            let value: MessagePackValue = .map([("code", .string(error.code.rawValue)), ("message", .string(error.message))])
            return (try? json(status, value, headers: headers)) ?? Response(status: status)
        } catch {
            let value: MessagePackValue = .map([("code", "Internal"), ("message", .string("\(error)"))])
            return (try? json(.internalServerError, value)) ?? Response(status: .internalServerError)
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ value: MessagePackValue, headers: HTTPFields = [:]) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers = headers
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
