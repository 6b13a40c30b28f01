// swift-tools-version:6.1
// A real, independent PostgreSQL driver (postgres-nio) as a client of pgrelay, for the integration
// tests. A package of its own so that building pgrelay does not build postgres-nio.
import PackageDescription

let package = Package(
    name: "nio-client",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        .executableTarget(
            name: "nio-client",
            dependencies: [
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v5]
)
