import MailTestSupport
import NIOCore
import Testing

@testable import SMTPProtocol

/// Decodes `chunks` as they would arrive; returns every complete reply, or the error.
func decodeReplies(
    _ chunks: [[UInt8]], limits: SMTPClientLimits = SMTPClientLimits()
) -> Result<[SMTPReply], SMTPReplyDecoderError> {
    var decoder = SMTPReplyDecoder(limits: limits)
    var buffer = ByteBuffer()
    var replies: [SMTPReply] = []
    do {
        for chunk in chunks {
            buffer.writeBytes(chunk)
            while let reply = try decoder.decode(&buffer) { replies.append(reply) }
        }
    } catch {
        return .failure(error)
    }
    return .success(replies)
}

@Suite("SMTP reply decoder (client side)")
struct SMTPReplyDecoderTests {
    struct Fixture: Sendable, CustomStringConvertible {
        var input: String
        var expected: [SMTPReply]
        var description: String { String(reflecting: input) }
    }

    static let valid: [Fixture] = [
        // RFC 5321 §4.3.1 / Appendix D.1: greeting and the replies of a transaction.
        Fixture(
            input: "220 foo.com Simple Mail Transfer Service Ready\r\n",
            expected: [SMTPReply(220, nil, "foo.com Simple Mail Transfer Service Ready")]),
        Fixture(
            input: "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
            expected: [SMTPReply(250, nil, ["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"])]),
        Fixture(input: "250 OK\r\n", expected: [SMTPReply(250, nil, "OK")]),
        Fixture(
            input: "354 Start mail input; end with <CRLF>.<CRLF>\r\n",
            expected: [SMTPReply(354, nil, "Start mail input; end with <CRLF>.<CRLF>")]),
        Fixture(input: "550 No such user here\r\n", expected: [SMTPReply(550, nil, "No such user here")]),
        Fixture(
            input: "221 foo.com Service closing transmission channel\r\n",
            expected: [SMTPReply(221, nil, "foo.com Service closing transmission channel")]),
        // RFC 5321 §4.2: "Reply-code [ SP textstring ] CRLF" — the text is optional.
        Fixture(input: "250\r\n", expected: [SMTPReply(250, nil, "")]),
        Fixture(input: "250-\r\n250 \r\n", expected: [SMTPReply(250, nil, ["", ""])]),
        // RFC 2034 §4: the enhanced code on every line, taken out of the text.
        Fixture(input: "250 2.1.0 Ok\r\n", expected: [SMTPReply(250, .init(2, 1, 0), "Ok")]),
        Fixture(
            input: "550 5.1.1 <bob@remote.test>: Recipient address rejected\r\n",
            expected: [SMTPReply(550, .init(5, 1, 1), "<bob@remote.test>: Recipient address rejected")]),
        Fixture(
            input: "550-5.7.1 first line\r\n550 5.7.1 second line\r\n",
            expected: [SMTPReply(550, .init(5, 7, 1), ["first line", "second line"])]),
        Fixture(input: "553 5.1.10\r\n", expected: [SMTPReply(553, .init(5, 1, 10), "")]),
        Fixture(
            input: "452 4.5.3 Too many recipients\r\n",
            expected: [SMTPReply(452, .init(4, 5, 3), "Too many recipients")]),
        // A class that does not match the reply code is text, not a status.
        Fixture(input: "550 4.1.1 odd\r\n", expected: [SMTPReply(550, nil, "4.1.1 odd")]),
        Fixture(input: "250 2.1.0.5 not a code\r\n", expected: [SMTPReply(250, nil, "2.1.0.5 not a code")]),
        Fixture(input: "250 2.1000.0 too long\r\n", expected: [SMTPReply(250, nil, "2.1000.0 too long")]),
        // Several replies in one read (RFC 2920 §3.2: pipelined replies).
        Fixture(
            input: "250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n354 go ahead\r\n",
            expected: [
                SMTPReply(250, .init(2, 1, 0), "Ok"), SMTPReply(550, .init(5, 1, 1), "unknown"),
                SMTPReply(354, nil, "go ahead"),
            ]),
        // Leniency: a bare LF ends a line.
        Fixture(input: "250-a\n250 b\n", expected: [SMTPReply(250, nil, ["a", "b"])]),
        // Control characters cannot reach a log or a bounce.
        Fixture(input: "250 a\u{1B}[31mb\r\n", expected: [SMTPReply(250, nil, "a?[31mb")]),
    ]

    @Test(arguments: valid)
    func decodes(_ fixture: Fixture) {
        #expect(decodeReplies([bytes(fixture.input)]) == .success(fixture.expected))
    }

    /// STYLE.md §8: every fixture split at every byte boundary decodes the same.
    @Test(arguments: valid)
    func decodesSplitAtEveryBoundary(_ fixture: Fixture) {
        for chunks in everySplit(bytes(fixture.input)) {
            #expect(decodeReplies(chunks) == .success(fixture.expected))
        }
    }

