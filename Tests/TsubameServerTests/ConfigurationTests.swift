import Foundation
import Testing
@testable import TsubameServer

/// The TOML configuration: defaults, every key, every kind of problem (with its file,
/// line and key), loading from disk, rendering back, and the operator reference in
/// docs/configuration.md.
@Suite("Configuration")
struct ConfigurationTests {
    static let file = "/etc/tsubame/tsubame.toml"

    // MARK: - Defaults

    @Test func emptyTextIsAllDefaults() throws {
        #expect(try ConfigurationLoader.parse("", file: Self.file) == Configuration())
        #expect(try ConfigurationLoader.parse("\n# only a comment\n\n", file: Self.file) == Configuration())
    }

    /// DESIGN.md §5: the seven services of the seed's table, on every IPv4 address.
    @Test func listenDefaultsAreTheSevenStandardPorts() {
        let listen = Configuration.Listen()
        #expect(listen.services.map { $0.service } == ServiceKind.allCases)
        #expect(listen.services.map { $0.address?.host ?? "" } == Array(repeating: "0.0.0.0", count: 7))
        #expect(listen.services.map { $0.address?.port ?? -1 } == [25, 587, 465, 143, 993, 110, 995])
        #expect(listen.smtp == ListenAddress(host: "0.0.0.0", port: 25))
        #expect(listen.submission == ListenAddress(host: "0.0.0.0", port: 587))
        #expect(listen.submissions == ListenAddress(host: "0.0.0.0", port: 465))
        #expect(listen.imap == ListenAddress(host: "0.0.0.0", port: 143))
        #expect(listen.imaps == ListenAddress(host: "0.0.0.0", port: 993))
        #expect(listen.pop3 == ListenAddress(host: "0.0.0.0", port: 110))
        #expect(listen.pop3s == ListenAddress(host: "0.0.0.0", port: 995))
    }

    /// The defaults docs/configuration.md states; change both together.
    @Test func defaultsAreTheDocumentedOnes() {
        let configuration = Configuration()
        #expect(!configuration.hostname.isEmpty)
        #expect(configuration.tls.certificate == nil)
        #expect(configuration.tls.key == nil)
        #expect(configuration.auth.allowPlaintext == false)
        #expect(configuration.auth.failureWindow == .seconds(900))
        #expect(configuration.auth.failureDelay == .milliseconds(500))
        #expect(configuration.auth.maximumFailureDelay == .seconds(8))
        #expect(configuration.auth.maximumFailuresPerAddress == 20)
        #expect(configuration.auth.maximumFailuresPerAccount == 10)
        #expect(configuration.limits.maximumConnections == 10_000)
        #expect(configuration.limits.maximumConnectionsPerAddress == 50)
        #expect(configuration.limits.maximumLineLength == 8192)
        #expect(configuration.limits.smtpIdleTimeout == .seconds(300))  // RFC 5321 §4.5.3.2.7
        #expect(configuration.limits.imapIdleTimeout == .seconds(1800))  // RFC 9051 §5.4
        #expect(configuration.limits.pop3IdleTimeout == .seconds(600))  // RFC 1939 §3
        #expect(configuration.limits.shutdownGrace == .seconds(30))
        #expect(configuration.smtp.maximumMessageSize == 50 * 1024 * 1024)
        #expect(configuration.smtp.maximumRecipients == 1000)
        #expect(configuration.smtp.maximumErrors == 20)
        #expect(configuration.smtp.bareLineEndings == "reject")
        #expect(configuration.smtp.authMechanisms == ["PLAIN", "LOGIN"])
        #expect(configuration.smtp.receivedHeaderTLS == false)
        #expect(configuration.smtp.receivedHeaderLogin == false)
        #expect(configuration.log.level == "info")
    }

    // MARK: - Every key

    static let fullExample = """
        # Every key of every table, each set to something other than its default.
        hostname = "Mail.Example.COM"

        [listen]
        smtp = "192.0.2.10:25"
        submission = "[2001:db8::10]:587"
        submissions = ":465"
        imap = "127.0.0.1:1143"
        imaps = ""
        pop3 = ""
        pop3s = "localhost:1995"

        [tls]
        certificate = "/etc/letsencrypt/live/mail.example.com/fullchain.pem"
        key = "/etc/letsencrypt/live/mail.example.com/privkey.pem"

        [auth]
        allow_plaintext = true
        failure_window = "1h"
        failure_delay = "250ms"
        max_failure_delay = 30
        max_failures_per_ip = 5
        max_failures_per_account = 3

        [limits]
        max_connections = 500
        max_connections_per_ip = 10
        max_line_length = 4096
        smtp_idle_timeout = "10m"
        imap_idle_timeout = "2h"
        pop3_idle_timeout = 900
        shutdown_grace = "45s"

        [smtp]
        max_message_size = 10485760
        max_recipients = 100
        max_errors = 5
        bare_line_endings = "normalize"
        auth_mechanisms = ["plain", "SCRAM-SHA-256"]
        received_header_tls = true
        received_header_login = true

        [log]
        level = "DEBUG"

        """

