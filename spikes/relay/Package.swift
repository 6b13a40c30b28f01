// swift-tools-version:6.0
// The relay engine spike of issue 15: one plain TCP byte relay on three kernel interfaces (SwiftNIO,
// edge-triggered epoll, io_uring), to be measured against each other by ./measure. A package of
// its own so that the main package's build, tests and CI do not build or link it.
import PackageDescription

let package = Package(
    name: "relay-spike",
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // epoll and accept4, which Swift's Glibc module does not export.
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),
        // The system liburing (Debian's liburing-dev), as the main package takes zlib (Sources/CZlib).
        .systemLibrary(name: "CLibURing", path: "Sources/CLibURing", providers: [.apt(["liburing-dev"])]),
        .executableTarget(
            name: "relay-spike",
            dependencies: [
                "CLibURing",
                "CLinux",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [
                // As the main package builds PGRelayServer: the engines' state lives in classes owned
                // by one thread each, and the runtime exclusivity checks would be counted into the
                // instructions per transaction this spike exists to compare.
                .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
            ]
        ),
    ]
)
