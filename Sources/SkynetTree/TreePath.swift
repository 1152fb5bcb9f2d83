/// A validated path in the config tree, such as `/skynet/services/echo/1`.
///
/// Rules: starts with `/`; segments are non-empty and made of `A-Z a-z 0-9 . _ -`; no
/// segment is `.` or `..`; no trailing `/` (the root `/` itself is allowed for reads);
/// at most `TreeLimits.maxPathLength` bytes. Violations are `TreeError.badPath` naming the rule.
public struct TreePath: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The path as written.
    public let string: String

    /// The root directory `/`.
    public static let root = TreePath(unchecked: "/")

    package init(unchecked string: String) { self.string = string }

    /// Validates `string` as a path.
    public init(_ string: String, limits: TreeLimits = .default) throws(TreeError) {
        let utf8 = string.utf8
        guard utf8.count <= limits.maxPathLength else {
            throw .badPath(path: string, rule: "longer than \(limits.maxPathLength) bytes")
        }
        guard utf8.first == UInt8(ascii: "/") else { throw .badPath(path: string, rule: "must start with /") }
        if utf8.count == 1 {
            self.string = string
            return
        }
        guard utf8.last != UInt8(ascii: "/") else { throw .badPath(path: string, rule: "must not end with /") }
        var segmentLength = 0
        var dots = 0
        for byte in utf8.dropFirst() {
            if byte == UInt8(ascii: "/") {
                try Self.checkSegment(length: segmentLength, dots: dots, path: string)
                segmentLength = 0
                dots = 0
                continue
            }
            guard Self.isAllowed(byte) else {
                throw .badPath(path: string, rule: "segments may only use A-Z a-z 0-9 . _ - (found \(Self.show(byte)))")
            }
            segmentLength += 1
            if byte == UInt8(ascii: ".") { dots += 1 }
        }
        try Self.checkSegment(length: segmentLength, dots: dots, path: string)
        self.string = string
    }

    private static func checkSegment(length: Int, dots: Int, path: String) throws(TreeError) {
        if length == 0 { throw .badPath(path: path, rule: "empty segment") }
        if length == dots, length <= 2 { throw .badPath(path: path, rule: "segments . and .. are not allowed") }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    private static func show(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7f ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
    }

    /// True for `/`.
    public var isRoot: Bool { string == "/" }

    /// The segments, root first; empty for `/`.
    public var segments: [Substring] { string.split(separator: "/") }

    /// The last segment; empty for `/`.
    public var name: Substring { isRoot ? "" : string[string.index(after: string.lastIndex(of: "/")!)...] }

    /// The directory holding this path; `nil` for `/`.
    public var parent: TreePath? {
        guard !isRoot else { return nil }
        let slash = string.lastIndex(of: "/")!
        return slash == string.startIndex ? .root : TreePath(unchecked: String(string[..<slash]))
    }

    /// The path of child `name` (which must be a valid segment).
    /// The directories above this path, nearest first, the root left out: where a file
    /// may not sit for this path to be one.
    public var ancestors: [TreePath] {
        var found: [TreePath] = []
        var ancestor = parent
        while let directory = ancestor, !directory.isRoot {
            found.append(directory)
            ancestor = directory.parent
        }
        return found
    }

    package func child(_ name: some StringProtocol) -> TreePath {
        TreePath(unchecked: isRoot ? "/" + name : string + "/" + name)
    }

    public var description: String { string }

    public static func < (a: TreePath, b: TreePath) -> Bool { a.string < b.string }
}
