import EtcdAPI
import Foundation
import GRPCCore
import Logging
import SkynetEtcd
import SkynetRPC
import SkynetTestSupport
import Testing

@testable import SkynetEtcd

@Suite("etcd endpoints and failures")
struct EtcdEndpointTests {
    @Test("a store URL lists host:port endpoints; anything else is refused")
    func parse() {
        #expect(EtcdEndpoint.list("etcd://h1:2379,10.0.0.2:2380") == [EtcdEndpoint(host: "h1", port: 2379), EtcdEndpoint(host: "10.0.0.2", port: 2380)])
        #expect(EtcdEndpoint.list("127.0.0.1:1") == [EtcdEndpoint(host: "127.0.0.1", port: 1)])
        for bad in ["", "etcd://", "etcd://h1", "etcd://h1:0", "etcd://h1:65536", "etcd://:2379", "etcd://h1:2379,", "etcd://h1:x"] {
            #expect(EtcdEndpoint.list(bad) == nil, "\(bad)")
        }
    }

    @Test("etcd's failures become the coordinator's codes, in our words", arguments: [
        (GRPCCore.RPCError(code: .outOfRange, message: "etcdserver: mvcc: required revision has been compacted"), RPCErrorCode.compacted),
        (GRPCCore.RPCError(code: .invalidArgument, message: "etcdserver: request is too large"), .tooLarge),
        (GRPCCore.RPCError(code: .notFound, message: "etcdserver: requested lease not found"), "SessionNotFound"),
        (GRPCCore.RPCError(code: .unavailable, message: "etcdserver: no leader"), .unavailable),
        (GRPCCore.RPCError(code: .deadlineExceeded, message: "context deadline exceeded"), .unavailable),
        (GRPCCore.RPCError(code: .unauthenticated, message: "etcdserver: invalid auth token"), .unauthorized),
        (GRPCCore.RPCError(code: .internalError, message: "boom"), .internal),
    ] as [(GRPCCore.RPCError, RPCErrorCode)])
    func failures(error: GRPCCore.RPCError, code: RPCErrorCode) {
        let mapped = EtcdFailure.rpcError(error, "put /a")
        #expect(mapped.code == code)
        #expect(mapped.message.hasPrefix("put /a: "))
        #expect(!mapped.message.contains("etcdserver"), "no raw etcd text: \(mapped.message)")
    }
}

@Suite("EtcdClient against a real 3-member etcd cluster", .serialized, .timeLimit(.minutes(2)),
       .enabled(if: EtcdCluster.binary != nil, "needs etcd (Debian: etcd-server; make test installs it)"))
struct EtcdClientLiveTests {
    static func put(_ client: EtcdClient, _ key: String, _ value: String, lease: Int64 = 0) async throws -> Int64 {
        try await client.call("put \(key)") {
            var request = Etcdserverpb_PutRequest()
            request.key = Data(key.utf8)
            request.value = Data(value.utf8)
            request.lease = lease
            return try await client.kv.put(request, options: client.options).header.revision
        }
    }

    static func get(_ client: EtcdClient, _ key: String) async throws -> String? {
        try await client.call("get \(key)") {
            var request = Etcdserverpb_RangeRequest()
            request.key = Data(key.utf8)
            let response = try await client.kv.range(request, options: client.options)
            return response.kvs.first.map { String(decoding: $0.value, as: UTF8.self) }
        }
    }

