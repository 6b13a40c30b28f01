// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pgrelay",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pgrelay", targets: ["pgrelay"]),
        // For the separate Benchmarks/ package (package-benchmark); nothing else links it.
        .library(name: "PGRelayKit", targets: ["PGWire", "PGRelayCore"]),
        // For the separate Fuzz/ package (libFuzzer targets of the console and admin HTTP parsers).
        .library(name: "PGRelayServerKit", targets: ["PGRelayServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        // Test-only: postgres-nio as an independent client of pgrelay (tests/nio-client).
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "PGWire",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "PGRelayCore",
            dependencies: [
                "PGWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                // PBKDF2 (SCRAM's Hi()) lives in _CryptoExtras, not in Crypto.
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // epoll, eventfd and accept4: the Linux calls Swift's Glibc module leaves out (the relay engine's).
        .systemLibrary(name: "CEngineLinux", path: "Sources/CEngineLinux"),
        // The relay engine (issue 15): reactors on edge-triggered epoll, socket connections, listeners
        // and connectors of pgrelay's own for the client/server data path. Linux only; elsewhere it
        // compiles to nothing. Depends on NIOCore only for EventLoop, futures and ByteBuffer.
        .target(
            name: "PGRelayEngine",
            dependencies: [
                .target(name: "CEngineLinux", condition: .when(platforms: [.linux])),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [
                // As PGRelayServer: state in classes confined to one reactor thread each.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        // Not part of the product: a plain TCP byte relay on the engine, to measure its cost per
        // round trip against the issue 15 spike's relays (docs/performance.md).
        .executableTarget(
            name: "engine-relay",
            dependencies: ["PGRelayEngine", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: [
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        // The system zlib (zlib1g-dev), for gzip-compressed admin HTTP responses.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "PGRelayServer",
            dependencies: [
                "PGWire",
                "PGRelayCore",
                "PGRelayEngine",
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: [
                // The relay's state lives in classes owned by one event loop each; the runtime
                // exclusivity checks on their properties were ~8 % of the instructions per
                // transaction (docs/performance.md). Compile-time checks stay on, and debug
                // builds (the tests) keep the runtime checks.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
        .executableTarget(
            name: "pgrelay",
            dependencies: [
                "PGRelayCore",
                "PGRelayServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Not part of the product: a postgres-nio client the integration tests drive.
        .executableTarget(
            name: "nio-client",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "tests/nio-client/Sources/nio-client"
        ),
        .testTarget(name: "PGWireTests", dependencies: ["PGWire"]),
        .testTarget(
            name: "PGRelayEngineTests",
            dependencies: ["PGRelayEngine", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(name: "PGRelayCoreTests", dependencies: ["PGRelayCore", "PGWire"]),
        .testTarget(
            name: "PGRelayServerTests",
            dependencies: [
                "PGRelayServer", "PGRelayCore", "PGWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
    ],
    swiftLanguageModes: [.v5]
)
