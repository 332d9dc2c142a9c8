import MailTestSupport
import Foundation
import NIOCore
import SASL
import Testing

@testable import SMTPProtocol

// MARK: - Fixture types

/// A command line that parses, and the command it must give.
struct CommandFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let expected: SMTPCommand
    let note: String

    init(_ input: String, _ expected: SMTPCommand, _ note: String = "") {
        self.input = Array(input.utf8)
        self.expected = expected
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

/// A command line that must be refused, with the reply code.
struct CommandFailureFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let code: Int
    let note: String

    init(_ input: String, _ code: Int = 501, _ note: String = "") {
        self.init(bytes: Array(input.utf8), code, note)
    }

    init(bytes: [UInt8], _ code: Int = 501, _ note: String = "") {
        self.input = bytes
        self.code = code
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

// MARK: - Building expected values

private typealias ParseResult = Result<SMTPCommand, SMTPParseError>

private func box(_ local: String, _ domain: String, quoted: Bool = false) -> SMTPMailbox {
    SMTPMailbox(localPart: local, domain: .name(domain), isQuoted: quoted)
}

private func literalBox(_ local: String, _ literal: String) -> SMTPMailbox {
    SMTPMailbox(localPart: local, domain: .addressLiteral(literal))
}

private func mailParameters(
    size: Int? = nil, body: MailParameters.Body? = nil, smtpUTF8: Bool = false, ret: MailParameters.Return? = nil,
    envelopeID: String? = nil, auth: String? = nil
) -> MailParameters {
    var parameters = MailParameters()
    parameters.size = size
    parameters.body = body
    parameters.smtpUTF8 = smtpUTF8
    parameters.ret = ret
    parameters.envelopeID = envelopeID
    parameters.auth = auth
    return parameters
}

private func rcptParameters(notify: [RecipientParameters.Notify]? = nil, orcpt: String? = nil) -> RecipientParameters {
    var parameters = RecipientParameters()
    parameters.notify = notify
    parameters.originalRecipient = orcpt
    return parameters
}

private func mailFrom(_ mailbox: SMTPMailbox, _ parameters: MailParameters = MailParameters()) -> SMTPCommand {
    .mail(.mailbox(mailbox), parameters)
}

private func rcptTo(_ mailbox: SMTPMailbox, _ parameters: RecipientParameters = RecipientParameters()) -> SMTPCommand {
    .rcpt(.mailbox(mailbox), parameters)
}

private let label63 = String(repeating: "a", count: 63)
/// 4 labels of 63 octets and 3 dots: the longest domain, 255 octets (RFC 5321 §4.5.3.1.2).
private let domain255 = [label63, label63, label63, label63].joined(separator: ".")
/// 256 octets, every label within 63.
private let domain256 = [label63, label63, label63, String(repeating: "b", count: 62), "c"].joined(separator: ".")
private let local64 = String(repeating: "l", count: 64)
private let local65 = String(repeating: "l", count: 65)

// MARK: - Commands that parse

let commandFixtures: [CommandFixture] = [
    // Every verb, in upper, lower and mixed case (RFC 5321 §2.4: verbs are case-insensitive).
    CommandFixture("EHLO client.example", .ehlo("client.example")),
    CommandFixture("eHlO client.example", .ehlo("client.example")),
    CommandFixture("EHLO [192.0.2.1]", .ehlo("[192.0.2.1]"), "address literal"),
    CommandFixture("EHLO client.example ", .ehlo("client.example"), "trailing space"),
    CommandFixture("HELO bar.com", .helo("bar.com"), "RFC 5321 App. D.1"),
    CommandFixture("hElO bar.com", .helo("bar.com")),
    CommandFixture("MAIL FROM:<Smith@bar.com>", mailFrom(box("Smith", "bar.com")), "RFC 5321 App. D.1"),
    CommandFixture("mAiL fRoM:<Smith@bar.com>", mailFrom(box("Smith", "bar.com"))),
    CommandFixture("RCPT TO:<Jones@foo.com>", rcptTo(box("Jones", "foo.com")), "RFC 5321 App. D.1"),
    CommandFixture("RCPT TO:<Green@foo.com>", rcptTo(box("Green", "foo.com")), "RFC 5321 App. D.1"),
    CommandFixture("RCPT TO:<Brown@foo.com>", rcptTo(box("Brown", "foo.com")), "RFC 5321 App. D.1"),
    CommandFixture("rCpT tO:<Jones@foo.com>", rcptTo(box("Jones", "foo.com"))),
    CommandFixture("RCPT TO:<Postmaster>", .rcpt(.postmaster, RecipientParameters()), "RFC 5321 §4.1.1.3"),
    CommandFixture("RCPT TO:<postmaster>", .rcpt(.postmaster, RecipientParameters())),
    CommandFixture("RCPT TO:<Postmaster@foo.com>", rcptTo(box("Postmaster", "foo.com"))),
    CommandFixture("DATA", .data, "RFC 5321 App. D.1"),
    CommandFixture("dAtA", .data),
    CommandFixture("BDAT 100", .bdat(size: 100, isLast: false), "RFC 3030 §2"),
    CommandFixture("BDAT 0 LAST", .bdat(size: 0, isLast: true), "RFC 3030 §4.2"),
    CommandFixture("bDaT 5 lAsT", .bdat(size: 5, isLast: true)),
    CommandFixture("BDAT 123456789012345", .bdat(size: 123_456_789_012_345, isLast: false), "15 digits"),
    CommandFixture("RSET", .rset),
    CommandFixture("rSeT", .rset),
    CommandFixture("NOOP", .noop),
    CommandFixture("nOoP anything at all", .noop, "RFC 5321 §4.1.1.9: the parameter is ignored"),
    CommandFixture("QUIT", .quit, "RFC 5321 App. D.1"),
    CommandFixture("qUiT", .quit),
    CommandFixture("VRFY Crispin", .vrfy("Crispin"), "RFC 5321 App. D.4"),
    CommandFixture("vRfY <Smith@bar.com>", .vrfy("<Smith@bar.com>")),
    CommandFixture("EXPN Example-People", .expn("Example-People"), "RFC 5321 §3.5.3"),
    CommandFixture("eXpN list", .expn("list")),
    CommandFixture("HELP", .help(nil)),
    CommandFixture("hElP MAIL", .help("MAIL")),
    CommandFixture("STARTTLS", .startTLS, "RFC 3207 §4"),
    CommandFixture("sTaRtTlS", .startTLS),
    CommandFixture("AUTH PLAIN", .auth(mechanism: "PLAIN", initialResponse: nil)),
    CommandFixture(
        "aUtH pLaIn \(plainAliceSecret)", .auth(mechanism: "PLAIN", initialResponse: plainAliceSecret),
        "initial response"),
    CommandFixture(
        "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=", .auth(mechanism: "PLAIN", initialResponse: "dGVzdAB0ZXN0ADEyMzQ="),
        "RFC 4954 §4 example"),
    CommandFixture("AUTH PLAIN =", .auth(mechanism: "PLAIN", initialResponse: "="), "RFC 4954 §4: empty response"),
    CommandFixture("AUTH login", .auth(mechanism: "LOGIN", initialResponse: nil)),
    CommandFixture(
        "AUTH scram-sha-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=",
        .auth(mechanism: "SCRAM-SHA-256", initialResponse: "biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8="),
        "RFC 7677 §3 client-first"),

    // Paths (RFC 5321 §4.1.2).
    CommandFixture("MAIL FROM:<>", .mail(.null, MailParameters()), "null reverse-path, RFC 5321 §4.5.5"),
    CommandFixture("MAIL FROM:<> BODY=8BITMIME", .mail(.null, mailParameters(body: .eightBitMIME))),
    CommandFixture(
        "RCPT TO:<@hosta.int,@jkl.org:userc@d.bar.org>", rcptTo(box("userc", "d.bar.org")),
        "RFC 5321 §4.1.1.3 source route, ignored"),
    CommandFixture(
        "MAIL FROM:<@a.example,@b.example:user@c.example>", mailFrom(box("user", "c.example")), "source route"),
    CommandFixture("RCPT TO:<@a.example:user@c.example>", rcptTo(box("user", "c.example")), "one-hop route"),
    CommandFixture(
        "MAIL FROM:<\"john doe\"@example.com>", mailFrom(box("john doe", "example.com", quoted: true)),
        "quoted local part"),
    CommandFixture(
        "RCPT TO:<\"user@other\"@ours.example>", rcptTo(box("user@other", "ours.example", quoted: true)),
        "quoted @ stays in the local part"),
    CommandFixture(
        #"MAIL FROM:<"a\"b\\c"@example.com>"#, mailFrom(box(#"a"b\c"#, "example.com", quoted: true)),
        "quoted-pairSMTP"),
    CommandFixture(#"MAIL FROM:<"\x"@example.com>"#, mailFrom(box("x", "example.com", quoted: true)), "quoted-pair"),
    CommandFixture("MAIL FROM:<\"\"@example.com>", mailFrom(box("", "example.com", quoted: true)), "empty quoted"),
    CommandFixture("MAIL FROM:<user@[192.0.2.1]>", mailFrom(literalBox("user", "192.0.2.1")), "IPv4 literal"),
    CommandFixture(
        "RCPT TO:<user@[IPv6:2001:db8::1]>", rcptTo(literalBox("user", "IPv6:2001:db8::1")), "IPv6 literal"),
    CommandFixture(
        "MAIL FROM:<ü@exämple.test> SMTPUTF8", mailFrom(box("ü", "exämple.test"), mailParameters(smtpUTF8: true)),
        "RFC 6531 §3.3 UTF-8 address"),
    CommandFixture("RCPT TO:<用户@例子.测试>", rcptTo(box("用户", "例子.测试")), "UTF-8 parses; SMTPUTF8 is the session's check"),
    CommandFixture("RCPT TO:<Jones@XYZ.COM>", rcptTo(box("Jones", "xyz.com")), "domain lower-cased, local part kept"),
    CommandFixture("MAIL FROM:<User@Example.COM>", mailFrom(box("User", "example.com"))),
    CommandFixture("RCPT TO:<a@ÜBER.example>", rcptTo(box("a", "über.example")), "U-label lower-cased"),
    CommandFixture("MAIL FROM: <a@b.example>", mailFrom(box("a", "b.example")), "leniency: space after FROM:"),
    CommandFixture("RCPT TO:  <a@b.example>", rcptTo(box("a", "b.example")), "leniency: spaces after TO:"),
    CommandFixture("RCPT TO:<user+tag@example.test>", rcptTo(box("user+tag", "example.test"))),
    CommandFixture("RCPT TO:<first.last@my-host.example>", rcptTo(box("first.last", "my-host.example"))),
    CommandFixture("RCPT TO:<user%other.example@example.test>", rcptTo(box("user%other.example", "example.test"))),
    CommandFixture("RCPT TO:<other.example!user@example.test>", rcptTo(box("other.example!user", "example.test"))),
    CommandFixture(
        "RCPT TO:<!#$%&'*+-/=?^_`{|}~@example.test>", rcptTo(box("!#$%&'*+-/=?^_`{|}~", "example.test")), "all atext"),
    CommandFixture("RCPT TO:<\(local64)@example.test>", rcptTo(box(local64, "example.test")), "64-octet local part"),
    CommandFixture(
        "RCPT TO:<\"\(local64)\"@example.test>", rcptTo(box(local64, "example.test", quoted: true)),
        "64-octet quoted local part"),
    CommandFixture(
        "RCPT TO:<\(String(repeating: "ü", count: 32))@example.test>",
        rcptTo(box(String(repeating: "ü", count: 32), "example.test")), "64 octets of UTF-8"),
    CommandFixture("RCPT TO:<a@\(domain255)>", rcptTo(box("a", domain255)), "255-octet domain"),
    CommandFixture("RCPT TO:<a@\(label63).example>", rcptTo(box("a", "\(label63).example")), "63-octet label"),

    // MAIL parameters.
    CommandFixture("MAIL FROM:<a@b.example> SIZE=12345", mailFrom(box("a", "b.example"), mailParameters(size: 12345))),
    CommandFixture("MAIL FROM:<a@b.example> size=0", mailFrom(box("a", "b.example"), mailParameters(size: 0))),
    CommandFixture(
        "MAIL FROM:<a@b.example> SIZE=99999999999999999999", mailFrom(box("a", "b.example"), mailParameters(size: Int.max)),
        "RFC 1870: 20 digits; overflow reads as Int.max"),
    CommandFixture(
        "MAIL FROM:<a@b.example> BODY=8BITMIME", mailFrom(box("a", "b.example"), mailParameters(body: .eightBitMIME))),
    CommandFixture(
        "MAIL FROM:<a@b.example> BODY=BINARYMIME", mailFrom(box("a", "b.example"), mailParameters(body: .binaryMIME))),
    CommandFixture("MAIL FROM:<a@b.example> BODY=7BIT", mailFrom(box("a", "b.example"), mailParameters(body: .sevenBit))),
    CommandFixture(
        "MAIL FROM:<a@b.example> body=8bitmime", mailFrom(box("a", "b.example"), mailParameters(body: .eightBitMIME))),
    CommandFixture("MAIL FROM:<a@b.example> SMTPUTF8", mailFrom(box("a", "b.example"), mailParameters(smtpUTF8: true))),
    CommandFixture("MAIL FROM:<a@b.example> smtputf8", mailFrom(box("a", "b.example"), mailParameters(smtpUTF8: true))),
    CommandFixture("MAIL FROM:<a@b.example> RET=FULL", mailFrom(box("a", "b.example"), mailParameters(ret: .full))),
    CommandFixture("MAIL FROM:<a@b.example> ret=hdrs", mailFrom(box("a", "b.example"), mailParameters(ret: .headers))),
    CommandFixture(
        "MAIL FROM:<a@b.example> ENVID=QQ314159", mailFrom(box("a", "b.example"), mailParameters(envelopeID: "QQ314159")),
        "RFC 3461 §4.4"),
    CommandFixture(
        "MAIL FROM:<a@b.example> ENVID=QQ314159+2B1",
        mailFrom(box("a", "b.example"), mailParameters(envelopeID: "QQ314159+1")), "xtext +2B is +"),
    CommandFixture("MAIL FROM:<a@b.example> AUTH=<>", mailFrom(box("a", "b.example"), mailParameters(auth: "<>"))),
    CommandFixture(
        "MAIL FROM:<e=mc2@example.com> AUTH=e+3Dmc2@example.com",
        mailFrom(box("e=mc2", "example.com"), mailParameters(auth: "e=mc2@example.com")), "RFC 4954 §5 example"),
    CommandFixture(
        "MAIL FROM:<Smith@bar.com> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=QQ314159 SMTPUTF8",
        mailFrom(
            box("Smith", "bar.com"),
            mailParameters(size: 1000, body: .eightBitMIME, smtpUTF8: true, ret: .headers, envelopeID: "QQ314159")),
        "all MAIL parameters"),
    CommandFixture(
        "MAIL FROM:<a@b.example>  SIZE=10 ", mailFrom(box("a", "b.example"), mailParameters(size: 10)),
        "extra spaces between and after parameters"),

    // RCPT parameters (RFC 3461 §4).
    CommandFixture(
        "RCPT TO:<a@b.example> NOTIFY=SUCCESS,FAILURE",
        rcptTo(box("a", "b.example"), rcptParameters(notify: [.success, .failure]))),
    CommandFixture("RCPT TO:<a@b.example> NOTIFY=NEVER", rcptTo(box("a", "b.example"), rcptParameters(notify: [.never]))),
    CommandFixture("RCPT TO:<a@b.example> notify=delay", rcptTo(box("a", "b.example"), rcptParameters(notify: [.delay]))),
    CommandFixture(
        "RCPT TO:<a@b.example> ORCPT=rfc822;bob+40example.com",
        rcptTo(box("a", "b.example"), rcptParameters(orcpt: "rfc822;bob@example.com")), "xtext +40 is @"),
    CommandFixture(
        "RCPT TO:<Bob@Example.COM> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob@Example.COM",
        rcptTo(box("Bob", "example.com"), rcptParameters(notify: [.success, .failure], orcpt: "rfc822;Bob@Example.COM"))),
    CommandFixture("RCPT TO:<Postmaster> NOTIFY=NEVER", .rcpt(.postmaster, rcptParameters(notify: [.never]))),
]

// MARK: - Commands that are refused

let commandFailureFixtures: [CommandFailureFixture] = [
    // Unknown verbs: 502, and `isUnrecognized` (the session closes when this is the first line).
    CommandFailureFixture("FOO bar", 502),
    CommandFailureFixture("GET / HTTP/1.1", 502, "HTTP client"),
    CommandFailureFixture("MAILFROM:<a@b.example>", 502),
    CommandFailureFixture("EHLOX client.example", 502),
    CommandFailureFixture("STARTTLS2", 502),
    CommandFailureFixture("TURN", 502),

    // MAIL / RCPT syntax.
    CommandFailureFixture("MAIL FROM:a@b.example", 501, "no angle brackets"),
    CommandFailureFixture("MAIL FROM:<a@b.example", 501, "unclosed"),
    CommandFailureFixture("MAIL TO:<a@b.example>", 501),
    CommandFailureFixture("MAIL", 501),
    CommandFailureFixture("MAIL FROM :<a@b.example>", 501),
    CommandFailureFixture("RCPT TO:<>", 501, "null forward-path"),
    CommandFailureFixture("RCPT FROM:<a@b.example>", 501),
    CommandFailureFixture("RCPT TO:a@b.example", 501),
    CommandFailureFixture("RCPT TO:<a>", 501, "no domain"),
    CommandFailureFixture("RCPT TO:<a@>", 501, "empty domain"),
    CommandFailureFixture("RCPT TO:<@x.example>", 501, "route without mailbox"),
    CommandFailureFixture("RCPT TO:<@a.example,b.example:user@c.example>", 501, "bad route"),
    CommandFailureFixture("RCPT TO:<user@other.example@example.test>", 501, "two @ outside quotes"),
    CommandFailureFixture("RCPT TO:<a..b@x.example>", 501, "empty atom"),
    CommandFailureFixture("RCPT TO:<.a@x.example>", 501, "leading dot"),
    CommandFailureFixture("RCPT TO:<a.@x.example>", 501, "trailing dot"),
    CommandFailureFixture("RCPT TO:<a b@x.example>", 501, "space in dot-string"),
    CommandFailureFixture("RCPT TO:<a(b)@x.example>", 501, "parentheses are not atext"),
    CommandFailureFixture("RCPT TO:<a@-x.example>", 501, "label starts with hyphen"),
    CommandFailureFixture("RCPT TO:<a@x-.example>", 501, "label ends with hyphen"),
    CommandFailureFixture("RCPT TO:<a@x..y>", 501, "empty label"),
    CommandFailureFixture("RCPT TO:<a@.x>", 501, "leading dot in domain"),
    CommandFailureFixture("RCPT TO:<a@x.>", 501, "trailing dot in domain"),
    CommandFailureFixture("RCPT TO:<a@x_y.example>", 501, "underscore in domain"),
    CommandFailureFixture("RCPT TO:<\(local65)@example.test>", 501, "65-octet local part"),
    CommandFailureFixture("RCPT TO:<\"\(local65)\"@example.test>", 501, "65-octet quoted local part"),
    CommandFailureFixture("RCPT TO:<\(String(repeating: "ü", count: 33))@example.test>", 501, "66 octets of UTF-8"),
    CommandFailureFixture("RCPT TO:<a@\(domain256)>", 501, "256-octet domain"),
    CommandFailureFixture("RCPT TO:<a@\(String(repeating: "a", count: 64)).example>", 501, "64-octet label"),
    CommandFailureFixture("MAIL FROM:<\"abc@x.example>", 501, "unterminated quoted string"),
    CommandFailureFixture("MAIL FROM:<\"abc", 501, "unterminated quoted string at end of line"),
    CommandFailureFixture("MAIL FROM:<\"a\\", 501, "quoted-pair at end of line"),
    CommandFailureFixture("MAIL FROM:<\"a\tb\"@x.example>", 501, "control character in quoted string"),
    CommandFailureFixture("MAIL FROM:<a@[a]b]>", 501, "bad address literal"),
    CommandFailureFixture("MAIL FROM:<a@[]>", 501, "empty address literal"),
    CommandFailureFixture("MAIL FROM:<a@[192.0.2.1>", 501, "unclosed address literal"),
    CommandFailureFixture("MAIL FROM:<a@[a[b]>", 501, "[ inside address literal"),
    CommandFailureFixture("MAIL FROM:<a@b.example>SIZE=1", 501, "no space before parameter"),

    // Parameters.
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", 501, "duplicate parameter"),
    CommandFailureFixture("MAIL FROM:<a@b.example> BODY=7BIT body=8BITMIME", 501, "duplicate, case-folded"),
    CommandFailureFixture("MAIL FROM:<a@b.example> FOO=bar", 555, "unknown parameter"),
    CommandFailureFixture("MAIL FROM:<a@b.example> NOTIFY=NEVER", 555, "RCPT parameter on MAIL"),
    CommandFailureFixture("RCPT TO:<a@b.example> SIZE=10", 555, "MAIL parameter on RCPT"),
    CommandFailureFixture("RCPT TO:<a@b.example> XFOO", 555, "unknown parameter without value"),
    CommandFailureFixture("MAIL FROM:<a@b.example> -SIZE=1", 501, "keyword starts with hyphen"),
    CommandFailureFixture("MAIL FROM:<a@b.example> =1", 501, "no keyword"),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY=NEVER,SUCCESS", 501, "RFC 3461 §4.1: NEVER stands alone"),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY=SUCCESS,SUCCESS", 501),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY=SUCCESS,", 501),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY=SOMETIMES", 501),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY", 501),
    CommandFailureFixture("RCPT TO:<a@b.example> ORCPT=bob@example.com", 501, "ORCPT without addr-type"),
    CommandFailureFixture("RCPT TO:<a@b.example> ORCPT=;bob@example.com", 501, "empty addr-type"),
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE=abc", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE=", 501, "empty value"),
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE", 501, "no value"),
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE=-1", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> SIZE=\(String(repeating: "9", count: 21))", 501, "21 digits"),
    CommandFailureFixture("MAIL FROM:<a@b.example> BODY=9BIT", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> BODY", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> SMTPUTF8=yes", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> RET=ALL", 501),
    CommandFailureFixture("MAIL FROM:<a@b.example> ENVID=a+2", 501, "truncated hexchar"),
    CommandFailureFixture("MAIL FROM:<a@b.example> ENVID=a+ZZ", 501, "bad hexchar"),
    CommandFailureFixture("MAIL FROM:<a@b.example> ENVID=a=b", 501, "= in esmtp-value"),
    CommandFailureFixture("MAIL FROM:<a@b.example> ENVID=\(String(repeating: "x", count: 101))", 501, "over 100"),

    // Commands that take no argument, or need one.
    CommandFailureFixture("DATA x", 501),
    CommandFailureFixture("QUIT now", 501),
    CommandFailureFixture("RSET x", 501),
    CommandFailureFixture("STARTTLS x", 501),
    CommandFailureFixture("VRFY", 501),
    CommandFailureFixture("EXPN", 501),
    CommandFailureFixture("BDAT", 501),
    CommandFailureFixture("BDAT -1", 501),
    CommandFailureFixture("BDAT x", 501),
    CommandFailureFixture("BDAT 10 NOTLAST", 501),
    CommandFailureFixture("BDAT 10 LAST extra", 501),
    CommandFailureFixture("BDAT 1234567890123456", 501, "16 digits"),
    CommandFailureFixture("AUTH", 501),
    CommandFailureFixture("AUTH PLAIN a b", 501),
    CommandFailureFixture("AUTH PL@IN", 501),
    CommandFailureFixture("AUTH \(String(repeating: "X", count: 21))", 501, "mechanism name over 20"),
    CommandFailureFixture("EHLO", 501, "no name"),
    CommandFailureFixture("EHLO ", 501, "empty name"),
    CommandFailureFixture("HELO", 501),
    CommandFailureFixture("EHLO \(String(repeating: "h", count: 256))", 501, "name over 255"),
    CommandFailureFixture("HELO a\u{01}b", 501, "control character"),
    CommandFailureFixture("HELO a\tb", 501, "tab"),
    CommandFailureFixture("EHLO a\u{7F}", 501, "DEL"),

    // NUL anywhere: binary input is not SMTP at all (unrecognized, so a first line closes).
    CommandFailureFixture("NOOP\0", 502, "NUL"),
    CommandFailureFixture("EHLO a\0b", 502, "NUL"),
    CommandFailureFixture("MAIL FROM:<a\0@b.example>", 502, "NUL"),
    CommandFailureFixture("RCPT TO:<a@b.example> NOTIFY=NEVER\0", 502, "NUL"),

    // Invalid UTF-8.
    CommandFailureFixture(bytes: bytes("MAIL FROM:<") + [0xC3, 0x28] + bytes("@x.example>"), 501, "C3 28 in local part"),
    CommandFailureFixture(bytes: bytes("MAIL FROM:<") + [0xC3, 0x41] + bytes("@x.example>"), 501, "C3 41 in local part"),
    CommandFailureFixture(
        bytes: bytes("MAIL FROM:<\"") + [0xC3, 0x28] + bytes("\"@x.example>"), 501, "C3 28 in quoted local part"),
    CommandFailureFixture(bytes: bytes("RCPT TO:<a@x") + [0xFF] + bytes(".example>"), 501, "FF in domain"),
    CommandFailureFixture(bytes: bytes("EHLO ") + [0xFF, 0xFE], 501, "FF FE in EHLO name"),
]

