// swift-tools-version:6.0
// libFuzzer targets for pgrelay's parsers (docs/testing.md). A separate package so that neither
// `swift build` nor `swift test` of the main package builds them: they have no `main` of their
// own (libFuzzer's is linked in) and only link with `-sanitize=fuzzer`. Build and run them with
//     scripts/fuzz [SECONDS]
// which does
//     swift build --package-path Fuzz -c release \
//         -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
// (`-enable-testing`: the console parser and a few SCRAM helpers are internal to their modules,
// reached with `@testable import`). Each target's main.swift defines LLVMFuzzerTestOneInput and
// ends by calling libFuzzer's driver (CFuzzDriver): SwiftPM links an executable's `main` to its
// own module, so libFuzzer's `main` cannot be the entry point.
import PackageDescription

func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies)
}

let package = Package(
    name: "pgrelay-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "pgrelay", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", .product(name: "PGRelayKit", package: "pgrelay")]),
        fuzzTarget("FuzzFrontendMessage", [
            .product(name: "PGRelayKit", package: "pgrelay"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzBackendMessage", [
            .product(name: "PGRelayKit", package: "pgrelay"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzStartupPacket", [
            .product(name: "PGRelayKit", package: "pgrelay"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzStatementNamePeek", [
            .product(name: "PGRelayKit", package: "pgrelay"), .product(name: "NIOCore", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzSCRAM", [.product(name: "PGRelayKit", package: "pgrelay")]),
        fuzzTarget("FuzzConfig", [.product(name: "PGRelayKit", package: "pgrelay")]),
        fuzzTarget("FuzzSQL", [.product(name: "PGRelayKit", package: "pgrelay")]),
        fuzzTarget("FuzzConsoleCommand", [.product(name: "PGRelayServerKit", package: "pgrelay")]),
        fuzzTarget("FuzzAdminRouter", [
            .product(name: "PGRelayServerKit", package: "pgrelay"), .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
