import EtcdAPI
import Foundation
import SkynetCoordinator
import SkynetTree
import Testing

@testable import SkynetEtcd

@Suite("How the etcd watch stream feeds a front's hub")
struct EtcdWatchFeedTests {
    let keys = EtcdKeys()

    func event(_ path: String, _ revision: Int64, deleted: Bool = false, key: String? = nil) throws -> Mvccpb_Event {
        let encoded = try key.map { Data($0.utf8) } ?? keys.key(TreePath(path))
        return .with {
            $0.type = deleted ? .delete : .put
            $0.kv = .with { $0.key = encoded; $0.modRevision = revision; $0.value = deleted ? Data() : Data(path.utf8) }
        }
    }

    func message(_ events: [Mvccpb_Event], header: Int64 = 0) -> Etcdserverpb_WatchResponse {
        .with { $0.events = events; $0.header = .with { $0.revision = header } }
    }

    @Test("events become whole revisions in order; gaps are advanced over; a revision fed before a reconnect is not fed again")
    func revisions() throws {
        var hub = WatchHub(revision: 9)
        let (id, _) = try hub.watch(TreeGlob("/**"), fromRev: 0)
        let first = message([try event("/a", 10), try event("/b", 10), try event("/x", 11, key: "other!x"), try event("/a", 13, deleted: true)])
        let (actions, restart) = EtcdWatchFeed.apply(first, to: &hub, keys: keys)
        #expect(restart == nil)
        #expect(hub.revision == 13)
        let delivered = actions.compactMap { action -> [TreeEvent]? in if case .deliver(id, let events) = action { events } else { nil } }
        #expect(delivered.map { $0.map(\.rev) } == [[10, 10], [13]], "one delivery per revision, the foreign key left out")
        #expect(delivered.last?.first?.kind == .delete)
        // After a reconnect etcd may send revision 13 again: nothing twice.
        let (again, _) = EtcdWatchFeed.apply(message([try event("/a", 13, deleted: true), try event("/c", 14)]), to: &hub, keys: keys)
        #expect(again.compactMap { action -> [Int64]? in if case .deliver(_, let events) = action { events.map(\.rev) } else { nil } } == [[14]])
    }

    @Test("a progress report advances the hub and tells idle watchers; the created notice does not")
    func progress() throws {
        var hub = WatchHub(revision: 5)
        let (id, _) = try hub.watch(TreeGlob("/**"), fromRev: 0)
        let (created, _) = EtcdWatchFeed.apply(.with { $0.created = true; $0.header = .with { $0.revision = 50 } }, to: &hub, keys: keys)
        #expect(created.isEmpty)
        #expect(hub.revision == 5)
        let (actions, _) = EtcdWatchFeed.apply(message([], header: 20), to: &hub, keys: keys)
        #expect(hub.revision == 20)
        #expect(actions == [.progress(id, revision: 20)])
    }

    @Test("a compaction past the hub ends every watch with Compacted and says where to start again")
    func compaction() throws {
        var hub = WatchHub(revision: 5)
        let (id, _) = try hub.watch(TreeGlob("/**"), fromRev: 0)
        let (actions, restart) = EtcdWatchFeed.apply(.with { $0.compactRevision = 30; $0.canceled = true }, to: &hub, keys: keys)
        #expect(actions == [.cancel(id, .compacted(requested: 6, oldest: 30))])
        #expect(restart == 29)
    }
}