// MARK: - Suites

@Suite("SMTP command parser")
struct SMTPCommandParserTests {
    @Test(arguments: commandFixtures)
    func parses(_ fixture: CommandFixture) {
        switch SMTPCommandParser.parse(fixture.input) {
        case .success(let command):
            #expect(command == fixture.expected)
        case .failure(let error):
            Issue.record("refused with \(error.reply)")
        }
    }

    @Test(arguments: commandFailureFixtures)
    func refuses(_ fixture: CommandFailureFixture) {
        switch SMTPCommandParser.parse(fixture.input) {
        case .success(let command):
            Issue.record("parsed as \(command)")
        case .failure(let error):
            #expect(error.reply.code == fixture.code)
            #expect(error.isUnrecognized == (fixture.code == 502))
            #expect(error.reply.enhanced?.description.hasPrefix("5.5.") == true)
        }
    }

    @Test func unknownParameterIs555WithEnhancedCode() {
        guard case .failure(let error) = SMTPCommandParser.parse(bytes("MAIL FROM:<a@b.example> FOO=bar")) else {
            Issue.record("FOO=bar was accepted")
            return
        }
        #expect(error.reply.code == 555)
        #expect(error.reply.enhanced == EnhancedStatusCode(5, 5, 4))
        #expect(!error.isUnrecognized)
    }

