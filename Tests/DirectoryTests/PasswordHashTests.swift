import Foundation
import Testing
@testable import Directory

/// One line of `Fixtures/doveadm-vectors.tsv`: `SCHEME<TAB>password<TAB>{SCHEME}hash`, the hash
/// made by Debian's `doveadm pw` (dovecot-core 2.3.19). `Fixtures/make-doveadm-vectors.sh`
/// regenerates the file.
struct DoveadmVector: Sendable, CustomTestStringConvertible {
    let scheme: String
    let password: String
    let stored: String

    var testDescription: String { "\(scheme) \(password.debugDescription)" }

    /// Near misses that must not verify against this vector's hash.
    var wrongPasswords: [String] {
        var wrong = ["", Self.changingFirstCharacter(of: password)]
        // DES-CRYPT reads only the first 8 octets of a password: a suffix after them is invisible.
        if scheme != "DES-CRYPT" || password.utf8.count < 8 { wrong.append(password + "x") }
        return wrong
    }

    static func changingFirstCharacter(of text: String) -> String {
        let replacement: Character = text.first == "x" ? "y" : "x"
        return String(replacement) + text.dropFirst()
    }

    static func loadAll() throws -> [DoveadmVector] {
        guard
            let url = Bundle.module.url(
                forResource: "doveadm-vectors", withExtension: "tsv", subdirectory: "Fixtures")
        else { throw FixtureError(message: "Fixtures/doveadm-vectors.tsv is missing from the test bundle") }
        let text = try String(contentsOf: url, encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { throw FixtureError(message: "malformed fixture line: \(line)") }
            return DoveadmVector(scheme: fields[0], password: fields[1], stored: fields[2])
        }
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The installed `doveadm`, for live interoperability checks; tests using it are skipped
/// where dovecot-core is not installed.
enum Doveadm {
    static let path = "/usr/bin/doveadm"

    /// Runs `doveadm arguments…` and returns its exit status and trimmed standard output.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let output = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return (process.terminationStatus, output)
    }
}

@Suite("Password hashes")
struct PasswordHashTests {
    /// The schemes the issue asks to read from existing Dovecot databases.
    static let requiredSchemes: Set<String> = [
        "ARGON2ID", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "SSHA512", "SSHA256", "PLAIN", "CRYPT",
    ]
    /// Everything `make-doveadm-vectors.sh` generates.
    static let generatedSchemes: Set<String> = [
        "ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT", "MD5-CRYPT", "DES-CRYPT", "CRYPT",
        "SSHA512", "SSHA256", "SSHA", "SHA512", "SHA256", "SHA", "PLAIN", "CLEAR", "CLEARTEXT", "SSHA512.HEX",
        "SHA256.HEX", "SCRAM-SHA-256",
    ]

    // MARK: - Hashes made by Dovecot

    @Test("the doveadm fixture covers every required scheme and every algorithm")
    func fixtureCoversEverySchemeAndAlgorithm() throws {
        let vectors = try DoveadmVector.loadAll()
        let schemes = Set(vectors.map(\.scheme))
        #expect(schemes.isSuperset(of: Self.requiredSchemes))
        #expect(schemes.isSuperset(of: Self.generatedSchemes))
        let algorithms = Set(vectors.compactMap { PasswordScheme(name: $0.scheme)?.algorithm })
        for algorithm in PasswordScheme.Algorithm.allCases {
            #expect(algorithms.contains(algorithm), "no doveadm vector for \(algorithm.rawValue)")
        }
    }

    @Test("a hash made by doveadm pw verifies its password and no near miss", arguments: try DoveadmVector.loadAll())
    func doveadmHashVerifies(_ vector: DoveadmVector) throws {
        let hash = try PasswordHash(parsing: vector.stored)
        #expect(hash.scheme == PasswordScheme(name: vector.scheme))
        #expect(hash.verify(vector.password))
        for wrong in vector.wrongPasswords {
            #expect(!hash.verify(wrong), "\(wrong.debugDescription) must not verify")
        }
        #expect(try PasswordHash(parsing: hash.stored) == hash)
    }

    @Test(
        "a hash made by the installed doveadm verifies",
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/doveadm"), "dovecot-core is not installed"),
        arguments: ["SHA512-CRYPT", "ARGON2ID", "BLF-CRYPT", "SSHA256"]
    )
    func liveDoveadmHashVerifies(scheme: String) throws {
        let password = "live \u{2713} " + UUID().uuidString
        let result = try Doveadm.run(["pw", "-s", scheme, "-p", password])
        #expect(result.status == 0)
        let hash = try PasswordHash(parsing: result.output)
        #expect(hash.scheme == PasswordScheme(name: scheme))
        #expect(hash.verify(password))
        #expect(!hash.verify(password + "x"))
        #expect(!hash.verify(""))
    }

