// The coordinator: files with revisions, compare-and-set, transactions, watches and sessions.
// Run against a coordinator named by SKYNET_COORDINATORS (default 127.0.0.1:8046).
import Skynet
import SkynetRPC

let addresses = ClientConfig.commandLine().coordinators   // -coordinators, else SKYNET_COORDINATORS, else 127.0.0.1:8046
let coordinator = CoordinatorClient(configuration: .init(addresses: addresses))
let rev = try await coordinator.set("/skynet/config/echo/greeting", "hello")
try await coordinator.set("/skynet/config/echo/greeting", "hi", ifRev: rev)   // compare-and-set
let file = try await coordinator.get("/skynet/config/echo/greeting")         // value + stat

do {
    try await coordinator.set("/skynet/config/echo/greeting", "late", ifRev: rev)
} catch let error as RPCError where error.code == .revMismatch {
    print("someone wrote first: \(error.message)")
}

// Several operations as one revision, if the compares hold.
let greeting = try TreePath("/skynet/config/echo/greeting")
let result = try await coordinator.txn(
    compares: [TxnCompare(greeting, .exists(true))],
    success: [.set(path: try TreePath("/skynet/config/echo/farewell"), value: Array("bye".utf8), ifRev: -1, session: nil), .get(path: greeting)])
print("txn succeeded: \(result.succeeded) at revision \(result.revision)")
try await coordinator.del("/skynet/config/echo/farewell")

for try await update in coordinator.watch("/skynet/config/**", fromRev: rev) {   // resumes by itself
    for event in update.events { print(event.rev, event.kind, event.path) }
    if update.events.contains(where: { $0.kind == .delete }) { break }
}

let session = try await coordinator.openSession(ttl: .seconds(5))           // kept alive for you
try await coordinator.set("/skynet/services/echo/1/us/host-a/9001", "...", session: session.id)
// the file goes when the session is closed or expires; watchers see the delete
try await session.close()
print(String(decoding: file?.value ?? [], as: UTF8.self), try await coordinator.get("/skynet/services/echo/1/us/host-a/9001") == nil)
await coordinator.close()
