// swift-tools-version: 6.1
//
// libFuzzer targets for every parser that reads untrusted bytes. A package of its own
// so that the main build never tries to link these (libFuzzer supplies `main`).
// Build and run with Fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "TsubameFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "FuzzSMTPCommand", dependencies: [.product(name: "SMTPProtocol", package: "Tsubame")]),
        .executableTarget(
            name: "FuzzDataDecoder",
            dependencies: [.product(name: "SMTPProtocol", package: "Tsubame")]),
        .executableTarget(name: "FuzzSASL", dependencies: [.product(name: "SASL", package: "Tsubame")]),
        .executableTarget(
            name: "FuzzConfiguration",
            dependencies: [.product(name: "TsubameServer", package: "Tsubame")]),
    ]
)
