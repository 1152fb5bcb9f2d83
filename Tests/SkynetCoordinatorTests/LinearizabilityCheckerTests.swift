import SkynetTestSupport
import Testing

@Suite("The linearizability checker")
struct LinearizabilityCheckerTests {
    typealias Op = LinearizabilityChecker.Operation

    static func op(_ client: Int, _ input: LinearizabilityChecker.Input, _ output: LinearizabilityChecker.Output, _ call: Int64, _ ret: Int64, key: String = "x") -> Op {
        Op(client: client, key: key, input: input, output: output, call: call, ret: ret)
    }

    @Test("a sequential history that follows the register is linearizable")
    func sequential() {
        let history = [
            Self.op(0, .get, .value(nil), 0, 1),
            Self.op(0, .set("1"), .ok, 2, 3),
            Self.op(1, .get, .value("1"), 4, 5),
            Self.op(1, .cas(from: "1", to: "2"), .swapped(true), 6, 7),
            Self.op(0, .cas(from: "1", to: "3"), .swapped(false), 8, 9),
            Self.op(0, .get, .value("2"), 10, 11),
        ]
        #expect(LinearizabilityChecker.violation(in: history) == nil)
    }

    @Test("a planted stale read is caught")
    func staleRead() {
        let history = [
            Self.op(0, .set("1"), .ok, 0, 1),
            Self.op(0, .set("2"), .ok, 2, 3),
            Self.op(1, .get, .value("1"), 4, 5),   // called after "2" was acknowledged
        ]
        #expect(LinearizabilityChecker.violation(in: history) == "x")
    }

    @Test("overlapping operations may take effect in either order")
    func concurrent() {
        let history = [
            Self.op(0, .set("1"), .ok, 0, 10),
            Self.op(1, .get, .value("1"), 1, 2),       // the set took effect early
            Self.op(2, .get, .value(nil), 3, 4),       // ...but not before this read: impossible
        ]
        #expect(LinearizabilityChecker.violation(in: history) == "x", "a read of the old value after a read of the new one")
        let fine = [
            Self.op(0, .set("1"), .ok, 0, 10),
            Self.op(1, .get, .value(nil), 1, 2),
            Self.op(2, .get, .value("1"), 3, 4),
        ]
        #expect(LinearizabilityChecker.violation(in: fine) == nil)
    }

    @Test("an operation with no answer may have happened, or not")
    func unknown() {
        let happened = [
            Self.op(0, .set("1"), .unknown, 0, 1),
            Self.op(1, .get, .value("1"), 5, 6),
        ]
        #expect(LinearizabilityChecker.violation(in: happened) == nil)
        let notYet = [
            Self.op(0, .set("1"), .unknown, 0, 1),
            Self.op(1, .get, .value(nil), 5, 6),
        ]
        #expect(LinearizabilityChecker.violation(in: notYet) == nil)
        let impossible = [
            Self.op(0, .cas(from: nil, to: "a"), .swapped(true), 0, 1),
            Self.op(1, .cas(from: nil, to: "b"), .swapped(true), 2, 3),   // "a" was there
        ]
        #expect(LinearizabilityChecker.violation(in: impossible) == "x")
    }

    @Test("keys are independent: a violation names its key")
    func perKey() {
        let history = [
            Self.op(0, .set("1"), .ok, 0, 1, key: "a"),
            Self.op(0, .get, .value("1"), 2, 3, key: "a"),
            Self.op(1, .set("1"), .ok, 0, 1, key: "b"),
            Self.op(1, .get, .value("7"), 2, 3, key: "b"),
        ]
        #expect(LinearizabilityChecker.violation(in: history) == "b")
    }

    @Test("unknown operations nobody could have observed are left out of the search; the rest stay")
    func pruning() {
        let history = [
            Self.op(0, .get, .unknown, 0, 1),                          // a read changes nothing
            Self.op(0, .set("seen"), .unknown, 2, 3),                  // read later: kept
            Self.op(2, .set("maybe"), .unknown, 4, 5),                 // a CAS failed after it: kept
            Self.op(3, .cas(from: "x", to: "y"), .swapped(false), 6, 7),
            Self.op(1, .set("unseen"), .unknown, 8, 9),                // nobody could tell: left out
            Self.op(1, .get, .value("seen"), 10, 11),
        ]
        let kept: [LinearizabilityChecker.Input] = LinearizabilityChecker.pruned(history).map(\.input)
        #expect(kept == [.set("seen"), .set("maybe"), .cas(from: "x", to: "y"), .get])
        #expect(LinearizabilityChecker.violation(in: history) == nil)
        // Forty unknown writes nobody saw: the search stays short.
        let many = (0..<40).map { Self.op($0, .set("u\($0)"), .unknown, Int64($0), Int64($0) + 1) } + [Self.op(99, .get, .value(nil), 100, 101)]
        #expect(LinearizabilityChecker.violation(in: many) == nil)
    }
}