    @Test func unknownVerbIsUnrecognized() {
        guard case .failure(let error) = SMTPCommandParser.parse(bytes("XYZZY plugh")) else {
            Issue.record("XYZZY was accepted")
            return
        }
        #expect(error.isUnrecognized)
        #expect(error.reply == SMTPReply.commandUnrecognized)
    }
}

// MARK: - Round trips

/// `mailbox` written out by `description` and parsed again.
private func reparsed(_ mailbox: SMTPMailbox) -> SMTPMailbox? {
    parsedMailbox("MAIL FROM:<\(mailbox)>")
}

private func parsedMailbox(_ line: String) -> SMTPMailbox? {
    parsedMailbox(bytes(line))
}

private func parsedMailbox(_ line: [UInt8]) -> SMTPMailbox? {
    if case .success(.mail(.mailbox(let mailbox), _)) = SMTPCommandParser.parse(line) { return mailbox }
    return nil
}

let roundTripAddresses: [String] = [
    "Smith@bar.com",
    "first.last+tag@example.test",
    "\"john doe\"@example.com",
    "\"user@other\"@ours.example",
    #""a\"b\\c"@example.com"#,
    "\"\"@example.com",
    "\"a..b\"@example.com",
    "\"plain\"@example.com",
    "ü@exämple.test",
    "\"ü ü\"@example.test",
    "user@[192.0.2.1]",
    "user@[IPv6:2001:db8::1]",
    "!#$%&'*+-/=?^_`{|}~@example.test",
]