    /// An incomplete reply waits for more, consuming only whole lines.
    @Test func waitsForTheLastLine() throws {
        var decoder = SMTPReplyDecoder()
        var buffer = ByteBuffer(string: "250-first\r\n250 sec")
        #expect(try decoder.decode(&buffer) == nil)
        #expect(decoder.isInsideReply)
        #expect(String(buffer: buffer) == "250 sec")
        buffer.writeString("ond\r\n")
        #expect(try decoder.decode(&buffer) == SMTPReply(250, nil, ["first", "second"]))
        #expect(!decoder.isInsideReply)
    }

    /// Encoding and decoding are inverse (the server's encoder writes the enhanced code
    /// on every line; the decoder takes it off again).
    @Test(arguments: [
        SMTPReply.ok(), .senderOK, .startData, .userUnknown, .tooManyRecipients, .bye,
        SMTPReply(250, nil, ["mx.example.test", "PIPELINING", "SIZE 10240000", "8BITMIME"]),
        SMTPReply(550, .init(5, 7, 1), ["one", "two", "three"]),
    ])
    func roundTripsTheServersEncoding(_ reply: SMTPReply) {
        #expect(decodeReplies([Array(reply.encoded.readableBytesView)]) == .success([reply]))
    }

    struct HostileFixture: Sendable, CustomStringConvertible {
        var input: [UInt8]
        var kind: SMTPReplyDecoderError.Kind
        var name: String
        var description: String { name }
    }

    static let hostile: [HostileFixture] = [
        HostileFixture(input: bytes("hello\r\n"), kind: .malformed, name: "garbage"),
        HostileFixture(input: bytes("25\r\n"), kind: .malformed, name: "short code"),
        HostileFixture(input: bytes("2500 x\r\n"), kind: .malformed, name: "four digits"),
        HostileFixture(input: bytes("250x\r\n"), kind: .malformed, name: "code not followed by SP or -"),
        HostileFixture(input: bytes("199 x\r\n"), kind: .malformed, name: "first digit 1"),
        HostileFixture(input: bytes("600 x\r\n"), kind: .malformed, name: "first digit 6"),
        HostileFixture(input: bytes("260 x\r\n"), kind: .malformed, name: "second digit 6"),
        HostileFixture(input: bytes("\r\n"), kind: .malformed, name: "empty line"),
        HostileFixture(
            input: bytes("220-mx ok\r\n221 other code\r\n"), kind: .inconsistentCodes, name: "mismatched codes"),
        HostileFixture(input: bytes("250-a\r\n550 b\r\n"), kind: .inconsistentCodes, name: "class changes"),
        HostileFixture(
            input: bytes("220 " + String(repeating: "x", count: 5000) + "\r\n"), kind: .lineTooLong,
            name: "over-long line"),
        HostileFixture(
            input: bytes("220 " + String(repeating: "x", count: 5000)), kind: .lineTooLong,
            name: "over-long line without its end"),
        HostileFixture(
            input: bytes(String(repeating: "250-x\r\n", count: 200) + "250 x\r\n"), kind: .tooManyLines,
            name: "201 lines"),
    ]

    @Test(arguments: hostile)
    func refusesHostileInput(_ fixture: HostileFixture) {
        guard case .failure(let error) = decodeReplies([fixture.input]) else {
            Issue.record("decoded \(fixture.name)")
            return
        }
        #expect(error.kind == fixture.kind)
    }

    @Test(arguments: hostile)
    func refusesHostileInputSplitAnywhere(_ fixture: HostileFixture) {
        guard fixture.input.count < 300 else { return }
        for chunks in everySplit(fixture.input) {
            guard case .failure(let error) = decodeReplies(chunks) else {
                Issue.record("decoded \(fixture.name) split as \(chunks.map(\.count))")
                return
            }
            #expect(error.kind == fixture.kind)
        }
    }

    /// The limits are the configured ones, counted with the line end.
    @Test func limitsAreConfigurable() {
        var limits = SMTPClientLimits()
        limits.maximumReplyLineLength = 10
        limits.maximumReplyLines = 2
        #expect(decodeReplies([bytes("250 1234\r\n")], limits: limits) == .success([SMTPReply(250, nil, "1234")]))
        #expect(decodeReplies([bytes("250 12345\r\n")], limits: limits).isFailure)
        #expect(
            decodeReplies([bytes("250-a\r\n250 b\r\n")], limits: limits) == .success([SMTPReply(250, nil, ["a", "b"])]))
        #expect(decodeReplies([bytes("250-a\r\n250-b\r\n250 c\r\n")], limits: limits).isFailure)
    }

    /// A fuzz-style run: random bytes never trap and never buffer beyond the limit.
    @Test func randomInputNeverTraps() {
        var random = Xorshift64(seed: 0x5EED_5EED)
        for _ in 0..<500 {
            let length = Int(random.next() % 600)
            var input: [UInt8] = []
            for _ in 0..<length {
                // Mostly reply-like bytes, so that the decoder gets past the first check.
                let pick = random.next() % 10
                switch pick {
                case 0: input.append(UInt8(ascii: "\n"))
                case 1: input.append(UInt8(ascii: "-"))
                case 2...5: input.append(UInt8(ascii: "0") + UInt8(random.next() % 10))
                default: input.append(UInt8(truncatingIfNeeded: random.next()))
                }
            }
            _ = decodeReplies([input])
        }
    }
}

extension Result {
    fileprivate var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