    @Test func everyKeyParsesIntoItsField() throws {
        var expected = Configuration()
        expected.hostname = "mail.example.com"
        expected.listen.smtp = ListenAddress(host: "192.0.2.10", port: 25)
        expected.listen.submission = ListenAddress(host: "2001:db8::10", port: 587)
        expected.listen.submissions = ListenAddress(host: "0.0.0.0", port: 465)
        expected.listen.imap = ListenAddress(host: "127.0.0.1", port: 1143)
        expected.listen.imaps = nil
        expected.listen.pop3 = nil
        expected.listen.pop3s = ListenAddress(host: "localhost", port: 1995)
        expected.tls.certificate = "/etc/letsencrypt/live/mail.example.com/fullchain.pem"
        expected.tls.key = "/etc/letsencrypt/live/mail.example.com/privkey.pem"
        expected.auth.allowPlaintext = true
        expected.auth.failureWindow = .seconds(3600)
        expected.auth.failureDelay = .milliseconds(250)
        expected.auth.maximumFailureDelay = .seconds(30)
        expected.auth.maximumFailuresPerAddress = 5
        expected.auth.maximumFailuresPerAccount = 3
        expected.limits.maximumConnections = 500
        expected.limits.maximumConnectionsPerAddress = 10
        expected.limits.maximumLineLength = 4096
        expected.limits.smtpIdleTimeout = .seconds(600)
        expected.limits.imapIdleTimeout = .seconds(7200)
        expected.limits.pop3IdleTimeout = .seconds(900)
        expected.limits.shutdownGrace = .seconds(45)
        expected.smtp.maximumMessageSize = 10 * 1024 * 1024
        expected.smtp.maximumRecipients = 100
        expected.smtp.maximumErrors = 5
        expected.smtp.bareLineEndings = "normalize"
        expected.smtp.authMechanisms = ["PLAIN", "SCRAM-SHA-256"]
        expected.smtp.receivedHeaderTLS = true
        expected.smtp.receivedHeaderLogin = true
        expected.log.level = "debug"

        let parsed = try ConfigurationLoader.parse(Self.fullExample, file: Self.file)
        #expect(parsed.hostname == expected.hostname)
        #expect(parsed.listen == expected.listen)
        #expect(parsed.tls == expected.tls)
        #expect(parsed.auth == expected.auth)
        #expect(parsed.limits == expected.limits)
        #expect(parsed.smtp == expected.smtp)
        #expect(parsed.log == expected.log)
        #expect(parsed == expected)
    }

    static let durations: [(String, Duration)] = [
        ("0", .zero),
        ("30", .seconds(30)),
        ("\"500ms\"", .milliseconds(500)),
        ("\"30s\"", .seconds(30)),
        ("\"5m\"", .seconds(5 * 60)),
        ("\"2h\"", .seconds(2 * 3600)),
        ("\"1d\"", .seconds(86400)),
        ("\" 5m \"", .seconds(5 * 60)),
        ("\"0ms\"", .zero),
    ]

    @Test(arguments: ConfigurationTests.durations)
    func parsesDuration(_ literal: String, expected: Duration) throws {
        let configuration = try ConfigurationLoader.parse("[limits]\nshutdown_grace = \(literal)\n", file: Self.file)
        #expect(configuration.limits.shutdownGrace == expected)
    }

    static let invalidDurations = [
        "-1", "1.5", "true", "\"\"", "\"5\"", "\"ms\"", "\"5 minutes\"", "\"10x\"", "\"-5s\"", "\"1.5h\"", "\"5M\"",
    ]

    @Test(arguments: ConfigurationTests.invalidDurations)
    func rejectsDuration(_ literal: String) throws {
        let found = problems(in: "[limits]\nshutdown_grace = \(literal)\n")
        try #require(found.count == 1, "\(found)")
        #expect(found[0].file == Self.file)
        #expect(found[0].line == 2)
        #expect(found[0].key == "[limits] shutdown_grace")
        #expect(found[0].message.hasPrefix("expected a duration"))
    }

    // MARK: - [listen]

    @Test func emptyStringDisablesAService() throws {
        let configuration = try ConfigurationLoader.parse("[listen]\nsmtp = \"\"\npop3 = \"\"\n", file: Self.file)
        #expect(configuration.listen.smtp == nil)
        #expect(configuration.listen.pop3 == nil)
        #expect(configuration.listen.submission == Configuration.Listen().submission)
        #expect(configuration.listen.services.compactMap { $0.address }.count == 5)
    }

