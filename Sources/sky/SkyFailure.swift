/// An operation that failed (exit status 1), with the one line `sky` prints for it.
struct SkyFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
