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

    /// The pattern as written. It is all a glob stores (a pattern of up to 15 bytes sits
    /// inline): matching splits pattern and path into segments in stack memory each time,
    /// so a glob held by each of 100,000 watchers costs no heap, and a match allocates none.
    public let pattern: String

    /// Parses `pattern`; it must start with `/`. Literal characters follow path rules.
    public init(_ pattern: String, limits: TreeLimits = .default) throws(TreeError) {
        guard pattern.utf8.count <= limits.maxPathLength else {
            throw .badPath(path: pattern, rule: "longer than \(limits.maxPathLength) bytes")
        }
        guard pattern.hasPrefix("/") else { throw .badPath(path: pattern, rule: "must start with /") }
        self.pattern = pattern
        let segments = self.segments
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

    /// The segments, repeated `**` collapsed (`**/**` matches exactly what `**` does).
    package var segments: [String] {
        var segments: [String] = []
        for segment in pattern.split(separator: "/") {
            if segment == "**", segments.last == "**" { continue }
            segments.append(String(segment))
        }
        return segments
    }

    /// True when `path` matches the whole pattern.
    public func matches(_ path: TreePath) -> Bool {
        Self.withSegments(pattern, collapsing: true) { pattern, patternSegments in
            Self.withSegments(path.string, collapsing: false) { text, textSegments in
                Self.match(pattern, patternSegments, text, textSegments)
            }
        }
    }

    /// True when some path below `directory` could match: used to prune walks.
    package func mayMatchBelow(_ directory: TreePath) -> Bool {
        Self.withSegments(pattern, collapsing: true) { pattern, patternSegments in
            Self.withSegments(directory.string, collapsing: false) { text, textSegments in
                Self.prefixMatch(pattern, patternSegments, text, textSegments)
            }
        }
    }

    /// The literal leading segments: every path the glob matches starts with them.
    package var literalSegments: [String] {
        Array(segments.prefix { !$0.contains("*") && !$0.contains("?") })
    }

    /// The literal leading segments, as a directory to start walking from.
    package var literalPrefix: TreePath {
        var path = TreePath.root
        for segment in literalSegments { path = path.child(segment) }
        return path
    }

    // MARK: Matching

    /// Where one segment lies in its string's bytes.
    private struct Span {
        var start: Int32
        var end: Int32
        func isDoubleStar(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
            end - start == 2 && bytes[Int(start)] == UInt8(ascii: "*") && bytes[Int(start) + 1] == UInt8(ascii: "*")
        }
    }

    /// Calls `body` with `string`'s bytes and its segments' spans, held in stack memory.
    private static func withSegments<R>(
        _ string: String, collapsing: Bool, _ body: (UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<Span>) -> R
    ) -> R {
        var string = string
        return string.withUTF8 { bytes in
            let slashes = bytes.count { $0 == UInt8(ascii: "/") }
            return withUnsafeTemporaryAllocation(of: Span.self, capacity: max(1, slashes)) { spans in
                var count = 0
                var start = -1
                for i in 0...bytes.count {
                    guard i == bytes.count || bytes[i] == UInt8(ascii: "/") else { continue }
                    if start >= 0, i > start {
                        let span = Span(start: Int32(start), end: Int32(i))
                        // `**/**` matches exactly what `**` does.
                        if !(collapsing && count > 0 && span.isDoubleStar(bytes) && spans[count - 1].isDoubleStar(bytes)) {
                            spans[count] = span
                            count += 1
                        }
                    }
                    start = i + 1
                }
                return body(bytes, UnsafeBufferPointer(rebasing: spans[..<count]))
            }
        }
    }

    /// Segment-level wildcard matching, `**` playing the part `*` plays within a segment.
    private static func match(
        _ pattern: UnsafeBufferPointer<UInt8>, _ patternSpans: UnsafeBufferPointer<Span>,
        _ text: UnsafeBufferPointer<UInt8>, _ textSpans: UnsafeBufferPointer<Span>
    ) -> Bool {
        wildcardMatch(
            patternCount: patternSpans.count, textCount: textSpans.count,
            isStar: { patternSpans[$0].isDoubleStar(pattern) },
            matches: { matchSegment(slice(pattern, patternSpans[$0]), slice(text, textSpans[$1])) })
    }

    /// Greedy two-pointer wildcard matching, shared by both levels (segments under `**`,
    /// characters under `*`): on a mismatch only the latest star is retried one element
    /// further, which is enough because a star matches any run. At most pattern × text
    /// element comparisons, never exponential.
    private static func wildcardMatch(patternCount: Int, textCount: Int, isStar: (Int) -> Bool, matches: (Int, Int) -> Bool) -> Bool {
        var p = 0, t = 0
        var star: Int?
        var resume = 0
        while t < textCount {
            if p < patternCount, isStar(p) {
                star = p
                p += 1
                resume = t
            } else if p < patternCount, matches(p, t) {
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
        while p < patternCount, isStar(p) { p += 1 }
        return p == patternCount
    }

    /// Whether `directory` is a possible prefix of a match (so its subtree is worth walking).
    private static func prefixMatch(
        _ pattern: UnsafeBufferPointer<UInt8>, _ patternSpans: UnsafeBufferPointer<Span>,
        _ text: UnsafeBufferPointer<UInt8>, _ textSpans: UnsafeBufferPointer<Span>
    ) -> Bool {
        for (i, span) in textSpans.enumerated() {
            guard i < patternSpans.count else { return false }
            if patternSpans[i].isDoubleStar(pattern) { return true }
            guard matchSegment(slice(pattern, patternSpans[i]), slice(text, span)) else { return false }
        }
        return true
    }

    private static func slice(_ bytes: UnsafeBufferPointer<UInt8>, _ span: Span) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[Int(span.start)..<Int(span.end)])
    }

    /// Matches one segment with `*` (any run of characters) and `?` (one character).
    private static func matchSegment(_ pattern: UnsafeBufferPointer<UInt8>, _ text: UnsafeBufferPointer<UInt8>) -> Bool {
        wildcardMatch(
            patternCount: pattern.count, textCount: text.count,
            isStar: { pattern[$0] == UInt8(ascii: "*") },
            matches: { pattern[$0] == UInt8(ascii: "?") || pattern[$0] == text[$1] })
    }
}