    @Test(
        "the installed doveadm verifies hashes Tsubame makes",
        .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/doveadm"), "dovecot-core is not installed"),
        arguments: PasswordScheme.Algorithm.allCases
    )
    func doveadmVerifiesMadeHash(_ algorithm: PasswordScheme.Algorithm) throws {
        let password = Self.samplePassword(for: algorithm)
        let hash = try PasswordHash.make(password, algorithm: algorithm)
        #expect(try Doveadm.run(["pw", "-t", hash.stored, "-p", password]).status == 0)
        #expect(try Doveadm.run(["pw", "-t", hash.stored, "-p", password + "!"]).status != 0)
    }

    // MARK: - Making hashes

    /// DES-CRYPT reads at most 8 ASCII octets; everything else gets spaces and non-ASCII.
    static func samplePassword(for algorithm: PasswordScheme.Algorithm) -> String {
        algorithm == .desCrypt ? "pa55wd" : "correct horse \u{2713} \u{65E5}\u{672C}"
    }

    @Test("make then verify round-trips for every algorithm", arguments: PasswordScheme.Algorithm.allCases)
    func makeRoundTrips(_ algorithm: PasswordScheme.Algorithm) throws {
        let password = Self.samplePassword(for: algorithm)
        let hash = try PasswordHash.make(password, algorithm: algorithm)
        #expect(hash.scheme == PasswordScheme(algorithm: algorithm))
        #expect(hash.verify(password))
        #expect(!hash.verify(password + "!"))
        #expect(!hash.verify(""))
        #expect(try PasswordHash(parsing: hash.stored) == hash)
    }

    @Test("make defaults to ARGON2ID with doveadm's parameters")
    func makeDefaultsToArgon2id() throws {
        let hash = try PasswordHash.make("correct horse")
        #expect(hash.scheme.algorithm == .argon2id)
        #expect(hash.stored.hasPrefix("{ARGON2ID}$argon2id$"))
        #expect(hash.stored.contains("$v=19$m=65536,t=3,p=1$"))
        #expect(hash.verify("correct horse"))
    }

    static let cryptSettingPrefixes: [(PasswordScheme.Algorithm, String)] = [
        (.sha512Crypt, "$6$"),
        (.sha256Crypt, "$5$"),
        (.md5Crypt, "$1$"),
        (.blowfishCrypt, "$2y$10$"),
        (.crypt, "$6$"),
        (.argon2i, "$argon2i$v=19$m=32768,t=4,p=1$"),
    ]

    @Test("make writes the crypt format its scheme names", arguments: PasswordHashTests.cryptSettingPrefixes)
    func makeWritesSchemeFormat(algorithm: PasswordScheme.Algorithm, prefix: String) throws {
        let hash = try PasswordHash.make("correct horse", algorithm: algorithm)
        #expect(hash.encoded.hasPrefix(prefix))
    }

    /// Traditional DES crypt is 2 salt characters and 11 hash characters, no `$id$`
    /// (libxcrypt picks its default method, yescrypt, for a null prefix).
    @Test("DES-CRYPT makes a traditional 13-character DES hash")
    func desCryptMakesTraditionalDESHash() throws {
        let hash = try PasswordHash.make("pa55wd", algorithm: .desCrypt)
        #expect(hash.encoded.utf8.count == 13)
        #expect(!hash.encoded.hasPrefix("$"))
        #expect(hash.verify("pa55wd"))
    }

    @Test(
        "salted schemes use a fresh salt for every hash",
        arguments: [PasswordScheme.Algorithm.sha512Crypt, .blowfishCrypt, .ssha256, .scramSHA256, .argon2id]
    )
    func makeUsesFreshSalt(_ algorithm: PasswordScheme.Algorithm) throws {
        let first = try PasswordHash.make("correct horse", algorithm: algorithm)
        let second = try PasswordHash.make("correct horse", algorithm: algorithm)
        #expect(first != second)
    }

    // MARK: - Parsing

    @Test("an unknown scheme is refused with its name")
    func refusesUnknownScheme() {
        #expect(throws: PasswordHashError(.unknownScheme("NOPE"))) { try PasswordHash(parsing: "{NOPE}x") }
    }