    @Test("put, range, a compare-and-set txn, a lease whose key goes with it, members and status")
    func basics() async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.stop() }
        let client = try EtcdClient(endpoints: EtcdEndpoint.list(cluster.clientAddresses)!, logger: Logger(label: "test"))
        let rev = try await eventually { try await Self.put(client, "/a", "1") }
        #expect(rev > 1)
        #expect(try await Self.get(client, "/a") == "1")

        // Compare-and-set: only if /a's mod revision is still `rev`.
        func cas(_ expected: Int64, _ value: String) async throws -> Bool {
            var compare = Etcdserverpb_Compare()
            compare.key = Data("/a".utf8)
            compare.target = .mod
            compare.result = .equal
            compare.modRevision = expected
            var put = Etcdserverpb_PutRequest()
            put.key = Data("/a".utf8)
            put.value = Data(value.utf8)
            var op = Etcdserverpb_RequestOp()
            op.requestPut = put
            var txn = Etcdserverpb_TxnRequest()
            txn.compare = [compare]
            txn.success = [op]
            return try await client.kv.txn(txn, options: client.options).succeeded
        }
        #expect(try await cas(rev, "2"))
        #expect(try await cas(rev, "3") == false)
        #expect(try await Self.get(client, "/a") == "2")

        // A key bound to a lease goes when the lease is revoked.
        var grant = Etcdserverpb_LeaseGrantRequest()
        grant.ttl = 5
        let lease = try await client.lease.leaseGrant(grant, options: client.options).id
        _ = try await Self.put(client, "/session/x", "here", lease: lease)
        #expect(try await Self.get(client, "/session/x") == "here")
        var revoke = Etcdserverpb_LeaseRevokeRequest()
        revoke.id = lease
        _ = try await client.lease.leaseRevoke(revoke, options: client.options)
        #expect(try await Self.get(client, "/session/x") == nil)

        // A revoked lease is an unknown session, in the coordinator's words.
        let error = await #expect(throws: SkynetRPC.RPCError.self) { try await Self.put(client, "/session/y", "late", lease: lease) }
        #expect(error?.code == "SessionNotFound")

        let members = try await client.cluster.memberList(Etcdserverpb_MemberListRequest(), options: client.options).members
        #expect(Set(members.map(\.name)) == Set(cluster.members.map(\.name)))
        #expect(Set(members.flatMap(\.clientUrls)) == Set(cluster.members.map { "http://\($0.clientAddress)" }))
        let status = try await client.maintenance.status(Etcdserverpb_StatusRequest(), options: client.options)
        #expect(members.contains { $0.id == status.leader })
        await client.close()
    }

    @Test("a thousand calls in a row: connections are renewed before swift-nio-http2's guard would reset them")
    func manyCalls() async throws {
        let cluster = try await EtcdCluster.start(size: 1)
        defer { cluster.stop() }
        let client = try EtcdClient(endpoints: EtcdEndpoint.list(cluster.clientAddresses)!, logger: Logger(label: "test"))
        _ = try await eventually { try await Self.put(client, "/n", "0") }
        for n in 1...1_000 {
            _ = try await Self.put(client, "/n", "\(n)")
        }
        #expect(try await Self.get(client, "/n") == "1000")
        await client.close()
    }

    @Test("kill -9 of the leader: writes resume by themselves and every acknowledged write is there")
    func leaderKilled() async throws {
        let cluster = try await EtcdCluster.start()
        defer { cluster.stop() }
        let client = try EtcdClient(endpoints: EtcdEndpoint.list(cluster.clientAddresses)!, callTimeout: .seconds(2), logger: Logger(label: "test"))
        _ = try await eventually { try await Self.put(client, "/before", "x") }
        let status = try await client.maintenance.status(Etcdserverpb_StatusRequest(), options: client.options)
        let members = try await client.cluster.memberList(Etcdserverpb_MemberListRequest(), options: client.options).members
        let leader = try #require(members.first { $0.id == status.leader })
        cluster.kill(leader.name)

        var acknowledged: [String] = []
        for i in 0..<20 {
            _ = try await eventually { try await Self.put(client, "/after/\(i)", "\(i)") }
            acknowledged.append("/after/\(i)")
        }
        for key in ["/before"] + acknowledged {
            #expect(try await eventually { try await Self.get(client, key) } != nil, "\(key) was acknowledged")
        }
        let newStatus = try await eventually { try await client.maintenance.status(Etcdserverpb_StatusRequest(), options: client.options) }
        #expect(newStatus.leader != leader.id)
        await client.close()
    }
}