    @Test func bracketedIPv6Address() throws {
        let configuration = try ConfigurationLoader.parse("[listen]\nimap = \"[::1]:2525\"\n", file: Self.file)
        #expect(configuration.listen.imap == ListenAddress(host: "::1", port: 2525))
        #expect(configuration.listen.imap?.description == "[::1]:2525")
    }

    static let validListenAddresses: [(String, String, Int)] = [
        ("127.0.0.1:25", "127.0.0.1", 25),
        ("[::1]:143", "::1", 143),
        (":25", "0.0.0.0", 25),  // no host: every IPv4 address
        ("localhost:2525", "localhost", 2525),
        ("0.0.0.0:0", "0.0.0.0", 0),  // port 0: any free port (tests)
        ("[::]:993", "::", 993),
        ("[2001:db8::1]:587", "2001:db8::1", 587),
        ("192.0.2.1:65535", "192.0.2.1", 65535),
    ]

    @Test(arguments: ConfigurationTests.validListenAddresses)
    func parsesListenAddress(_ text: String, host: String, port: Int) throws {
        let address = try #require(ListenAddress(parsing: text))
        #expect(address.host == host)
        #expect(address.port == port)
        // What the renderer writes reads back as the same address.
        #expect(ListenAddress(parsing: address.description) == address)
    }

    static let invalidListenAddresses = [
        "127.0.0.1",  // no port
        "::1:25",  // IPv6 without brackets
        "[::1]25",  // no colon after the bracket
        "[::1]",
        "[::1:25",  // unclosed bracket
        "[127.0.0.1]:25",  // brackets are for IPv6 only
        "1.2.3.4:65536",
        "1.2.3.4:-1",
        "1.2.3.4:abc",
        "1.2.3.4:",
        "[]:25",
        "a b:25",
        "",
    ]

    @Test(arguments: ConfigurationTests.invalidListenAddresses)
    func rejectsListenAddress(_ text: String) {
        #expect(ListenAddress(parsing: text) == nil)
    }

    // MARK: - Problems: file, line and key

    static let problemFixtures: [ProblemFixture] = [
        ProblemFixture(
            "unknown top-level key",
            """
            hostname = "mail.example.com"
            hostnam = "mail.example.com"
            """,
            line: 2, key: "hostnam", message: "unknown key"),
        ProblemFixture(
            "unknown key inside [listen]",
            """
            [listen]
            smtp = "0.0.0.0:25"
            smpt = "0.0.0.0:2525"
            """,
            line: 3, key: "[listen] smpt", message: "unknown key"),
        ProblemFixture(
            "unknown quoted key",
            """
            [listen]
            "smpt" = ""
            """,
            line: 2, key: "[listen] smpt", message: "unknown key"),
        ProblemFixture(
            "unknown dotted key at the top level",
            """
            hostname = "mail.example.com"
            listen.smpt = ""
            """,
            line: 2, key: "[listen] smpt", message: "unknown key"),
        ProblemFixture(
            "unknown table",
            """
            hostname = "mail.example.com"

            [bogus]
            answer = 42
            """,
            line: 3, key: "bogus", message: "unknown key"),
        ProblemFixture(
            "a table given as a value",
            """
            listen = "0.0.0.0:25"
            """,
            line: 1, key: "listen", message: "expected a table ([listen])"),
        ProblemFixture(
            "string where a boolean belongs",
            """
            [auth]
            allow_plaintext = "yes"
            """,
            line: 2, key: "[auth] allow_plaintext", message: "expected true or false"),
        ProblemFixture(
            "integer where a string belongs",
            """
            [listen]
            smtp = 25
            """,
            line: 2, key: "[listen] smtp", message: "expected a string"),
        ProblemFixture(
            "string where an integer belongs",
            """
            [limits]
            max_connections = "many"
            """,
            line: 2, key: "[limits] max_connections", message: "expected an integer"),
        ProblemFixture(
            "bad listen address",
            """
            [listen]
            imap = "0.0.0.0:143"
            imaps = "::1:993"
            """,
            line: 3, key: "[listen] imaps", message: "expected \"address:port\""),
        ProblemFixture(
            "integer below its range",
            """
            [limits]
            max_line_length = 10
            """,
            line: 2, key: "[limits] max_line_length", message: "must be between 512 and 1048576"),
        ProblemFixture(
            "integer above its range",
            """
            [auth]
            max_failures_per_ip = 2000000
            """,
            line: 2, key: "[auth] max_failures_per_ip", message: "must be between 1 and 1000000"),
        ProblemFixture(
            "bad duration string",
            """
            [auth]
            failure_window = "15 minutes"
            """,
            line: 2, key: "[auth] failure_window", message: "expected a duration"),
        ProblemFixture(
            "too few recipients (RFC 5321 §4.5.3.1.8 asks for 100)",
            """
            [smtp]
            max_recipients = 50
            """,
            line: 2, key: "[smtp] max_recipients", message: "must be between 100 and 100000"),
        ProblemFixture(
            "bad bare_line_endings",
            """
            [smtp]
            bare_line_endings = "fix"
            """,
            line: 2, key: "[smtp] bare_line_endings", message: "expected \"reject\" or \"normalize\""),
        ProblemFixture(
            "unknown SASL mechanism",
            """
            [smtp]
            auth_mechanisms = ["PLAIN", "CRAM-MD5"]
            """,
            line: 2, key: "[smtp] auth_mechanisms", message: "unknown mechanism CRAM-MD5"),
        ProblemFixture(
            "string where an array belongs",
            """
            [smtp]
            auth_mechanisms = "PLAIN"
            """,
            line: 2, key: "[smtp] auth_mechanisms", message: "expected an array of strings"),
        ProblemFixture(
            "array with a non-string element",
            """
            [smtp]
            auth_mechanisms = ["PLAIN", 1]
            """,
            line: 2, key: "[smtp] auth_mechanisms", message: "expected an array of strings"),
        ProblemFixture(
            "bad log level",
            """
            [log]
            level = "verbose"
            """,
            line: 2, key: "[log] level",
            message: "expected one of trace, debug, info, notice, warning, error, critical"),
        ProblemFixture(
            "invalid hostname",
            """
            hostname = "not a host!"
            """,
            line: 1, key: "hostname", message: "not a valid host name"),
        ProblemFixture(
            "hostname with a trailing dot",
            """
            hostname = "mail.example.com."
            """,
            line: 1, key: "hostname", message: "not a valid host name"),
        ProblemFixture(
            "[tls] certificate without key",
            """
            hostname = "mail.example.com"

            [tls]
            certificate = "/etc/ssl/certs/mail.pem"
            """,
            line: 3, key: "[tls] key", message: "set both certificate and key"),
        ProblemFixture(
            "[tls] key without certificate",
            """
            [tls]
            key = "/etc/ssl/private/mail.key"
            """,
            line: 1, key: "[tls] certificate", message: "set both certificate and key"),
        ProblemFixture(
            "TOML syntax: unclosed table header",
            """
            hostname = "mail.example.com"
            [listen
            smtp = ""
            """,
            line: 2, key: nil, message: "TOML syntax"),
        ProblemFixture(
            "TOML syntax: key without a value",
            """
            [listen]
            imap = ""
            smtp =
            pop3 = ""
            """,
            line: 3, key: nil, message: "TOML syntax"),
    ]

