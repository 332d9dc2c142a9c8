import MailTestSupport
import NIOCore
import Testing

@testable import POP3Protocol

// MARK: - Fixture types

/// A command line that parses, and the command it must give.
struct POP3CommandFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let expected: POP3Command
    let note: String

    init(_ input: String, _ expected: POP3Command, _ note: String = "") {
        self.input = Array(input.utf8)
        self.expected = expected
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

/// A command line that must be refused, with the `-ERR` line it gets.
struct POP3FailureFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let response: String
    let isUnrecognized: Bool
    let note: String

    init(_ input: String, _ response: String, unrecognized: Bool = false, _ note: String = "") {
        self.init(bytes: Array(input.utf8), response, unrecognized: unrecognized, note)
    }

    init(bytes: [UInt8], _ response: String, unrecognized: Bool = false, _ note: String = "") {
        self.input = bytes
        self.response = response
        self.isUnrecognized = unrecognized
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

private let validFixtures: [POP3CommandFixture] = [
    // RFC 1939 §4, §7: the AUTHORIZATION commands, as in the RFC's examples.
    .init("USER mrose", .user("mrose"), "RFC 1939 §7"),
    .init("user mrose", .user("mrose"), "keywords are case-insensitive"),
    .init("UsEr alice@example.test", .user("alice@example.test")),
    .init("USER   alice  ", .user("alice"), "surrounding spaces tolerated"),
    .init("USER John Smith", .user("John Smith"), "the rest of the line"),
    .init("USER jörg@example.test", .user("jörg@example.test"), "UTF-8"),
    .init("PASS secret", .pass("secret"), "RFC 1939 §7"),
    .init("PASS  two  spaces ", .pass(" two  spaces "), "the rest of the line, spaces included"),
    .init("pass p@ss w0rd\t!", .pass("p@ss w0rd\t!")),
    .init("APOP mrose c4c9334bac560ecc979e58001b3e22fb", .apop, "RFC 1939 §7, recognised only"),
    .init("APOP", .apop),
    .init("QUIT", .quit),
    .init("quit", .quit),
    // RFC 1939 §5: the TRANSACTION commands.
    .init("STAT", .stat),
    .init("STAT ", .stat, "trailing space"),
    .init("LIST", .list(nil)),
    .init("LIST 2", .list(2)),
    .init("LIST  2  ", .list(2), "extra spaces tolerated"),
    .init("RETR 1", .retr(1)),
    .init("retr 0001", .retr(1), "leading zeros"),
    .init("DELE 1", .dele(1)),
    .init("DELE 2147483647", .dele(2_147_483_647), "the largest message number"),
    .init("RETR 00000000000000000000002147483647", .retr(2_147_483_647), "leading zeros do not overflow"),
    .init("NOOP", .noop),
    .init("RSET", .rset),
    .init("TOP 1 10", .top(1, lines: 10), "RFC 1939 §7"),
    .init("TOP 1 0", .top(1, lines: 0), "zero lines: the headers only"),
    .init("top 10 2147483647", .top(10, lines: 2_147_483_647)),
    .init("UIDL", .uidl(nil)),
    .init("UIDL 2", .uidl(2)),
    // RFC 2449, RFC 2595, RFC 5034.
    .init("CAPA", .capa),
    .init("capa", .capa),
    .init("STLS", .stls),
    .init("AUTH", .authMechanisms, "list the mechanisms"),
    .init("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
    .init("auth plain", .auth(mechanism: "PLAIN", initialResponse: nil), "mechanism names are upper-cased"),
    .init("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "="), "RFC 5034 §4: empty initial response"),
    .init("AUTH PLAIN \(plainAliceSecret)", .auth(mechanism: "PLAIN", initialResponse: plainAliceSecret)),
    .init("AUTH SCRAM-SHA-256 biws", .auth(mechanism: "SCRAM-SHA-256", initialResponse: "biws")),
    .init("AUTH X_TOKEN_2", .auth(mechanism: "X_TOKEN_2", initialResponse: nil), "unknown names parse"),
]

private let failureFixtures: [POP3FailureFixture] = [
    // Message numbers: decimal, 1...Int32.max, nothing else.
    .init("RETR 0", "-ERR Invalid message number", "message numbers start at 1"),
    .init("RETR -1", "-ERR Invalid message number"),
    .init("RETR +1", "-ERR Invalid message number"),
    .init("RETR 1x", "-ERR Invalid message number"),
    .init("RETR x1", "-ERR Invalid message number"),
    .init("RETR 0x1", "-ERR Invalid message number"),
    .init("RETR 1.0", "-ERR Invalid message number"),
    .init("RETR ١", "-ERR Invalid message number", "an Arabic-Indic digit is not DIGIT"),
    .init("RETR 99999999999999999999", "-ERR Message number too large", "would overflow Int64"),
    .init("RETR 2147483648", "-ERR Message number too large", "Int32.max + 1"),
    .init("DELE 0", "-ERR Invalid message number"),
    .init("LIST 0", "-ERR Invalid message number"),
    .init("LIST -5", "-ERR Invalid message number"),
    .init("UIDL 99999999999999999999999999999999", "-ERR Message number too large"),
    .init("TOP 0 1", "-ERR Invalid message number"),
    .init("TOP 1 -1", "-ERR Invalid number of lines"),
    .init("TOP 1 x", "-ERR Invalid number of lines"),
    .init("TOP 1 99999999999999999999", "-ERR Number of lines too large"),
    // Argument counts.
    .init("RETR", "-ERR Syntax: RETR message-number"),
    .init("RETR ", "-ERR Syntax: RETR message-number", "empty argument"),
    .init("RETR 1 2", "-ERR Syntax: RETR message-number"),
    .init("DELE", "-ERR Syntax: DELE message-number"),
    .init("LIST 1 2", "-ERR Syntax: LIST [message-number]"),
    .init("UIDL 1 2", "-ERR Syntax: UIDL [message-number]"),
    .init("TOP 1", "-ERR Syntax: TOP message-number lines"),
    .init("TOP", "-ERR Syntax: TOP message-number lines"),
    .init("TOP 1 2 3", "-ERR Syntax: TOP message-number lines"),
    .init("STAT 1", "-ERR Syntax: STAT takes no arguments"),
    .init("NOOP x", "-ERR Syntax: NOOP takes no arguments"),
    .init("QUIT now", "-ERR Syntax: QUIT takes no arguments"),
    .init("STLS x", "-ERR Syntax: STLS takes no arguments"),
    .init("USER", "-ERR Syntax: USER name"),
    .init("USER    ", "-ERR Syntax: USER name"),
    .init("PASS", "-ERR Syntax: PASS password"),
    .init("PASS ", "-ERR Syntax: PASS password", "an empty password"),
    .init("AUTH PL@IN", "-ERR Syntax: AUTH [mechanism [initial-response]]"),
    .init("AUTH PLAIN a b", "-ERR Syntax: AUTH [mechanism [initial-response]]"),
    .init("AUTH ABCDEFGHIJKLMNOPQRSTU", "-ERR Syntax: AUTH [mechanism [initial-response]]", "21 characters"),
    // Unknown commands.
    .init("", "-ERR Unknown command", unrecognized: true, "empty line"),
    .init("FOO", "-ERR Unknown command", unrecognized: true),
    .init("STATX", "-ERR Unknown command", unrecognized: true),
    .init("ST", "-ERR Unknown command", unrecognized: true),
    .init(" STAT", "-ERR Unknown command", unrecognized: true, "leading space"),
    .init("RETR\t1", "-ERR Unknown command", unrecognized: true, "tab is not a separator"),
    .init("GET / HTTP/1.1", "-ERR Unknown command", unrecognized: true),
    .init("EHLO client.example", "-ERR Unknown command", unrecognized: true),
    .init("XTND XMIT", "-ERR Unknown command", unrecognized: true),
    // Bytes that have no place in a command.
    .init(bytes: bytes("ST\0AT"), "-ERR Unknown command", unrecognized: true, "NUL in the keyword"),
    .init(bytes: bytes("USER al\0ice"), "-ERR Unknown command", unrecognized: true, "NUL in an argument"),
    .init(bytes: bytes("PASS se\0cret"), "-ERR Unknown command", unrecognized: true, "NUL in a password"),
    .init(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01], "-ERR Unknown command", unrecognized: true, "TLS ClientHello"),
    .init(bytes: bytes("USER a\rb"), "-ERR Invalid characters in command", "a bare CR"),
    .init(bytes: bytes("PASS a\nb"), "-ERR Invalid characters in command", "a bare LF"),
    .init(bytes: bytes("USER ") + [0xFF, 0x61], "-ERR Invalid characters in command", "not UTF-8"),
    .init(bytes: bytes("PASS ") + [0xC3, 0x28], "-ERR Invalid characters in command", "not UTF-8"),
    .init(bytes: bytes("STAT ") + [0xED, 0xA0, 0x80], "-ERR Invalid characters in command", "a UTF-16 surrogate"),
    .init(bytes: bytes("USER a\u{1B}[31mb"), "-ERR Invalid characters in command", "a control character"),
    // RFC 2449 §4: 255 octets, except PASS and AUTH.
    .init("USER " + String(repeating: "a", count: 251), "-ERR Line too long", "256 octets"),
    .init("LIST " + String(repeating: " ", count: 300) + "1", "-ERR Line too long"),
    .init("RETR " + String(repeating: "9", count: 5000), "-ERR Line too long"),
]

@Suite("POP3 command parser")
struct POP3CommandParserTests {
    @Test(arguments: validFixtures)
    func parses(_ fixture: POP3CommandFixture) throws {
        let command = try POP3CommandParser.parse(fixture.input).get()
        #expect(command == fixture.expected)
    }

    @Test(arguments: failureFixtures)
    func refuses(_ fixture: POP3FailureFixture) {
        switch POP3CommandParser.parse(fixture.input) {
        case .success(let command):
            Issue.record("parsed as \(command)")
        case .failure(let error):
            #expect(String(buffer: error.response.encoded) == fixture.response + "\r\n")
            #expect(error.isUnrecognized == fixture.isUnrecognized)
        }
    }

    @Test func commandLinesUpTo255OctetsAreAccepted() throws {
        let line = "USER " + String(repeating: "a", count: 250)
        #expect(line.utf8.count == 255)
        #expect(try POP3CommandParser.parse(bytes(line)).get() == .user(String(repeating: "a", count: 250)))
        let padded = "NOOP" + String(repeating: " ", count: 251)
        #expect(try POP3CommandParser.parse(bytes(padded)).get() == .noop)
        let tooLong = "NOOP" + String(repeating: " ", count: 252)
        #expect(throws: POP3ParseError.self) { try POP3CommandParser.parse(bytes(tooLong)).get() }
    }

    /// PASS and AUTH lines are bounded by the session's configured line length instead.
    @Test func passwordsAndInitialResponsesMayBeLong() throws {
        let password = String(repeating: "p", count: 4000)
        #expect(try POP3CommandParser.parse(bytes("PASS " + password)).get() == .pass(password))
        let response = String(repeating: "QUFB", count: 1000)
        #expect(
            try POP3CommandParser.parse(bytes("AUTH PLAIN " + response)).get()
                == .auth(mechanism: "PLAIN", initialResponse: response))
    }

    @Test func everyNumberUpTo1000RoundTrips() throws {
        for number in 1...1000 {
            #expect(try POP3CommandParser.parse(bytes("RETR \(number)")).get() == .retr(number))
            #expect(
                try POP3CommandParser.parse(bytes("TOP \(number) \(number - 1)")).get()
                    == .top(number, lines: number - 1))
        }
    }

    @Test func decimalBoundaries() {
        func decimal(_ text: String) -> POP3CommandParser.DecimalValue {
            POP3CommandParser.parseDecimal(Array(text.utf8)[...])
        }
        #expect(decimal("0") == .value(0))
        #expect(decimal("2147483647") == .value(2_147_483_647))
        #expect(decimal("2147483648") == .tooLarge)
        #expect(decimal("2147483650") == .tooLarge)
        #expect(decimal("21474836470") == .tooLarge)
        #expect(decimal(String(repeating: "9", count: 100)) == .tooLarge)
        #expect(decimal(String(repeating: "0", count: 100) + "7") == .value(7))
        #expect(decimal("") == .invalid)
        #expect(decimal("-0") == .invalid)
        #expect(decimal(" 1") == .invalid)
    }

    /// The description never shows a password or SASL data.
    @Test func descriptionRedactsSecrets() {
        #expect(POP3Command.pass("hunter2").description == "PASS <redacted>")
        #expect(!String(reflecting: POP3Command.pass("hunter2")).contains("hunter2"))
        #expect(!"\(POP3Command.pass("hunter2"))".contains("hunter2"))
        let auth = POP3Command.auth(mechanism: "PLAIN", initialResponse: plainAliceSecret)
        #expect(auth.description == "AUTH PLAIN <redacted>")
        #expect(POP3Command.user("a\r\nb").description == #"USER "a\r\nb""#)
    }

    /// Random bytes never trap; every refusal is one `-ERR` line.
    @Test func hostileInputNeverTraps() {
        var generator = Xorshift64(seed: 0x504F_5033)
        let alphabet: [UInt8] =
            bytes("RETRTOPLISTUIDLDELEUSERPASSAUTH 0123456789-+x.=*") + [0, 9, 13, 10, 0x80, 0xFF, 0xC3]
        for _ in 0..<20_000 {
            let count = generator.index(below: 40)
            let line = (0..<count).map { _ in alphabet[generator.index(below: alphabet.count)] }
            switch POP3CommandParser.parse(line) {
            case .success(let command):
                switch command {
                case .retr(let number), .dele(let number), .list(let number?), .uidl(let number?):
                    #expect((1...POP3Limits.maximumMessageNumber).contains(number))
                case .top(let number, let lines):
                    #expect((1...POP3Limits.maximumMessageNumber).contains(number))
                    #expect((0...POP3Limits.maximumMessageNumber).contains(lines))
                default:
                    break
                }
            case .failure(let error):
                let text = Array(error.response.encoded.readableBytesView)
                #expect(text.starts(with: bytes("-ERR ")))
                #expect(text.filter { $0 == 10 }.count == 1)
                #expect(text.last == 10)
            }
        }
    }
}

@Suite("POP3 responses")
struct POP3ResponseTests {
    @Test func encodesStatusLines() {
        #expect(String(buffer: POP3Response.ok().encoded) == "+OK\r\n")
        #expect(String(buffer: POP3Response.ok("2 320").encoded) == "+OK 2 320\r\n")
        #expect(String(buffer: POP3Response.err("no such message").encoded) == "-ERR no such message\r\n")
        #expect(
            String(buffer: POP3Response.err(.inUse, "Mailbox is locked").encoded)
                == "-ERR [IN-USE] Mailbox is locked\r\n")
        #expect(String(buffer: POP3Response.err(.systemTemporary, "x").encoded) == "-ERR [SYS/TEMP] x\r\n")
    }

    /// No value can add a response line.
    @Test func textCannotInjectLines() {
        #expect(String(buffer: POP3Response.ok("a\r\n+OK b\0c").encoded) == "+OK a  +OK b c\r\n")
        let multiLine = POP3Response.ok().encodedWithLines(["1 a\r\n.", ".hidden", "x"])
        #expect(String(buffer: multiLine) == "+OK\r\n1 a  .\r\n..hidden\r\nx\r\n.\r\n")
    }

    @Test func encodesEmptyMultiLineResponses() {
        #expect(
            String(buffer: POP3Response.ok("0 messages (0 octets)").encodedWithLines([]))
                == "+OK 0 messages (0 octets)\r\n.\r\n")
    }
}