    @Test("challenge-response-only schemes are refused", arguments: ["CRAM-MD5", "DIGEST-MD5", "OTP"])
    func refusesChallengeResponseScheme(_ name: String) {
        #expect(throws: PasswordHashError(.unknownScheme(name))) { try PasswordHash(parsing: "{\(name)}abc") }
    }

    @Test("text without {SCHEME} that is not a crypt string is refused", arguments: ["secret", "", " {SHA}x", "{SHA"])
    func refusesMissingScheme(_ text: String) {
        #expect(throws: PasswordHashError(.missingScheme)) { try PasswordHash(parsing: text) }
    }

    /// The fixture's SHA512-CRYPT hash of "correct horse", without its `{SCHEME}` prefix.
    static func bareSHA512CryptHash() throws -> String {
        let vectors = try DoveadmVector.loadAll()
        let vector = try #require(vectors.first { $0.scheme == "SHA512-CRYPT" && $0.password == "correct horse" })
        return String(vector.stored.dropFirst("{SHA512-CRYPT}".count))
    }

    @Test("a bare $id$ crypt string is read as CRYPT")
    func bareCryptStringIsCrypt() throws {
        let bare = try Self.bareSHA512CryptHash()
        #expect(bare.hasPrefix("$6$"))
        let hash = try PasswordHash(parsing: bare)
        #expect(hash.scheme == PasswordScheme(algorithm: .crypt))
        #expect(hash.encoded == bare)
        #expect(hash.stored == "{CRYPT}" + bare)
        #expect(hash.verify("correct horse"))
        #expect(!hash.verify("correct horsex"))
    }

    @Test("scheme names are read case-insensitively")
    func lowerCaseSchemeName() throws {
        let bare = try Self.bareSHA512CryptHash()
        let hash = try PasswordHash(parsing: "{sha512-crypt}" + bare)
        #expect(hash.scheme == PasswordScheme(algorithm: .sha512Crypt))
        #expect(hash.stored == "{SHA512-CRYPT}" + bare)
        #expect(hash.verify("correct horse"))
        #expect(!hash.verify("Correct horse"))
    }

    static let schemeNames: [(String, PasswordScheme)] = [
        ("SHA512-CRYPT", PasswordScheme(algorithm: .sha512Crypt)),
        ("blf-crypt", PasswordScheme(algorithm: .blowfishCrypt)),
        ("Argon2ID", PasswordScheme(algorithm: .argon2id)),
        ("CLEAR", PasswordScheme(algorithm: .plain)),
        ("cleartext", PasswordScheme(algorithm: .plain)),
        ("SHA1", PasswordScheme(algorithm: .sha1)),
        ("SSHA1", PasswordScheme(algorithm: .ssha1)),
        ("SHA256.HEX", PasswordScheme(algorithm: .sha256, encoding: .hex, isEncodingExplicit: true)),
        ("ssha512.hex", PasswordScheme(algorithm: .ssha512, encoding: .hex, isEncodingExplicit: true)),
        ("SHA256.B64", PasswordScheme(algorithm: .sha256, isEncodingExplicit: true)),
        ("SSHA256.BASE64", PasswordScheme(algorithm: .ssha256, isEncodingExplicit: true)),
        ("scram-sha-256", PasswordScheme(algorithm: .scramSHA256)),
    ]

    @Test("scheme names and Dovecot's aliases", arguments: PasswordHashTests.schemeNames)
    func schemeName(name: String, scheme: PasswordScheme) {
        #expect(PasswordScheme(name: name) == scheme)
        // The canonical name reads back as the same scheme.
        #expect(PasswordScheme(name: scheme.name) == scheme)
    }

    @Test("unknown scheme names", arguments: ["", "NOPE", "SHA256.HEX.HEX", "SHA-256", ".HEX", "CRAM-MD5"])
    func unknownSchemeName(_ name: String) {
        #expect(PasswordScheme(name: name) == nil)
    }

    static let malformedHashes = [
        "{SSHA256}!!!notbase64",
        "{SCRAM-SHA-256}1,2",
        "{SCRAM-SHA-256}",
        "{ARGON2ID}garbage",
        "{ARGON2I}$argon2i$v=19$m=1,t=1,p=1$$",
        "{SHA512-CRYPT}",
        "{SHA512-CRYPT}$6$",
        "{BLF-CRYPT}$2y$99$",
        "{CRYPT}*",
        "{CRYPT}!",
        "{CRYPT}garbage",
        "{SHA256}",
        "{SHA256}AAAA",
        "{SSHA512}AAAA",
        "{SHA256.HEX}abc",
        "{SHA256.HEX}zz",
        "{SSHA256.HEX}",
    ]