    @Test(arguments: ConfigurationTests.problemFixtures)
    func reportsProblem(_ fixture: ProblemFixture) throws {
        let found = problems(in: fixture.text)
        try #require(found.count == 1, "\(found)")
        let problem = found[0]
        #expect(problem.file == Self.file)
        #expect(problem.line == fixture.line)
        #expect(problem.key == fixture.key)
        #expect(problem.message.contains(fixture.message), "\(problem.message)")
    }

    @Test func reportsEveryProblemInAFile() {
        let text = """
            hostname = "not a host!"
            colour = "blue"

            [listen]
            smtp = "nowhere"
            smpt = "0.0.0.0:25"

            [limits]
            max_connections = 0

            [log]
            level = "loud"
            """
        let found = problems(in: text)
        // In reading order; unknown keys of a table after its known ones, the
        // top level's last.
        #expect(
            found.map(\.key) == [
                "hostname", "[listen] smtp", "[listen] smpt", "[limits] max_connections", "[log] level", "colour",
            ])
        #expect(found.map(\.line) == [1, 5, 6, 9, 12, 2])
        #expect(found.allSatisfy { $0.file == Self.file })
    }

    @Test func descriptionIsFileLineKeyMessage() {
        let found = problems(in: "[listen]\nsmpt = \"\"\n")
        #expect(found.map(\.description) == ["/etc/tsubame/tsubame.toml:2: [listen] smpt: unknown key"])

        let error = ConfigurationError([
            .init(file: "tsubame.toml", line: 7, key: "[listen] smtp", message: "expected a string"),
            .init(file: "tsubame.toml", line: 1, key: "hostname", message: "not a valid host name"),
            .init(file: "missing.toml", line: nil, key: nil, message: "file not found"),
        ])
        #expect(
            error.description == """
                tsubame.toml:7: [listen] smtp: expected a string
                tsubame.toml:1: hostname: not a valid host name
                missing.toml: file not found
                """)
    }

    /// Files written on Windows end lines with CRLF, which TOML allows; "\r\n" is a
    /// single Character in Swift, so the locator must not split on "\n" alone.
    @Test func linesAreCountedInCRLFFiles() {
        let found = problems(in: "hostname = \"mail.example.com\"\r\n[listen]\r\nsmpt = \"\"\r\n")
        #expect(found.map(\.key) == ["[listen] smpt"])
        #expect(found.map(\.line) == [3])
    }

    // MARK: - Loading from disk

    @Test func missingFileIsAllDefaults() throws {
        let path = temporaryPath()
        #expect(try ConfigurationLoader.load(path: path) == Configuration())
        #expect(try ConfigurationLoader.load(path: path, mustExist: false) == Configuration())
    }

    @Test func missingFileThatMustExistIsAnError() {
        let path = temporaryPath()
        do throws(ConfigurationError) {
            _ = try ConfigurationLoader.load(path: path, mustExist: true)
            Issue.record("loaded a missing file that must exist")
        } catch {
            #expect(error.problems == [.init(file: path, line: nil, key: nil, message: "file not found")])
            #expect(error.description == "\(path): file not found")
        }
    }

    @Test func readsARealFile() throws {
        let path = temporaryPath()
        try Data("hostname = \"mx.example.net\"\n\n[listen]\npop3 = \"\"\nimap = \"[::1]:1143\"\n".utf8)
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let configuration = try ConfigurationLoader.load(path: path, mustExist: true)
        #expect(configuration.hostname == "mx.example.net")
        #expect(configuration.listen.pop3 == nil)
        #expect(configuration.listen.imap == ListenAddress(host: "::1", port: 1143))
        #expect(configuration.limits == Configuration.Limits())
    }

    @Test func problemsInAFileNameThatFile() throws {
        let path = temporaryPath()
        try Data("# logging\n[log]\nlevel = \"loud\"\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        do throws(ConfigurationError) {
            _ = try ConfigurationLoader.load(path: path)
            Issue.record("loaded a file with a bad log level")
        } catch {
            #expect(error.problems.map(\.file) == [path])
            #expect(error.problems.map(\.line) == [3])
            #expect(error.problems.map(\.key) == ["[log] level"])
        }
    }

    @Test func fileThatIsNotUTF8IsAnError() throws {
        let path = temporaryPath()
        try Data([0x68, 0x6F, 0x73, 0x74, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }

        do throws(ConfigurationError) {
            _ = try ConfigurationLoader.load(path: path)
            Issue.record("loaded a file that is not UTF-8")
        } catch {
            #expect(error.problems == [.init(file: path, line: nil, key: nil, message: "not valid UTF-8")])
        }
    }

    // MARK: - Rendering (what `tsubame config check` prints) round-trips

    @Test func defaultConfigurationRoundTrips() throws {
        let configuration = Configuration()
        let text = ConfigurationRenderer.render(configuration)
        #expect(try ConfigurationLoader.parse(text, file: "rendered") == configuration)
    }

    @Test func changedConfigurationRoundTrips() throws {
        var configuration = Configuration()
        configuration.hostname = "mx1.example.org"
        configuration.listen.smtp = ListenAddress(host: "198.51.100.7", port: 2525)
        configuration.listen.submission = ListenAddress(host: "::1", port: 1587)
        configuration.listen.submissions = ListenAddress(host: "localhost", port: 0)
        configuration.listen.imap = nil
        configuration.listen.imaps = ListenAddress(host: "::", port: 10993)
        configuration.listen.pop3 = nil
        configuration.listen.pop3s = ListenAddress(host: "127.0.0.1", port: 10995)
        // Quotes and backslashes must be escaped in the rendered TOML string.
        configuration.tls.certificate = "/etc/tsubame/tls/\"fullchain\".pem"
        configuration.tls.key = "/etc/tsubame/tls\\private/key.pem"
        configuration.auth.allowPlaintext = true
        configuration.auth.failureWindow = .seconds(3600)
        configuration.auth.failureDelay = .milliseconds(250)
        configuration.auth.maximumFailureDelay = .milliseconds(1500)
        configuration.auth.maximumFailuresPerAddress = 7
        configuration.auth.maximumFailuresPerAccount = 4
        configuration.limits.maximumConnections = 1234
        configuration.limits.maximumConnectionsPerAddress = 9
        configuration.limits.maximumLineLength = 512
        configuration.limits.smtpIdleTimeout = .seconds(420)
        configuration.limits.imapIdleTimeout = .seconds(2400)
        configuration.limits.pop3IdleTimeout = .milliseconds(600_500)
        configuration.limits.shutdownGrace = .zero
        configuration.smtp.maximumMessageSize = 1024
        configuration.smtp.maximumRecipients = 100_000
        configuration.smtp.maximumErrors = 1
        configuration.smtp.bareLineEndings = "normalize"
        configuration.smtp.authMechanisms = ["SCRAM-SHA-256"]
        configuration.smtp.receivedHeaderTLS = true
        configuration.smtp.receivedHeaderLogin = true
        configuration.log.level = "warning"

        let text = ConfigurationRenderer.render(configuration)
        #expect(text.contains("failure_delay = \"250ms\""))
        #expect(text.contains("imap = \"\""))
        #expect(text.contains("submission = \"[::1]:1587\""))
        let parsed = try ConfigurationLoader.parse(text, file: "rendered")
        #expect(parsed == configuration, "\(text)")
    }

    // MARK: - The operator reference

    /// Every key `tsubame config check` prints is documented in docs/configuration.md,
    /// so a new key without documentation fails here.
    @Test func configurationKeysAreDocumented() throws {
        let root = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // TsubameServerTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()  // the package
        let documentURL = root.appendingPathComponent("docs/configuration.md")
        let document = try String(contentsOf: documentURL, encoding: .utf8)

        var keys: [String] = []
        var tables: [String] = []
        for line in ConfigurationRenderer.render(Configuration()).split(separator: "\n") {
            if line.hasPrefix("[") {
                tables.append(String(line))
            } else if !line.hasPrefix("#"), let range = line.range(of: " = ") {
                keys.append(String(line[..<range.lowerBound]))
            }
        }
        // The default render comments out [tls], whose keys are only printed when set.
        keys += ["certificate", "key"]

        // The scan found the lines it looks for.
        #expect(keys.contains("hostname") && keys.contains("smtp") && keys.contains("level"))
        #expect(tables.contains("[listen]") && tables.contains("[log]"))
        for key in keys {
            #expect(document.contains("`\(key)`"), "docs/configuration.md does not document `\(key)`")
        }
        for table in tables {
            #expect(document.contains("`\(table)`"), "docs/configuration.md does not document `\(table)`")
        }
    }
}

