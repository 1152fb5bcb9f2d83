// swift-tools-version:6.0
// A user's own package that depends on Skynet, holding the README's service and client
// verbatim. The tests build it as it is (`swift build --package-path examples/consumer`)
// and run both programs against skynetd; a real package would name Skynet by its URL:
//   .package(url: "https://github.com/OWNER/skynet-swift", from: "0.5.0")
import PackageDescription

let package = Package(
    name: "consumer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Skynet", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "EchoService",
            dependencies: [.product(name: "Skynet", package: "Skynet"), .product(name: "SkynetRPC", package: "Skynet")]
        ),
        .executableTarget(
            name: "EchoClient",
            dependencies: [.product(name: "Skynet", package: "Skynet")]
        ),
    ]
)
