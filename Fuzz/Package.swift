// swift-tools-version: 6.1
//
// libFuzzer targets for every parser that reads untrusted bytes. A package of its own
// so that the main build never tries to link these (libFuzzer supplies `main`).
// Build and run with Fuzz/run.sh.
import PackageDescription

let package = Package(
    name: "TsubameFuzz",
    platforms: [.macOS(.v15)],
    // run.sh links tsubame-root -> .. so the dependency has the same identity whatever
    // the checkout directory is called.
    dependencies: [.package(path: "tsubame-root")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzSMTPCommand", dependencies: ["FuzzDriver", .product(name: "SMTPProtocol", package: "tsubame-root")]),
        .executableTarget(
            name: "FuzzDataDecoder",
            dependencies: ["FuzzDriver", .product(name: "SMTPProtocol", package: "tsubame-root")]),
        .executableTarget(
            name: "FuzzSMTPReply",
            dependencies: ["FuzzDriver", .product(name: "SMTPProtocol", package: "tsubame-root")]),
        .executableTarget(name: "FuzzSASL", dependencies: ["FuzzDriver", .product(name: "SASL", package: "tsubame-root")]),
        .executableTarget(
            name: "FuzzIMAPCommand", dependencies: ["FuzzDriver", .product(name: "IMAPProtocol", package: "tsubame-root")]),
        .executableTarget(
            name: "FuzzMIMEStructure",
            dependencies: [
                "FuzzDriver", .product(name: "MIMEStructure", package: "tsubame-root"),
                .product(name: "IMAPProtocol", package: "tsubame-root"),
            ]),
        .executableTarget(name: "FuzzPOP3", dependencies: ["FuzzDriver", .product(name: "POP3Protocol", package: "tsubame-root")]),
        .executableTarget(name: "FuzzDNSMessage", dependencies: ["FuzzDriver", .product(name: "DNS", package: "tsubame-root")]),
        .executableTarget(
            name: "FuzzConfiguration",
            dependencies: ["FuzzDriver", .product(name: "TsubameServer", package: "tsubame-root")]),
    ]
)