// MARK: - Helpers

/// A configuration text with exactly one problem, and what that problem says.
struct ProblemFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let text: String
    let line: Int?
    /// `[table] key`, `key` at the top level, or nil (TOML syntax errors).
    let key: String?
    /// A part of the message.
    let message: String

    init(_ name: String, _ text: String, line: Int?, key: String?, message: String) {
        self.name = name
        self.text = text
        self.line = line
        self.key = key
        self.message = message
    }

    var testDescription: String { name }
}

/// The problems `ConfigurationLoader.parse` reports for `text`; records an issue when
/// the text parses.
func problems(
    in text: String, file: String = ConfigurationTests.file, sourceLocation: SourceLocation = #_sourceLocation
) -> [ConfigurationError.Problem] {
    do throws(ConfigurationError) {
        let configuration = try ConfigurationLoader.parse(text, file: file)
        Issue.record("expected a configuration error, got \(configuration)", sourceLocation: sourceLocation)
        return []
    } catch {
        return error.problems
    }
}

/// A path in the temporary directory that does not exist yet.
private func temporaryPath() -> String {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("tsubame-configuration-\(UUID().uuidString).toml").path
}

@Suite("Configuration: sender allowances")
struct SenderAllowanceConfigurationTests {
    @Test func readsLoginsAndPatterns() throws {
        let text = """
            [smtp.sender_allowances]
            "Alice@Example.com" = ["sales@example.com", "@Shop.example"]
            """
        let configuration = try ConfigurationLoader.parse(text, file: "t.toml")
        #expect(configuration.smtp.senderAllowances == ["alice@example.com": ["sales@example.com", "@shop.example"]])
        // And it renders back to the same.
        let again = try ConfigurationLoader.parse(ConfigurationRenderer.render(configuration), file: "r.toml")
        #expect(again.smtp.senderAllowances == configuration.smtp.senderAllowances)
    }

