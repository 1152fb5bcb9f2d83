import Foundation

/// CPU time of some processes since it was made (user + system, from /proc): what each
/// spent per operation over a phase.
struct CPUMeter {
    private let pids: [Int32]
    private let start: [Double]

    /// Starts measuring the processes `pids`.
    init(_ pids: [Int32]) {
        self.pids = pids
        start = pids.map { ChildProcess.cpuSeconds(pid: $0) }
    }

    /// Microseconds of CPU per operation for each process since the start (in the order
    /// given), over `operations` operations.
    func microseconds(per operations: Double) -> [Double] {
        zip(pids, start).map { pid, before in rounded((ChildProcess.cpuSeconds(pid: pid) - before) / max(operations, 1) * 1e6, 1) }
    }
}
