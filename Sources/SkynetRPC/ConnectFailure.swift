import Foundation
import NIOCore
import NIOPosix

/// Reads why a TCP connect failed as a few lower-case words ("connection refused",
/// "timed out after 2 s"), never NIO's value dump of the attempt.
enum ConnectFailure {
    static func reason(_ error: any Error) -> String {
        switch error {
        case let error as NIOConnectionError:
            // The last attempt is the one that decided; DNS failures leave no attempt.
            if let attempt = error.connectionErrors.last { return reason(attempt.error) }
            return "cannot resolve the host name"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        case ChannelError.connectTimeout(let amount):
            let seconds = Double(amount.nanoseconds) / 1e9
            return "timed out after \(seconds.formatted(.number.precision(.fractionLength(0...1)))) s"
        case let error as SocketAddressError:
            if case .unknown = error { return "cannot resolve the host name" }
            return "not a usable address"
        default:
            return "\(error)"
        }
    }
}