    @Test func refusesBadPatternsWithTheirLine() {
        let text = """
            [smtp]
            max_errors = 5

            [smtp.sender_allowances]
            "alice@example.com" = ["not an address"]
            """
        do {
            _ = try ConfigurationLoader.parse(text, file: "t.toml")
            Issue.record("a bad pattern was accepted")
        } catch {
            #expect(error.problems.map(\.key) == ["[smtp.sender_allowances] alice@example.com"])
            #expect(error.problems.map(\.line) == [5])
        }
    }
}

@Suite("Configuration: input that crashed TOMLKit")
struct ConfigurationHostileTextTests {
    /// Found by Fuzz/FuzzConfiguration: toml++ asserts on a non-ASCII bare key.
    @Test(arguments: ["[ét]\nx = 1\n", "hostname = \"a.example\"\n[\u{FFFD}\u{FFFD}en]\n", "ключ = 1\n"])
    func nonASCIIOutsideStringsIsASyntaxError(_ text: String) {
        do {
            _ = try ConfigurationLoader.parse(text, file: "t.toml")
            Issue.record("accepted \(text)")
        } catch {
            #expect(error.problems.first?.message.contains("non-ASCII") == true)
            #expect(error.problems.first?.line == (text.hasPrefix("hostname") ? 2 : 1))
        }
    }