    @Test("a malformed hash never verifies and never crashes", arguments: PasswordHashTests.malformedHashes)
    func malformedHashNeverVerifies(_ text: String) {
        guard let hash = try? PasswordHash(parsing: text) else { return }
        for password in ["", "x", "garbage", "password", "notbase64", "correct horse"] {
            #expect(!hash.verify(password), "\(password.debugDescription) verified against \(text)")
        }
        #expect(hash.scramCredentials == nil)
    }

    // MARK: - Secrets and limits

    @Test("description never shows the hash", arguments: try DoveadmVector.loadAll())
    func descriptionRedactsHash(_ vector: DoveadmVector) throws {
        let hash = try PasswordHash(parsing: vector.stored)
        for text in [hash.description, "\(hash)", String(reflecting: hash)] {
            #expect(!text.contains(hash.encoded))
            #expect(!text.contains(vector.password))
        }
    }

    @Test("passwords longer than the limit never verify and cannot be hashed")
    func overlongPasswordRefused() throws {
        let limit = PasswordHash.maximumPasswordLength
        let atLimit = String(repeating: "a", count: limit)
        let overLimit = atLimit + "a"

        #expect(PasswordHash(scheme: PasswordScheme(algorithm: .plain), encoded: atLimit).verify(atLimit))
        #expect(!PasswordHash(scheme: PasswordScheme(algorithm: .plain), encoded: overLimit).verify(overLimit))
        let hashed = try PasswordHash.make(atLimit, algorithm: .sha256)
        #expect(hashed.verify(atLimit))
        #expect(!hashed.verify(overLimit))

        #expect(throws: PasswordHashError(.passwordTooLong)) { try PasswordHash.make(overLimit) }
        #expect(throws: PasswordHashError(.passwordTooLong)) {
            try PasswordHash.make(overLimit, algorithm: .sha512Crypt)
        }
        #expect(throws: PasswordHashError(.passwordTooLong)) { try PasswordHash.make(overLimit, algorithm: .plain) }
        // The limit counts UTF-8 octets: 513 two-octet characters are 1026 octets.
        let multibyte = String(repeating: "\u{E9}", count: limit / 2 + 1)
        #expect(throws: PasswordHashError(.passwordTooLong)) { try PasswordHash.make(multibyte, algorithm: .plain) }
    }

    @Test("a password-too-long error does not carry the password")
    func tooLongErrorRedactsPassword() {
        let password = String(repeating: "s3cret", count: 200)
        let error = #expect(throws: PasswordHashError.self) { try PasswordHash.make(password, algorithm: .plain) }
        #expect(error?.description.contains("s3cret") == false)
    }

    static let sameBytes: [[UInt8]] = [[], [0], [1, 2, 3], [0x80, 0xFF]]

    @Test("constantTimeEquals: identical byte strings are equal", arguments: PasswordHashTests.sameBytes)
    func constantTimeEqualsSame(_ bytes: [UInt8]) {
        #expect(constantTimeEquals(bytes, bytes))
        #expect(constantTimeEquals(bytes, Array(bytes)))
    }

    static let differentBytes: [([UInt8], [UInt8])] = [
        ([1, 2, 3], [1, 2, 4]),
        ([0x80, 2, 3], [0x00, 2, 3]),
        ([1, 2, 3], [1, 2]),
        ([], [0]),
    ]

    @Test(
        "constantTimeEquals: different contents or lengths are not equal", arguments: PasswordHashTests.differentBytes)
    func constantTimeEqualsDifferent(lhs: [UInt8], rhs: [UInt8]) {
        #expect(!constantTimeEquals(lhs, rhs))
        #expect(!constantTimeEquals(rhs, lhs))
    }

    // MARK: - Known deviations from Dovecot

    /// Dovecot's `.HEX` suffix on PLAIN stores the password hex-encoded:
    /// `doveadm pw -s PLAIN.HEX -p abc` prints `{PLAIN.HEX}616263`.
    @Test("PLAIN.HEX holds the hex-encoded password, as in Dovecot")
    func plainHexIsHexEncoded() throws {
        let hash = try PasswordHash(parsing: "{PLAIN.HEX}616263")
        #expect(hash.verify("abc"))
        #expect(!hash.verify("616263"))
    }
}

