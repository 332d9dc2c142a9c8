// swift-tools-version: 6.1
//
// Tsubame — one SwiftPM package. The module graph and its rules are in STYLE.md §1 and
// docs/design.md: pure `*Protocol` modules import MailCore/SASL/NIOCore only; `*Server`
// modules are the SwiftNIO glue; storage backends sit behind protocols; only
// `TsubameServer` wires concrete implementations together.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Tsubame",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tsubame", targets: ["tsubame"]),
        // For the fuzz targets in Fuzz/ (a package of their own).
        .library(name: "SMTPProtocol", targets: ["SMTPProtocol"]),
        .library(name: "POP3Protocol", targets: ["POP3Protocol"]),
        .library(name: "IMAPProtocol", targets: ["IMAPProtocol"]),
        .library(name: "MIMEStructure", targets: ["MIMEStructure"]),
        .library(name: "SASL", targets: ["SASL"]),
        .library(name: "TsubameServer", targets: ["TsubameServer"]),
        .library(name: "DNS", targets: ["DNS"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // System libraries from Debian: libxcrypt (crypt_r for the {*-CRYPT} schemes) and
        // libargon2 (ARGON2I/ARGON2ID). Hash algorithms are never written by hand here.
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "CArgon2", path: "Sources/CArgon2", providers: [.apt(["libargon2-dev"])]),
        // OpenLDAP's client library, for the LDAP user database.
        .systemLibrary(name: "CLDAP", path: "Sources/CLDAP", providers: [.apt(["libldap-dev"])]),

        .target(
            name: "MailCore",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SASL",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SMTPProtocol",
            dependencies: ["MailCore", "SASL", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "POP3Protocol",
            dependencies: ["MailCore", "SASL", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IMAPProtocol",
            dependencies: ["MailCore", "SASL", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        // The MIME analysis IMAP FETCH and SEARCH need (ENVELOPE, BODYSTRUCTURE,
        // BODY[section], BINARY); pure, uses IMAPProtocol for `SectionSpecifier` and
        // `IMAPEncoding`.
        .target(
            name: "MIMEStructure",
            dependencies: ["MailCore", "IMAPProtocol"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DurableFiles",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MailStore",
            dependencies: ["MailCore"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MaildirStore",
            dependencies: ["MailStore", "MailCore", "DurableFiles", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MailQueue",
            dependencies: ["MailCore", "DurableFiles", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // Outbound: an asynchronous stub resolver (MX, A, AAAA, TXT, TLSA, PTR) on
        // SwiftNIO — no resolver library is in the mirror, and getaddrinfo blocks and
        // knows no MX — and the SMTP client that delivers the queue's mail to MXes
        // and smarthosts. See docs/design.md, "Outbound".
        .target(
            name: "DNS",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SMTPClient",
            dependencies: [
                "SMTPProtocol", "SASL", "MailCore", "MailQueue", "DNS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DovecotAuthProtocol",
            dependencies: ["SASL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "DovecotAuthServer",
            dependencies: [
                "DovecotAuthProtocol", "SASL", "ServerSupport", "Directory",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SMTPServer",
            dependencies: [
                "SMTPProtocol", "SASL", "ServerSupport", "Directory", "MailStore", "MailQueue", "MailCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "POP3Server",
            dependencies: [
                "POP3Protocol", "SASL", "ServerSupport", "Directory", "MailStore", "MailCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IMAPServer",
            dependencies: [
                "IMAPProtocol", "MIMEStructure", "SASL", "ServerSupport", "Directory", "MailStore", "MailCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Directory",
            dependencies: [
                "MailCore", "SASL", "CCrypt", "CArgon2",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // User databases beside the embedded one, each in its own module so that the
        // Directory module (and every protocol) stays free of their client libraries.
        .target(
            name: "SQLDirectory",
            dependencies: [
                "Directory", "MailCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "LDAPDirectory",
            dependencies: [
                "Directory", "MailCore", "CLDAP",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ServerSupport",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TsubameServer",
            dependencies: [
                "MailCore", "Directory", "ServerSupport", "SMTPProtocol", "SMTPServer", "SASL", "MailStore",
                "DovecotAuthServer", "SQLDirectory", "LDAPDirectory", "POP3Server", "IMAPServer",
                "MaildirStore", "MailQueue", "DNS", "SMTPClient",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tsubame",
            dependencies: [
                "TsubameServer", "Directory", "MailQueue",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Test-only: scripted clients and harnesses shared by the test targets.
        .target(
            name: "MailTestSupport",
            dependencies: [
                "SASL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(
            name: "DirectoryTests",
            dependencies: ["Directory"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SQLDirectoryTests",
            dependencies: ["SQLDirectory", "Directory", "MailCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "LDAPDirectoryTests",
            dependencies: ["LDAPDirectory", "Directory", "MailCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IMAPServerTests",
            dependencies: [
                "IMAPServer", "MailTestSupport", "IMAPProtocol", "Directory", "MailStore", "MailCore", "ServerSupport",
                "SASL", .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "POP3ServerTests",
            dependencies: ["POP3Server"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SASLTests",
            dependencies: [
                "MailTestSupport",
                "SASL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SMTPProtocolTests",
            dependencies: [
                "SMTPProtocol", "SASL", "MailTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "POP3ProtocolTests",
            dependencies: [
                "POP3Protocol", "SASL", "MailTestSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IMAPProtocolTests",
            dependencies: ["MailTestSupport", "IMAPProtocol", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MIMEStructureTests",
            dependencies: ["MailTestSupport", "MIMEStructure", "IMAPProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DovecotAuthProtocolTests",
            dependencies: [
                "DovecotAuthProtocol", "SASL", "MailTestSupport", .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SMTPServerTests",
            dependencies: [
                "SMTPServer", "SMTPProtocol", "Directory", "MailQueue", "MailStore", "MailCore",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MaildirStoreTests",
            dependencies: ["MaildirStore", "MailStore", "MailCore", "DurableFiles"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DNSTests",
            dependencies: [
                "DNS", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SMTPClientTests",
            dependencies: [
                "SMTPClient", "SMTPServer", "SMTPProtocol", "MailQueue", "DNS", "Directory", "MailStore", "MailCore",
                "SASL", "ServerSupport", "MailTestSupport",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"), .product(name: "Logging", package: "swift-log"),
                // A test CA and a server certificate it signs, for certificate verification.
                .product(name: "X509", package: "swift-certificates"), .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MailQueueTests",
            dependencies: [
                "MailQueue", "MailCore", "DurableFiles", "MIMEStructure", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ServerSupportTests",
            dependencies: [
                "ServerSupport", "MailTestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TsubameServerTests",
            dependencies: ["TsubameServer", "MailTestSupport", "MailQueue"],
            swiftSettings: swiftSettings
        ),
    ]
)
