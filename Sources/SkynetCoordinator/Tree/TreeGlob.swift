/// A path pattern: `*` matches one segment (or part of one), `?` one character within a
/// segment, `**` any number of whole segments (zero or more). Everything else is literal.
///
/// `/skynet/services/*/1/**` matches every file under version 1 of every service.
///
/// Matching takes time linear in pattern × path, whatever the pattern: a glob is matched
/// inside the commit path for every watcher it feeds, so no pattern may backtrack
/// exponentially. Repeated `**` segments are collapsed into one, and a pattern may hold at
/// most `maxWildcardSegments` segments with wildcards.
public struct TreeGlob: Hashable, Sendable, CustomStringConvertible {
    /// The most segments with `*`, `?` or `**` one pattern may hold.
    public static let maxWildcardSegments = 32

    /// The pattern as written.
    public let pattern: String
    /// The segments (`**` runs collapsed); Strings rather than Substrings, so short ones
    /// sit inline instead of holding on to the whole pattern.
    let segments: [String]

    /// Parses `pattern`; it must start with `/`. Literal characters follow path rules.
    public init(_ pattern: String, limits: TreeLimits = .default) throws(TreeError) {
        guard pattern.utf8.count <= limits.maxPathLength else {
            throw .badPath(path: pattern, rule: "longer than \(limits.maxPathLength) bytes")
        }
        guard pattern.hasPrefix("/") else { throw .badPath(path: pattern, rule: "must start with /") }
        self.pattern = pattern
        var segments: [String] = []
        for segment in pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst() where !segment.isEmpty {
            // `**/**` matches exactly what `**` does.
            if segment == "**", segments.last == "**" { continue }
            segments.append(String(segment))
        }
        self.segments = segments
        for segment in segments where segment.contains("**") && segment != "**" {
            throw .badPath(path: pattern, rule: "** must be a whole segment")
        }
        let wildcards = segments.count { $0.contains("*") || $0.contains("?") }
        guard wildcards <= Self.maxWildcardSegments else {
            throw .badPath(path: pattern, rule: "at most \(Self.maxWildcardSegments) segments may hold wildcards, found \(wildcards)")
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

    /// The literal leading segments: every path the glob matches starts with them.
    var literalSegments: ArraySlice<String> {
        segments.prefix { !$0.contains("*") && !$0.contains("?") }
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

    /// Segment-level wildcard matching, `**` playing the part `*` plays within a segment:
    /// on a mismatch, only the latest `**` is retried one segment further, which is enough
    /// because `**` matches any run of segments. At most pattern × path segment
    /// comparisons, never exponential.
    private static func match(_ pattern: ArraySlice<String>, _ path: ArraySlice<Substring>) -> Bool {
        var p = pattern.startIndex, t = path.startIndex
        var star: Int?
        var resume = path.startIndex
        while t < path.endIndex {
            if p < pattern.endIndex, pattern[p] == "**" {
                star = p
                p += 1
                resume = t
            } else if p < pattern.endIndex, matchSegment(pattern[p].utf8[...], path[t].utf8[...]) {
                p += 1
                t += 1
            } else if let s = star {
                p = s + 1
                resume += 1
                t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "**" { p += 1 }
        return p == pattern.endIndex
    }

    /// Whether `directory` is a possible prefix of a match (so its subtree is worth walking).
    private static func prefixMatch(_ pattern: ArraySlice<String>, _ directory: ArraySlice<Substring>) -> Bool {
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
