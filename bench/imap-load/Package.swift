// swift-tools-version: 6.1
//
// IMAP load generator for bench/imap.sh: a SwiftNIO client that drives Dovecot (the
// anchor) and Tsubame with the same load. A package of its own so that the main build
// never compiles it; it depends on nothing of Tsubame's. Build with
//   cd bench/imap-load && swift build -c release
import PackageDescription

let package = Package(
    name: "imap-load",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The same versions the main Package.swift pins.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        .executableTarget(
            name: "imap-load",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)])
    ]
)