@Suite("SMTP paths round-trip through their description")
struct SMTPPathRoundTripTests {
    @Test(arguments: roundTripAddresses)
    func mailboxDescriptionParsesBack(_ address: String) throws {
        let mailbox = try #require(parsedMailbox("MAIL FROM:<\(address)>"))
        let again = reparsed(mailbox)
        #expect(again == mailbox)
        #expect(again?.isQuoted == mailbox.isQuoted)
    }

    @Test func quotedLocalPartKeepsItsMeaning() throws {
        let mailbox = try #require(parsedMailbox("MAIL FROM:<\"user@other\"@ours.example>"))
        #expect(mailbox.isQuoted)
        #expect(mailbox.localPart == "user@other")
        #expect(mailbox.domainName == "ours.example")
        #expect(mailbox.description == "\"user@other\"@ours.example")
    }

    @Test func utf8MailboxIsNotASCII() throws {
        let mailbox = try #require(parsedMailbox("MAIL FROM:<ü@example.test>"))
        #expect(!mailbox.isASCII)
        let domainOnly = try #require(parsedMailbox("MAIL FROM:<a@exämple.test>"))
        #expect(!domainOnly.isASCII)
        let ascii = try #require(parsedMailbox("MAIL FROM:<a@example.test>"))
        #expect(ascii.isASCII)
    }

