import Synchronization
import SkynetRPC

/// Who may make an instance's state-changing admin calls (`register`, `unregister`,
/// `stop`, `logLevel`) when its coordinator has auth on.
///
/// A caller presents its token once per admin connection (`auth`), or a client
/// certificate when the admin port serves mutual TLS; before obeying, the instance asks
/// the coordinator whether that token (or certificate name) holds `admin` on the instance's path
/// (`checkAccess`), and remembers the answer for `cacheFor`, so a burst of calls costs one
/// question and a revoked token stops working within that time. On a coordinator without
/// auth every caller is obeyed, as before.
final class AdminAuthority: Sendable {
    /// How long an answer of the coordinator is trusted.
    static let cacheFor = Duration.seconds(2)

    private struct Answer {
        var allowed: Bool
        var reason: String
        var until: ContinuousClock.Instant
    }

    private struct State {
        var tokens: [ObjectIdentifier: String] = [:]
        var answers: [String: Answer] = [:]
    }

    private let state = Mutex(State())

    /// Remembers the token `connection` presented.
    func present(_ token: String, on connection: RPCServerConnection) {
        let first = state.withLock { state in
            defer { state.tokens[connection.id] = token }
            return state.tokens[connection.id] == nil
        }
        guard first else { return }
        let id = connection.id
        connection.onClose { [weak self] in self?.state.withLock { _ = $0.tokens.removeValue(forKey: id) } }
    }

    /// Throws `Unauthorized` or `Forbidden` unless the caller's token (or else its verified
    /// client certificate) holds `admin` on `path` (or the coordinator has no auth).
    func require(_ method: String, path: String, context: RPCCallContext, coordinator: CoordinatorClient) async throws {
        let token = state.withLock { $0.tokens[context.connection.id] }
        let certificate = token == nil ? context.peerCertificateName : nil
        let key = (token ?? "") + "\n" + (certificate.map { "cert:" + $0 } ?? "") + "\n" + path
        let now = ContinuousClock.now
        var answer = state.withLock { state in state.answers[key].flatMap { $0.until > now ? $0 : nil } }
        if answer == nil {
            do {
                let result = try await coordinator.checkAccess(token: token ?? "", path: path, permission: "admin", certificate: certificate)
                answer = Answer(allowed: !result.enabled || result.allowed, reason: result.reason ?? "", until: now + Self.cacheFor)
            } catch let error as RPCError where error.code == .unauthorized {
                answer = Answer(allowed: false, reason: "", until: now + Self.cacheFor)
            }
            state.withLock { state in
                state.answers = state.answers.filter { $0.value.until > now }
                state.answers[key] = answer
            }
        }
        guard let answer, !answer.allowed else { return }
        guard token != nil || certificate != nil, !answer.reason.isEmpty else {
            throw RPCError(.unauthorized, "\(method): this instance obeys admin calls only from a token with admin on \(path): call auth with one first (sky --token)")
        }
        throw RPCError(.forbidden, "\(method): \(answer.reason)")
    }
}
