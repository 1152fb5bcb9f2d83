import Foundation
import MessagePack

/// A `list` request, checked the same way whether it came as HTTP query parameters or an
/// RPC map: which state, after which timer, how many.
package struct TimerListQuery: Sendable {
    /// Timers per page when the caller names no `limit`.
    package static let defaultLimit = 100
    /// Most timers per page.
    package static let maxLimit = 1_000

    package var state: TimerState?
    /// The last timer of the previous page.
    package var after: UUID?
    package var limit: Int

    /// Checks the fields; `limit` is `nil` when not given (a value that is not a whole
    /// number is passed as 0, which the range refuses).
    package init(state: String?, after: String?, limit: Int64?) throws(TimerSpecError) {
        if let state {
            guard let parsed = TimerState(rawValue: state) else {
                throw TimerSpecError("state", "must be one of \(TimerState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            self.state = parsed
        }
        if let after {
            guard let id = UUID(text: after) else { throw TimerSpecError("after", "must be a timer id (the `next` of the previous page)") }
            self.after = id
        }
        let limit = limit ?? Int64(Self.defaultLimit)
        guard (1...Int64(Self.maxLimit)).contains(limit) else {
            throw TimerSpecError("limit", "must be an integer between 1 and \(Self.maxLimit)")
        }
        self.limit = Int(limit)
    }

    /// A page of the answer: `{"timers": [...], "next": id}`, with `next` (where the
    /// following page starts) only when the page is full.
    package func page(_ timers: [TimerRecord], dataAsText: Bool) -> MessagePackValue {
        var pairs: [(key: MessagePackValue, value: MessagePackValue)] = [("timers", .array(timers.map { $0.wireValue(dataAsText: dataAsText) }))]
        if timers.count == limit, let last = timers.last { pairs.append(("next", .string(last.idText))) }
        return .map(pairs)
    }
}
