import MessagePack

/// Answers held back on one thread while `RPCReply.batching` runs, grouped by mailbox.
final class RPCReplyBatch {
    private static let perThread = PerThread { RPCReplyBatch() }

    /// Nested `collecting` calls on this thread: only the outermost delivers.
    private var depth = 0
    private var mailboxes: [ObjectIdentifier: (mailbox: RPCReplyMailbox, answers: [RPCReplyMailbox.Answer])] = [:]

    /// This thread's batch while one is collecting, else nil.
    static var open: RPCReplyBatch? {
        let batch = perThread.current
        return batch.depth > 0 ? batch : nil
    }

    /// Answers held so far.
    var heldCount: Int { mailboxes.values.reduce(0) { $0 + $1.answers.count } }

    func add(_ mailbox: RPCReplyMailbox, _ answer: RPCReplyMailbox.Answer) {
        mailboxes[ObjectIdentifier(mailbox), default: (mailbox, [])].answers.append(answer)
    }

    static func collecting<R>(_ body: () throws -> R) rethrows -> R {
        let batch = perThread.current
        batch.depth += 1
        defer {
            batch.depth -= 1
            if batch.depth == 0 { batch.deliver() }
        }
        return try body()
    }

    private func deliver() {
        guard !mailboxes.isEmpty else { return }
        let held = mailboxes
        mailboxes = [:]
        for (mailbox, answers) in held.values { mailbox.post(contentsOf: answers) }
    }
}
