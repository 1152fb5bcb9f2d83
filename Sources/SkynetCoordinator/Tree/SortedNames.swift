/// The names in one directory, kept sorted, so `getdir` and walk pages read them in order
/// without sorting, and a walk page resumes at its cursor by binary search.
///
/// Names sit in chunks of at most `maxChunk`, each sorted, in order: an insert or removal
/// moves at most one chunk's names, and since the tree is copied for snapshots and walks,
/// a change after a copy duplicates one chunk and the list of chunks, never every name.
struct SortedNames: Sendable, Sequence {
    static let maxChunk = 512

    private var chunks: [[String]] = []
    /// Number of names.
    private(set) var count = 0

    init() {}

    var isEmpty: Bool { count == 0 }

    /// Adds `name`; false when it was already there.
    @discardableResult
    mutating func insert(_ name: String) -> Bool {
        guard !chunks.isEmpty else {
            chunks = [[name]]
            count = 1
            return true
        }
        let chunk = chunkIndex(for: name)
        let at = Self.lowerBound(name, in: chunks[chunk])
        if at < chunks[chunk].count, chunks[chunk][at] == name { return false }
        chunks[chunk].insert(name, at: at)
        count += 1
        if chunks[chunk].count > Self.maxChunk {
            let half = chunks[chunk].count / 2
            let upper = Array(chunks[chunk][half...])
            chunks[chunk].removeSubrange(half...)
            chunks.insert(upper, at: chunk + 1)
        }
        return true
    }

    /// Takes `name` out; false when it was not there.
    @discardableResult
    mutating func remove(_ name: String) -> Bool {
        guard !chunks.isEmpty else { return false }
        let chunk = chunkIndex(for: name)
        let at = Self.lowerBound(name, in: chunks[chunk])
        guard at < chunks[chunk].count, chunks[chunk][at] == name else { return false }
        chunks[chunk].remove(at: at)
        count -= 1
        if chunks[chunk].isEmpty { chunks.remove(at: chunk) }
        return true
    }

    /// True when `name` is there.
    func contains(_ name: String) -> Bool {
        guard !chunks.isEmpty else { return false }
        let chunk = chunkIndex(for: name)
        let at = Self.lowerBound(name, in: chunks[chunk])
        return at < chunks[chunk].count && chunks[chunk][at] == name
    }

    /// The names in order.
    func makeIterator() -> Iterator { Iterator(chunks: chunks, chunk: 0, index: 0) }

    /// The names at or after `bound`, in order (all of them when `bound` is nil).
    func names(from bound: Substring?) -> IteratorSequence<Iterator> {
        guard let bound, !chunks.isEmpty else { return IteratorSequence(makeIterator()) }
        let name = String(bound)
        let chunk = chunkIndex(for: name)
        return IteratorSequence(Iterator(chunks: chunks, chunk: chunk, index: Self.lowerBound(name, in: chunks[chunk])))
    }

    struct Iterator: IteratorProtocol {
        fileprivate let chunks: [[String]]
        fileprivate var chunk: Int
        fileprivate var index: Int

        mutating func next() -> String? {
            while chunk < chunks.count {
                if index < chunks[chunk].count {
                    defer { index += 1 }
                    return chunks[chunk][index]
                }
                chunk += 1
                index = 0
            }
            return nil
        }
    }

    /// The first chunk whose last name is at or after `name` (the last chunk when none is):
    /// where `name` is, or belongs.
    private func chunkIndex(for name: String) -> Int {
        var low = 0, high = chunks.count - 1
        while low < high {
            let mid = (low + high) / 2
            if chunks[mid][chunks[mid].count - 1] < name { low = mid + 1 } else { high = mid }
        }
        return low
    }

    private static func lowerBound(_ name: String, in names: [String]) -> Int {
        var low = 0, high = names.count
        while low < high {
            let mid = (low + high) / 2
            if names[mid] < name { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
