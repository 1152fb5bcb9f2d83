// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Skynet",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MessagePack", targets: ["MessagePack"]),
        .library(name: "SkynetRPC", targets: ["SkynetRPC"]),
        .library(name: "SkynetTree", targets: ["SkynetTree"]),
        .library(name: "SkynetCoordinator", targets: ["SkynetCoordinator"]),
        .library(name: "Skynet", targets: ["Skynet"]),
        .library(name: "SkynetTimer", targets: ["SkynetTimer"]),
        .executable(name: "skynetd", targets: ["skynetd"]),
        .executable(name: "sky", targets: ["sky"]),
        .executable(name: "skynet-timer", targets: ["skynet-timer"]),
        .executable(name: "sky-bench", targets: ["sky-bench"]),
        .executable(name: "echo-service", targets: ["echo-service"]),
        .executable(name: "echo-client", targets: ["echo-client"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        // TLS on every RPC link; the tests make their certificates with swift-certificates.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        // The timer service: its HTTP API (Hummingbird 2) and its HTTP callbacks (async-http-client).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // /metrics in the Prometheus text format; only executables bootstrap it.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // etcd's gRPC API, for the coordinator cluster (skynetd --store etcd://...). The Swift code
        // is generated once by scripts/generate-etcd-api.sh and committed (Sources/EtcdAPI).
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // `make docs`: DocC for the public modules (a plugin; nothing of it is linked).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
    ],
    targets: [
        // libmsgpack-c from the system (Debian: libmsgpack-dev, pkg-config `msgpack`).
        .systemLibrary(
            name: "CMsgPack",
            pkgConfig: "msgpack",
            providers: [.apt(["libmsgpack-dev"])]
        ),
        .target(
            name: "MessagePack",
            dependencies: ["CMsgPack"]
        ),
        // The CPU's CRC-32C instruction (SSE4.2 / ARMv8 CRC32), detected at run time.
        .target(name: "CCRC32C"),
        .target(
            name: "SkynetRPC",
            dependencies: [
                "MessagePack",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What the coordinator's clients and its servers share: paths, globs, files, events,
        // operations, their errors and wire forms. Skynet (the client) needs only this.
        .target(
            name: "SkynetTree",
            dependencies: ["SkynetRPC", "MessagePack"]
        ),
        .target(
            name: "SkynetCoordinator",
            dependencies: [
                "SkynetTree",
                "SkynetCertificates",
                "CCRC32C",
                "SkynetRPC",
                "MessagePack",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // etcd's KV, Watch, Lease, Cluster, Maintenance and Auth services, generated from the
        // .proto files of Debian's etcd 3.4 (scripts/generate-etcd-api.sh); not edited by hand.
        .target(
            name: "EtcdAPI",
            dependencies: [
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            ]
        ),
        // The coordinator over a real etcd cluster: the etcd client and the etcd store.
        .target(
            name: "SkynetEtcd",
            dependencies: [
                "EtcdAPI",
                "SkynetCoordinator",
                "SkynetTree",
                "SkynetRPC",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Skynet",
            dependencies: [
                "SkynetTree",
                "SkynetRPC",
                "MessagePack",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The timer service (`skynet.timer`): a Skynet service like any other, with a
        // Skyring-compatible HTTP API; skynetd runs one in-process, skynet-timer standalone.
        .target(
            name: "SkynetTimer",
            dependencies: [
                "Skynet",
                "SkynetTree",
                "SkynetRPC",
                "MessagePack",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "skynet-timer",
            dependencies: [
                "SkynetCLI",
                "SkynetTimer",
                "Skynet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // What every executable shares: Go-style flags, help and exit codes, error sentences,
        // the build's version and git commit. Not a product.
        .target(
            name: "SkynetCLI",
            dependencies: [
                "SkynetRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            plugins: ["BuildInfoPlugin"]
        ),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool()),
        .executableTarget(
            name: "sky",
            dependencies: [
                "SkynetCertificates",
                "SkynetCLI",
                "Skynet",
                "SkynetTimer",
                "SkynetRPC",
                "MessagePack",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // skynetd's HTTP side: the dashboard, its JSON API and live event stream, /metrics.
        .target(
            name: "SkynetConsole",
            dependencies: [
                "Skynet",
                "SkynetTree",
                "SkynetRPC",
                "SkynetTimer",
                "MessagePack",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [
                .embedInCode("Assets/index.html"), .embedInCode("Assets/dashboard.js"), .embedInCode("Assets/dashboard.css"),
            ]
        ),
        .executableTarget(
            name: "skynetd",
            dependencies: [
                "SkynetConsole",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                "SkynetCLI",
                "SkynetCoordinator",
                "SkynetEtcd",
                "SkynetTimer",
                "Skynet",
                "SkynetRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // jemalloc instead of glibc's malloc (Debian: libjemalloc-dev): a put's objects are
            // made on an event loop and freed on the log's thread, a pattern that sends glibc
            // through its arena locks and chunk consolidation; jemalloc's per-thread caches cut
            // server CPU per durable put by about a fifth (docs/ARCHITECTURE.md).
            linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))]
        ),
        .executableTarget(
            name: "sky-bench",
            dependencies: [
                "SkynetCLI",
                "SkynetEtcd",
                "EtcdAPI",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                "SkynetTestSupport",
                "SkynetCertificates",
                "SkynetTimer",
                "MessagePack",
                "SkynetRPC",
                "SkynetCoordinator",
                "Skynet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "tools/sky-bench"
        ),
        // The README's service and client, verbatim. examples/consumer builds the same files
        // as a user's own package that depends on Skynet; here they are the `make run` demo
        // and what the process tests and benchmarks start.
        .executableTarget(
            name: "echo-service",
            dependencies: ["Skynet", "SkynetRPC"],
            path: "examples/consumer/Sources/EchoService"
        ),
        .executableTarget(
            name: "echo-client",
            dependencies: ["Skynet"],
            path: "examples/consumer/Sources/EchoClient"
        ),
        // A CA that makes a deployment's certificates: `sky tls`, the TLS tests, sky-bench.
        .target(
            name: "SkynetCertificates",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ]
        ),
        // Helpers shared by the test targets and sky-bench (seeded randomness); not a product.
        .target(
            name: "SkynetTestSupport",
            dependencies: ["SkynetCertificates"],
            path: "Tests/SkynetTestSupport"
        ),
        .testTarget(
            name: "SkynetCLITests",
            dependencies: ["SkynetCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "MessagePackTests",
            dependencies: ["MessagePack", "CMsgPack", "SkynetTestSupport"]
        ),
        .testTarget(
            name: "SkynetCoordinatorTests",
            dependencies: ["SkynetCoordinator", "SkynetTree", "SkynetCertificates", "MessagePack", "SkynetTestSupport"]
        ),
        .testTarget(
            name: "SkynetTests",
            dependencies: [
                "Skynet",
                "SkynetConsole",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "SkynetEtcd",
                "SkynetTimer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                "SkynetCLI",
                "SkynetCoordinator",
                "SkynetRPC",
                "MessagePack",
                "SkynetTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "SkynetEtcdTests",
            dependencies: [
                "SkynetEtcd", "EtcdAPI", "SkynetRPC", "SkynetCoordinator", "SkynetTree", "SkynetTestSupport",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SkynetTimerTests",
            dependencies: [
                "SkynetTimer", "Skynet", "SkynetRPC", "MessagePack", "SkynetTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "SkynetRPCTests",
            dependencies: [
                "SkynetRPC",
                "MessagePack",
                "SkynetTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            exclude: ["Interop"]
        ),
    ]
)

// `make fuzz` builds these with SKYNET_FUZZ=1 and -sanitize=fuzzer,address: libFuzzer
// targets for the MessagePack decoders and the RPC frame decoder (Fuzz/, corpus in
// Fuzz/corpus). They have no main of their own, so ordinary builds leave them out.
if Context.environment["SKYNET_FUZZ"] != nil {
    package.targets += [
        .target(name: "FuzzEntry", path: "Fuzz/FuzzEntry"),
        .executableTarget(name: "fuzz-msgpack", dependencies: ["FuzzEntry", "MessagePack", "CMsgPack"], path: "Fuzz/MessagePackFuzz"),
        .executableTarget(
            name: "fuzz-rpc-frames",
            dependencies: ["FuzzEntry", "SkynetRPC", "MessagePack", .product(name: "NIOCore", package: "swift-nio")],
            path: "Fuzz/RPCFrameFuzz"),
    ]
}