    @Test func nonASCIIInsideStringsAndCommentsIsFine() throws {
        let text = """
            # コメント
            hostname = "mail.example.test" # 燕
            [smtp.sender_allowances]
            "alice@example.test" = ["@bücher.example"]
            """
        let configuration = try ConfigurationLoader.parse(text, file: "t.toml")
        #expect(configuration.smtp.senderAllowances["alice@example.test"] == ["@bücher.example"])
    }
}

@Suite("Configuration: SQL and LDAP user databases")
struct UserDatabaseConfigurationTests {
    static let full = """
        [auth]
        sources = ["sql", "ldap", "sqlite"]

        [auth.sql]
        host = "db.example.com"
        port = 5433
        database = "mailserver"
        user = "dovecot"
        password_file = "/etc/tsubame/sql.secret"
        tls = "require"
        ca_file = "/etc/ssl/db-ca.pem"
        password_query = "SELECT username || '@' || domain AS user, password FROM users WHERE username = '%n' AND domain = '%d'"
        user_query = "SELECT 1 FROM users WHERE userid = '%u'"
        iterate_query = "SELECT userid AS user FROM users"
        domain_query = "SELECT 1 FROM domains WHERE name = '%d'"
        domains = ["Example.COM"]
        max_connections = 8
        timeout = "2s"

        [auth.ldap]
        uri = "ldaps://ldap.example.com"
        starttls = false
        ca_file = "/etc/ssl/ldap-ca.pem"
        bind_dn = "cn=mail,dc=example,dc=com"
        bind_password_file = "/etc/tsubame/ldap.secret"
        base = "ou=people,dc=example,dc=com"
        scope = "onelevel"
        user_filter = "(&(objectClass=posixAccount)(uid=%n))"
        recipient_filter = "(|(mail=%u)(mailAlternateAddress=%u))"
        iterate_filter = "(objectClass=posixAccount)"
        domain_filter = "(&(objectClass=domain)(dc=%d))"
        domains = ["example.org"]
        auth_bind = false
        password_attribute = "userPassword"
        mail_attribute = "mail"
        timeout = "3s"
        max_connections = 2
        """

    @Test func readsEveryKeyAndRendersBack() throws {
        let configuration = try ConfigurationLoader.parse(Self.full, file: "t.toml")
        let sql = try #require(configuration.auth.sql)
        #expect(configuration.auth.sources == ["sql", "ldap", "sqlite"])
        #expect(sql.host == "db.example.com" && sql.port == 5433 && sql.database == "mailserver" && sql.user == "dovecot")
        #expect(sql.passwordFile == "/etc/tsubame/sql.secret" && sql.password == nil)
        #expect(sql.tls == "require" && sql.caFile == "/etc/ssl/db-ca.pem")
        #expect(sql.domains == ["example.com"] && sql.maximumConnections == 8 && sql.timeout == .seconds(2))
        #expect(sql.userQuery == "SELECT 1 FROM users WHERE userid = '%u'")
        let ldap = try #require(configuration.auth.ldap)
        #expect(ldap.uri == "ldaps://ldap.example.com" && ldap.scope == "onelevel" && ldap.authBind == false)
        #expect(ldap.bindDN == "cn=mail,dc=example,dc=com" && ldap.bindPasswordFile == "/etc/tsubame/ldap.secret")
        #expect(ldap.recipientFilter == "(|(mail=%u)(mailAlternateAddress=%u))")
        #expect(ldap.domains == ["example.org"] && ldap.timeout == .seconds(3) && ldap.maximumConnections == 2)

        let rendered = ConfigurationRenderer.render(configuration)
        #expect(try ConfigurationLoader.parse(rendered, file: "rendered") == configuration, "\(rendered)")
    }

    /// `config check` prints the effective configuration: never an inline password.
    @Test func inlinePasswordsAreNotPrinted() throws {
        let text = """
            [auth]
            sources = ["sql", "ldap"]
            [auth.sql]
            password = "sql-secret-123"
            password_query = "SELECT password FROM users WHERE userid = '%u'"
            [auth.ldap]
            base = "dc=example,dc=com"
            bind_dn = "cn=x"
            bind_password = "ldap-secret-456"
            """
        let configuration = try ConfigurationLoader.parse(text, file: "t.toml")
        #expect(configuration.auth.sql?.password == "sql-secret-123")
        #expect(configuration.auth.ldap?.bindPassword == "ldap-secret-456")
        let rendered = ConfigurationRenderer.render(configuration)
        #expect(!rendered.contains("sql-secret-123") && !rendered.contains("ldap-secret-456"))
        #expect(rendered.contains("# password is set (not shown)"))
    }

