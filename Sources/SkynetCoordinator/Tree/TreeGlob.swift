/// A path pattern: `*` matches one segment (or part of one), `?` one character within a
/// segment, `**` any number of whole segments (zero or more). Everything else is literal.
///
/// `/skynet/services/*/1/**` matches every file under version 1 of every service.
public struct TreeGlob: Hashable, Sendable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    let segments: [Substring]

    /// Parses `pattern`; it must start with `/`. Literal characters follow path rules.
    public init(_ pattern: String, limits: TreeLimits = .default) throws(TreeError) {
        guard pattern.utf8.count <= limits.maxPathLength else {
            throw .badPath(path: pattern, rule: "longer than \(limits.maxPathLength) bytes")
        }
        guard pattern.hasPrefix("/") else { throw .badPath(path: pattern, rule: "must start with /") }
        self.pattern = pattern
        segments = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().filter { !$0.isEmpty }
        for segment in segments where segment.contains("**") && segment != "**" {
            throw .badPath(path: pattern, rule: "** must be a whole segment")
        }
        for segment in segments {
            for char in segment.utf8 where !(char == UInt8(ascii: "*") || char == UInt8(ascii: "?")) {
                let allowed = (char >= 0x30 && char <= 0x39) || (char >= 0x41 && char <= 0x5a) || (char >= 0x61 && char <= 0x7a)
                    || char == UInt8(ascii: ".") || char == UInt8(ascii: "_") || char == UInt8(ascii: "-")
                guard allowed else { throw .badPath(path: pattern, rule: "segments may only use A-Z a-z 0-9 . _ - * ?") }
            }
        }
    }

    public var description: String { pattern }

    /// True when `path` matches the whole pattern.
    public func matches(_ path: TreePath) -> Bool {
        Self.match(segments[...], path.segments[...])
    }

    /// True when some path below `directory` could match: used to prune walks.
    func mayMatchBelow(_ directory: TreePath) -> Bool {
        Self.prefixMatch(segments[...], directory.segments[...])
    }

    /// The literal leading segments, as a directory to start walking from.
    var literalPrefix: TreePath {
        var path = TreePath.root
        for segment in segments {
            guard !segment.contains("*"), !segment.contains("?") else { break }
            path = path.child(segment)
        }
        return path
    }

    private static func match(_ pattern: ArraySlice<Substring>, _ path: ArraySlice<Substring>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == "**" {
            let rest = pattern.dropFirst()
            var remaining = path
            while true {
                if match(rest, remaining) { return true }
                guard !remaining.isEmpty else { return false }
                remaining = remaining.dropFirst()
            }
        }
        guard let segment = path.first, matchSegment(first.utf8[...], segment.utf8[...]) else { return false }
        return match(pattern.dropFirst(), path.dropFirst())
    }

    /// Whether `directory` is a possible prefix of a match (so its subtree is worth walking).
    private static func prefixMatch(_ pattern: ArraySlice<Substring>, _ directory: ArraySlice<Substring>) -> Bool {
        guard let segment = directory.first else { return true }
        guard let first = pattern.first else { return false }
        if first == "**" { return true }
        guard matchSegment(first.utf8[...], segment.utf8[...]) else { return false }
        return prefixMatch(pattern.dropFirst(), directory.dropFirst())
    }

    /// Matches one segment with `*` (any run of characters) and `?` (one character).
    private static func matchSegment(_ pattern: Substring.UTF8View.SubSequence, _ text: Substring.UTF8View.SubSequence) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: Substring.UTF8View.Index?
        var resume = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t] {
                p = pattern.index(after: p)
                t = text.index(after: t)
            } else if p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") {
                star = p
                p = pattern.index(after: p)
                resume = t
            } else if let s = star {
                p = pattern.index(after: s)
                resume = text.index(after: resume)
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == UInt8(ascii: "*") { p = pattern.index(after: p) }
        return p == pattern.endIndex
    }
}
