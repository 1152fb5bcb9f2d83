import Foundation

/// Checks that a history of operations on a key-value store is linearizable (in the manner
/// of Porcupine: Wing & Gong's search with Lowe's memoisation, one key at a time, since
/// linearizability composes over independent objects).
///
/// Each operation has the time it was called and the time its answer came. An operation
/// whose outcome is unknown (a timeout, a lost connection) has no answer: it may have taken
/// effect at any moment after its call, or never, which is what placing it at the end of
/// time means.
public enum LinearizabilityChecker {
    /// What was asked of a key.
    public enum Input: Hashable, Sendable, Codable {
        case get
        case set(String)
        /// Set to `to` if the value is `from` (nil: absent).
        case cas(from: String?, to: String)
    }

    /// What came back.
    public enum Output: Hashable, Sendable, Codable {
        case value(String?)
        case ok
        case swapped(Bool)
        /// No answer: it may or may not have taken effect.
        case unknown
    }

    /// One operation of a history.
    public struct Operation: Hashable, Sendable, Codable {
        public var client: Int
        public var key: String
        public var input: Input
        public var output: Output
        /// Nanoseconds on one monotonic clock.
        public var call: Int64
        public var ret: Int64

        public init(client: Int, key: String, input: Input, output: Output, call: Int64, ret: Int64) {
            self.client = client
            self.key = key
            self.input = input
            self.output = output
            self.call = call
            self.ret = ret
        }
    }

    /// `violation(in:)` on a thread of its own: the search is CPU work that would hold one
    /// of the cooperative pool's few threads (one per core) for as long as it takes.
    public static func violationOffPool(in history: [Operation]) async -> String? {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: violation(in: history)) }.start()
        }
    }

    /// The first key whose operations admit no linearization, or nil when every key's do.
    public static func violation(in history: [Operation]) -> String? {
        for (key, operations) in Dictionary(grouping: history, by: \.key).sorted(by: { $0.key < $1.key }) where !linearizable(operations) {
            return key
        }
        return nil
    }

    /// One register's model: what `input` with answer `output` does to `state`, or nil
    /// when that answer is impossible from `state`.
    static func step(_ state: String?, _ input: Input, _ output: Output) -> String?? {
        switch (input, output) {
        case (.get, .value(let seen)): return seen == state ? .some(state) : nil
        case (.get, .unknown): return .some(state)
        case (.set(let value), .ok), (.set(let value), .unknown): return .some(value)
        case (.cas(let from, let to), .swapped(let swapped)):
            return swapped == (state == from) ? .some(swapped ? to : state) : nil
        case (.cas(let from, let to), .unknown): return .some(state == from ? to : state)
        default: return nil
        }
    }

    /// Whether one key's operations (starting from an absent value) can be ordered so each
    /// takes effect between its call and its answer and every answer fits the register.
    static func linearizable(_ operations: [Operation]) -> Bool {
        let operations = pruned(operations).map { operation -> Operation in
            var operation = operation
            if operation.output == .unknown { operation.ret = .max }
            return operation
        }
        let count = operations.count
        var seen = Set<Memo>()
        var done = [Bool](repeating: false, count: count)

        func search(_ state: String?, _ left: Int) -> Bool {
            if left == 0 { return true }
            let memo = Memo(done: done, state: state)
            guard seen.insert(memo).inserted else { return false }
            // Any operation called before every remaining one has returned may go next.
            var earliestReturn = Int64.max
            for i in 0..<count where !done[i] { earliestReturn = min(earliestReturn, operations[i].ret) }
            for i in 0..<count where !done[i] && operations[i].call <= earliestReturn {
                guard let next = step(state, operations[i].input, operations[i].output) else { continue }
                done[i] = true
                if search(next, left - 1) { return true }
                done[i] = false
            }
            return false
        }
        return search(nil, count)
    }

    /// Leaves out unknown operations whose only possible outcome is "never happened", which
    /// an unknown operation may always be given: reads (they change nothing), and writes
    /// whose value nobody observed, unless a compare-and-set that failed after them might
    /// have failed because of them. Each unknown write left in doubles the search.
    public static func pruned(_ operations: [Operation]) -> [Operation] {
        var observed = Set<String>()
        for operation in operations {
            switch (operation.input, operation.output) {
            case (.get, .value(let value?)): observed.insert(value)
            case (.cas(let from?, _), .swapped(true)): observed.insert(from)
            default: break
            }
        }
        let failedCAS = operations.filter { $0.output == .swapped(false) }.map(\.call)
        return operations.filter { operation in
            guard operation.output == .unknown else { return true }
            switch operation.input {
            case .get:
                return false
            case .set(let value), .cas(_, let value):
                return observed.contains(value) || failedCAS.contains { $0 >= operation.call }
            }
        }
    }

    private struct Memo: Hashable {
        var done: [Bool]
        var state: String?
    }

    /// Writes `history` as JSON to a fresh file under the temporary directory; returns its path.
    public static func save(_ history: [Operation], label: String) -> String {
        let path = NSTemporaryDirectory() + "\(label)-history-\(UUID().uuidString.prefix(8)).json"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        FileManager.default.createFile(atPath: path, contents: (try? encoder.encode(history)) ?? Data())
        return path
    }
}
