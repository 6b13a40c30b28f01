// swift-tools-version:6.3
// Microbenchmarks of pgrelay's hot-path building blocks (package-benchmark).
// A separate package so that the main build and CI never build the benchmark tooling:
//     swift package --package-path Benchmarks benchmark
import PackageDescription

let package = Package(
    name: "pgrelay-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "pgrelay", path: ".."),
        // MallocInterposer gives the malloc counts; RuntimeInterposer (ARC counters on Linux 6.3)
        // stays off: it is not needed for ns/op and mallocs/op.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "PGRelayBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PGRelayKit", package: "pgrelay"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/PGRelayBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