    @Test func sourcesNeedTheirTables() {
        let found = problems(in: "[auth]\nsources = [\"sqlite\", \"ldap\"]\n")
        #expect(found.map(\.key) == ["[auth] sources"])
        #expect(found.first?.message.contains("[auth.ldap]") == true)
        #expect(problems(in: "[auth]\nsources = [\"sqlite\", \"sqlite\"]\n").map(\.key) == ["[auth] sources"])
        #expect(problems(in: "[auth]\nsources = [\"mysql\"]\n").map(\.key) == ["[auth] sources"])
    }

    @Test func badQueriesAndFiltersNameTheirKeyAndLine() {
        let text = """
            [auth]
            sources = ["sql", "ldap"]

            [auth.sql]
            password_query = "SELECT password FROM users WHERE userid = '%n@example.com'"
            iterate_query = "SELECT %x"
            tls = "maybe"
            password = "a"
            password_file = "relative/path"

            [auth.ldap]
            uri = "http://ldap.example.com"
            user_filter = "mail=%u"
            iterate_filter = "(mail=%u)"
            domain_filter = "(dc=%q)"
            scope = "deep"
            """
        let found = problems(in: text)
        let keys = found.map(\.key)
        #expect(keys.contains("[auth.sql] password_query"))
        #expect(found.first { $0.key == "[auth.sql] password_query" }?.line == 5)
        #expect(found.first { $0.key == "[auth.sql] password_query" }?.message.contains("||") == true)
        for key in [
            "[auth.sql] iterate_query", "[auth.sql] tls", "[auth.sql] password_file", "[auth.ldap] uri",
            "[auth.ldap] user_filter", "[auth.ldap] iterate_filter", "[auth.ldap] domain_filter", "[auth.ldap] scope",
            "[auth.ldap] base",
        ] {
            #expect(keys.contains(key), "missing a problem for \(key): \(found)")
        }
    }

    @Test func requiredKeysAndUnknownKeys() {
        let found = problems(in: "[auth.sql]\nhostname = \"x\"\n[auth.ldap]\nfilter = \"(a=b)\"\n")
        let keys = found.map(\.key)
        #expect(keys.contains("[auth.sql] password_query"))
        #expect(keys.contains("[auth.sql] hostname"))
        #expect(keys.contains("[auth.ldap] base"))
        #expect(keys.contains("[auth.ldap] filter"))
    }

    /// Every key of the full [auth.sql] and [auth.ldap] render is in docs/configuration.md.
    @Test func keysAreDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        let configuration = try ConfigurationLoader.parse(Self.full, file: "t.toml")
        var table = ""
        for line in ConfigurationRenderer.render(configuration).split(separator: "\n") {
            if line.hasPrefix("[") {
                table = String(line)
                continue
            }
            guard table.hasPrefix("[auth."), !line.hasPrefix("#"), let range = line.range(of: " = ") else { continue }
            #expect(document.contains("`\(line[..<range.lowerBound])`"), "undocumented key in \(table): \(line)")
        }
        #expect(document.contains("`[auth.sql]`") && document.contains("`[auth.ldap]`"))
        #expect(document.contains("`password`") && document.contains("`bind_password`"))
    }
}

@Suite("Configuration: [pop3]")
struct POP3ConfigurationTests {
    @Test func readsEveryKeyAndRendersBack() throws {
        let text = """
            [pop3]
            uidl_format = "%v.%u"
            retr_marks_seen = false
            login_delay = "5m"
            expire = "NEVER"
            """
        let configuration = try ConfigurationLoader.parse(text, file: "t.toml")
        #expect(configuration.pop3.uidlFormat == "%v.%u")
        #expect(configuration.pop3.retrieveMarksSeen == false)
        #expect(configuration.pop3.loginDelay == .seconds(300))
        #expect(configuration.pop3.expire == "NEVER")
        #expect(try ConfigurationLoader.parse(ConfigurationRenderer.render(configuration), file: "r") == configuration)
        #expect(Configuration().pop3.loginDelay == nil && Configuration().pop3.expire == nil)
        #expect(Configuration().pop3.uidlFormat == "%08Xu%08Xv")
    }

    @Test func refusesBadValues() {
        let found = problems(in: "[pop3]\nuidl_format = \"%v\"\nexpire = \"soon\"\nlogin_delay = \"500ms\"\nwhat = 1\n")
        #expect(found.map(\.key) == ["[pop3] uidl_format", "[pop3] login_delay", "[pop3] expire", "[pop3] what"])
        #expect(found.first?.line == 2)
    }

    @Test func keysAreDocumented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let document = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        for key in ["`[pop3]`", "`uidl_format`", "`retr_marks_seen`", "`login_delay`", "`expire`"] {
            #expect(document.contains(key), "docs/configuration.md lacks \(key)")
        }
    }
}