@Suite("SCRAM-SHA-256 stored keys")
struct SCRAMCredentialsTests {
    /// RFC 7677 §3's exchange: user "user", password "pencil", salt W22ZaJ0SNY7soEsUEjb6gQ==,
    /// 4096 iterations. These keys reproduce the exchange's ClientProof
    /// (p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=) and ServerSignature
    /// (v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=).
    static let rfc7677Salt = "W22ZaJ0SNY7soEsUEjb6gQ=="
    static let rfc7677StoredKey = "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY="
    static let rfc7677ServerKey = "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="

    @Test("RFC 7677 §3 example keys for password \"pencil\"")
    func rfc7677Example() throws {
        let saltData = try #require(Data(base64Encoded: Self.rfc7677Salt))
        let salt = Array(saltData)
        let keys = SCRAMCredentials.derive(password: Array("pencil".utf8), salt: salt, iterations: 4096)
        #expect(keys.stored.count == 32)
        #expect(keys.server.count == 32)
        #expect(Data(keys.stored).base64EncodedString() == Self.rfc7677StoredKey)
        #expect(Data(keys.server).base64EncodedString() == Self.rfc7677ServerKey)

        let credentials = SCRAMCredentials(iterations: 4096, salt: salt, storedKey: keys.stored, serverKey: keys.server)
        #expect(credentials.verify(password: Array("pencil".utf8)))
        #expect(!credentials.verify(password: Array("pencil!".utf8)))

        let hash = try PasswordHash(parsing: "{SCRAM-SHA-256}" + credentials.dovecotEncoded)
        #expect(hash.verify("pencil"))
        #expect(!hash.verify("Pencil"))
        #expect(hash.scramCredentials == credentials)
    }

    @Test("made keys verify their password and round-trip through Dovecot's encoding")
    func makeVerifiesAndRoundTrips() throws {
        let password = Array("correct horse \u{2713}".utf8)
        let credentials = SCRAMCredentials.make(password: password)
        #expect(credentials.iterations == SCRAMCredentials.defaultIterations)
        #expect(credentials.salt.count == 16)
        #expect(credentials.storedKey.count == 32)
        #expect(credentials.serverKey.count == 32)
        #expect(credentials.verify(password: password))
        #expect(!credentials.verify(password: password + [0x21]))
        #expect(!credentials.verify(password: []))
        #expect(try SCRAMCredentials(dovecotEncoded: credentials.dovecotEncoded) == credentials)
    }

    @Test("a doveadm SCRAM-SHA-256 hash exposes its keys; other schemes have none")
    func scramCredentialsOfDoveadmHash() throws {
        let vectors = try DoveadmVector.loadAll()
        for vector in vectors {
            let hash = try PasswordHash(parsing: vector.stored)
            if vector.scheme == "SCRAM-SHA-256" {
                let credentials = try #require(hash.scramCredentials)
                #expect(credentials.iterations == 4096)
                #expect(credentials.verify(password: Array(vector.password.utf8)))
            } else {
                #expect(hash.scramCredentials == nil, "\(vector.scheme) has no SCRAM keys")
            }
        }
    }

    static let malformedEncodings: [String] = [
        "",
        "1,2",
        "4096,\(rfc7677Salt),\(rfc7677StoredKey)",
        "4096,\(rfc7677Salt),\(rfc7677StoredKey),\(rfc7677ServerKey),extra",
        "0,\(rfc7677Salt),\(rfc7677StoredKey),\(rfc7677ServerKey)",
        "-1,\(rfc7677Salt),\(rfc7677StoredKey),\(rfc7677ServerKey)",
        "10000001,\(rfc7677Salt),\(rfc7677StoredKey),\(rfc7677ServerKey)",
        "many,\(rfc7677Salt),\(rfc7677StoredKey),\(rfc7677ServerKey)",
        "4096,!!!,\(rfc7677StoredKey),\(rfc7677ServerKey)",
        "4096,\(rfc7677Salt),AAAA,\(rfc7677ServerKey)",
        "4096,\(rfc7677Salt),\(rfc7677StoredKey),AAAA",
    ]

    @Test("malformed Dovecot SCRAM strings are refused", arguments: SCRAMCredentialsTests.malformedEncodings)
    func refusesMalformedEncoding(_ text: String) {
        #expect(throws: PasswordHashError(.malformed)) { try SCRAMCredentials(dovecotEncoded: text) }
    }
}
