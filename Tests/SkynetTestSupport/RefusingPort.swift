import Foundation

/// A port on 127.0.0.1 that refuses connections for as long as this value lives: a TCP
/// socket bound to it that does not listen. Held, so no test running alongside can start a
/// server on it (a port freed by a stopped server could be taken again at once, and a test
/// expecting "refused" would reach someone else's server). Keep it alive with
/// `withExtendedLifetime` while the port must refuse.
public final class RefusingPort: Sendable {
    /// The refusing port.
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(description: "socket failed: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else {
            close(fd)
            throw SocketError(description: "bind failed: errno \(errno)")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(fd) }

    /// A socket call failed while setting up the port.
    public struct SocketError: Error, CustomStringConvertible {
        public var description: String
    }
}
