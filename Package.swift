// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Skynet",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MessagePack", targets: ["MessagePack"]),
        .library(name: "SkynetRPC", targets: ["SkynetRPC"]),
        .library(name: "SkynetCoordinator", targets: ["SkynetCoordinator"]),
        .library(name: "Skynet", targets: ["Skynet"]),
        .executable(name: "skynetd", targets: ["skynetd"]),
        .executable(name: "sky", targets: ["sky"]),
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
        .target(
            name: "SkynetRPC",
            dependencies: [
                "MessagePack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "SkynetCoordinator",
            dependencies: [
                "SkynetRPC",
                "MessagePack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Skynet",
            dependencies: [
                "SkynetCoordinator",
                "SkynetRPC",
                "MessagePack",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "sky",
            dependencies: [
                "Skynet",
                "SkynetCoordinator",
                "SkynetRPC",
                "MessagePack",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "skynetd",
            dependencies: [
                "SkynetCoordinator",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "sky-bench",
            dependencies: [
                "MessagePack",
                "SkynetRPC",
                "SkynetCoordinator",
                "Skynet",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "tools/sky-bench"
        ),
        .executableTarget(
            name: "echo-service",
            dependencies: [
                "Skynet",
                "SkynetRPC",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "examples/echo-service"
        ),
        .executableTarget(
            name: "echo-client",
            dependencies: ["Skynet"],
            path: "examples/echo-client"
        ),
        // Helpers shared by the test targets (seeded randomness); not a product.
        .target(
            name: "SkynetTestSupport",
            path: "Tests/SkynetTestSupport"
        ),
        .testTarget(
            name: "MessagePackTests",
            dependencies: ["MessagePack", "CMsgPack", "SkynetTestSupport"]
        ),
        .testTarget(
            name: "SkynetCoordinatorTests",
            dependencies: ["SkynetCoordinator", "MessagePack", "SkynetTestSupport"]
        ),
        .testTarget(
            name: "SkynetTests",
            dependencies: [
                "Skynet",
                "SkynetCoordinator",
                "SkynetRPC",
                "MessagePack",
                "SkynetTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "SkynetRPCTests",
            dependencies: [
                "SkynetRPC",
                "MessagePack",
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