    @Test func pathsParseBack() {
        let null = SMTPCommandParser.parse(bytes("MAIL FROM:\(ReversePath.null)"))
        #expect(null == ParseResult.success(.mail(.null, MailParameters())))
        let postmaster = SMTPCommandParser.parse(bytes("RCPT TO:\(ForwardPath.postmaster)"))
        #expect(postmaster == ParseResult.success(.rcpt(.postmaster, RecipientParameters())))
        let mailbox = SMTPMailbox(localPart: "john doe", domain: .name("example.com"), isQuoted: true)
        let quoted = SMTPCommandParser.parse(bytes("RCPT TO:\(ForwardPath.mailbox(mailbox))"))
        #expect(quoted == ParseResult.success(.rcpt(.mailbox(mailbox), RecipientParameters())))
    }
}

// MARK: - Hostile input

@Suite("SMTP command parser on hostile input")
struct SMTPCommandParserHostileInputTests {
    /// 20,000 random lines biased toward the grammar's special characters and keywords.
    /// The parser must return for each (no trap); every MAIL it accepts must round-trip.
    @Test func survivesRandomLines() {
        var generator = Xorshift64(seed: 0x5EED_0000_5321)
        let specials = bytes(#"<>@:."\ =,+[]"#)
        let verbs = [
            "MAIL FROM:<", "RCPT TO:<", "EHLO ", "HELO ", "BDAT ", "AUTH ", "DATA", "VRFY ", "EXPN ", "HELP ",
            "STARTTLS", "QUIT", "RSET", "NOOP", "MAIL FROM:", "RCPT TO:",
        ].map(bytes)
        let tokens = [
            "<>", "<Postmaster>", "SIZE=", "BODY=", "BINARYMIME", "SMTPUTF8", "RET=", "ENVID=", "AUTH=", "NOTIFY=",
            "NEVER", "ORCPT=rfc822;", "+2B", "+", "[IPv6:", "LAST", "@", "\"", "\\", ".", "..", "-", "ü", "例",
        ].map(bytes)
        let alphanumerics = bytes("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var accepted = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 0...300, using: &generator)
            var line: [UInt8] = []
            if generator.next() % 2 == 0 { line += verbs[generator.index(below: verbs.count)] }
            while line.count < length {
                switch generator.next() % 10 {
                case 0, 1, 2, 3: line.append(specials[generator.index(below: specials.count)])
                case 4, 5: line += tokens[generator.index(below: tokens.count)]
                case 6, 7: line.append(alphanumerics[generator.index(below: alphanumerics.count)])
                default: line.append(UInt8(truncatingIfNeeded: generator.next()))
                }
            }
            let result = SMTPCommandParser.parse(line)
            if case .success = result { accepted += 1 }
            if case .success(.mail(.mailbox(let mailbox), _)) = result {
                #expect(reparsed(mailbox) == mailbox, "\(escaped(line))")
            }
        }
        // Not a property, just a sign that the generator reaches the accepting paths.
        #expect(accepted > 0)
    }
}

// MARK: - Findings

@Suite("SMTP parameter values")
struct SMTPParameterValueTests {
    /// RFC 3461 §4.4: the decoded ENVID is printable US-ASCII; §4.2: the decoded ORCPT is
    /// an address of its addr-type. Both end up in DSN header fields (Original-Envelope-Id,
    /// Original-Recipient), so a decoded CR, LF or NUL must never get through the parser.
    @Test(arguments: [
        "MAIL FROM:<a@b.example> ENVID=a+0D+0AX-Injected:+20yes",
        "MAIL FROM:<a@b.example> ENVID=a+00b",
        "MAIL FROM:<a@b.example> AUTH=a+0D+0Ab@example.com",
        "RCPT TO:<a@b.example> ORCPT=rfc822;a+0D+0AX-Injected:+20yes",
        "RCPT TO:<a@b.example> ORCPT=rfc822;a+00b@example.com",
    ])
    func xtextNeverDecodesToControlCharacters(_ line: String) {
        switch SMTPCommandParser.parse(bytes(line)) {
        case .success(let command):
            Issue.record("accepted a control character after xtext decoding: \(command)")
        case .failure(let error):
            #expect(error.reply.code == 501)
        }
    }
}
