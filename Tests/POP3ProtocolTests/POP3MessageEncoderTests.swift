import MailTestSupport
import NIOCore
import Testing

@testable import POP3Protocol

/// A stored message and what RETR must send after the status line.
struct EncodingFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let expected: String
    let note: String

    init(_ input: String, _ expected: String, _ note: String = "") {
        self.input = Array(input.utf8)
        self.expected = expected
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

/// A stored message, a TOP line count, and what TOP must send after the status line.
struct TopFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let lines: Int
    let expected: String
    let note: String

    init(_ input: String, _ lines: Int, _ expected: String, _ note: String = "") {
        self.input = Array(input.utf8)
        self.lines = lines
        self.expected = expected
        self.note = note
    }

    var testDescription: String { "TOP \(lines) of \(escaped(input))" + (note.isEmpty ? "" : " (\(note))") }
}

private let encodingFixtures: [EncodingFixture] = [
    .init("a\r\nb\r\n", "a\r\nb\r\n.\r\n", "CRLF kept"),
    .init("a\nb\n", "a\r\nb\r\n.\r\n", "bare LF becomes CRLF"),
    .init("a\r\nb\nc\r\n", "a\r\nb\r\nc\r\n.\r\n", "mixed line ends"),
    .init("a\r\nb", "a\r\nb\r\n.\r\n", "no final line end: CRLF added"),
    .init("a", "a\r\n.\r\n", "a single line without line end"),
    .init("", ".\r\n", "an empty message has no lines"),
    .init("\n", "\r\n.\r\n", "one empty line"),
    .init("\r\n\r\n", "\r\n\r\n.\r\n", "two empty lines"),
    .init("a\rb\r\n", "a\rb\r\n.\r\n", "a lone CR is data"),
    .init("a\r", "a\r\r\n.\r\n", "a final lone CR is data, then CRLF"),
    .init("a\r\r\n", "a\r\r\n.\r\n", "CR CR LF: the first CR is data"),
    .init(".a\r\n", "..a\r\n.\r\n", "RFC 1939 §3: byte-stuffing"),
    .init("x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n", "a line holding only '.' cannot end the response"),
    .init("x\n.\ny", "x\r\n..\r\ny\r\n.\r\n", "the same with bare LF"),
    .init("..\r\n...x\n", "...\r\n....x\r\n.\r\n", "one more dot, whatever the count"),
    .init(".", "..\r\n.\r\n", "a message of one dot"),
    .init("a.\r\n .b\r\n", "a.\r\n .b\r\n.\r\n", "dots elsewhere are untouched"),
    .init("x\r\n.\r", "x\r\n..\r\r\n.\r\n", "'.' then a lone CR: stuffed, and not the terminator"),
    .init("Subject: hi\n\n.signature\nlast line", "Subject: hi\r\n\r\n..signature\r\nlast line\r\n.\r\n"),
]

private let topMessage = "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n"

private let topFixtures: [TopFixture] = [
    .init(topMessage, 0, "Subject: x\r\nFrom: y\r\n\r\n.\r\n", "TOP n 0: the headers and the separator"),
    .init(topMessage, 1, "Subject: x\r\nFrom: y\r\n\r\nline1\r\n.\r\n"),
    .init(topMessage, 2, "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\n.\r\n"),
    .init(topMessage, 3, "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n", "exactly the body"),
    .init(topMessage, 100, "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n", "beyond the body"),
    .init(topMessage, Int.max, "Subject: x\r\nFrom: y\r\n\r\nline1\r\nline2\r\nline3\r\n.\r\n"),
    .init(topMessage, -1, "Subject: x\r\nFrom: y\r\n\r\n.\r\n", "a negative count is 0"),
    .init("S: x\n\nbody", 5, "S: x\r\n\r\nbody\r\n.\r\n", "no final line end"),
    .init("S: x\n\nbody", 0, "S: x\r\n\r\n.\r\n"),
    .init("Subject: x\r\nFrom: y\r\n", 3, "Subject: x\r\nFrom: y\r\n.\r\n", "headers only"),
    .init("Subject: x", 0, "Subject: x\r\n.\r\n", "headers only, no line end"),
    .init("Subject: x\r\n\r\n", 2, "Subject: x\r\n\r\n.\r\n", "an empty body"),
    .init("S: x\n\n.dot\nnext\n", 1, "S: x\r\n\r\n..dot\r\n.\r\n", "body lines are stuffed"),
    .init(".S: x\n\nb\n", 0, "..S: x\r\n\r\n.\r\n", "header lines are stuffed"),
    .init("S\n\n\n\nb\n", 2, "S\r\n\r\n\r\n\r\n.\r\n", "empty body lines count"),
    .init("S: x\n\nb1\n\nb3\n", 3, "S: x\r\n\r\nb1\r\n\r\nb3\r\n.\r\n", "only the first empty line separates"),
    .init("S: x\r\n\r\nb\rc\r\nd\r\n", 1, "S: x\r\n\r\nb\rc\r\n.\r\n", "a lone CR does not end a line"),
    .init("", 5, ".\r\n", "an empty message"),
    .init("\n", 0, "\r\n.\r\n", "only the separator"),
]

/// `bytes` with every bare LF made CRLF and a final CRLF added when missing: the message
/// as the client receives it.
private func normalized(_ bytes: [UInt8]) -> [UInt8] {
    var result: [UInt8] = []
    var previous: UInt8 = 0
    for byte in bytes {
        if byte == 10 && previous != 13 { result.append(13) }
        result.append(byte)
        previous = byte
    }
    if let last = bytes.last, last != 10 { result += [13, 10] }
    return result
}

private func encoded(_ message: [UInt8]) -> [UInt8] {
    var buffer = ByteBuffer()
    POP3MessageEncoder.encode(message, into: &buffer)
    return Array(buffer.readableBytesView)
}

private func encodedTop(_ message: [UInt8], lines: Int) -> [UInt8] {
    var buffer = ByteBuffer()
    POP3MessageEncoder.encodeTop(message, bodyLines: lines, into: &buffer)
    return Array(buffer.readableBytesView)
}

@Suite("POP3 message encoder")
struct POP3MessageEncoderTests {
    @Test(arguments: encodingFixtures)
    func encodesForRETR(_ fixture: EncodingFixture) {
        let output = encoded(fixture.input)
        #expect(String(decoding: output, as: UTF8.self) == fixture.expected)
    }

    /// LIST's size is what the client holds after undoing the stuffing: the message with
    /// CRLF line ends, without the terminator.
    @Test(arguments: encodingFixtures)
    func transmittedSizeMatchesTheEncoding(_ fixture: EncodingFixture) throws {
        let output = encoded(fixture.input)
        let received = try #require(clientView(output))
        #expect(received == normalized(fixture.input))
        #expect(POP3MessageEncoder.transmittedSize(fixture.input) == received.count)
        let stuffedDots = output.count - 3 - received.count
        #expect(stuffedDots >= 0)
    }

    @Test(arguments: topFixtures)
    func encodesForTOP(_ fixture: TopFixture) {
        let output = encodedTop(fixture.input, lines: fixture.lines)
        #expect(String(decoding: output, as: UTF8.self) == fixture.expected)
    }

    @Test func transmittedSizes() {
        #expect(POP3MessageEncoder.transmittedSize([]) == 0)
        #expect(POP3MessageEncoder.transmittedSize(bytes("a\r\n")) == 3)
        #expect(POP3MessageEncoder.transmittedSize(bytes("a\n")) == 3)
        #expect(POP3MessageEncoder.transmittedSize(bytes("a")) == 3)
        #expect(POP3MessageEncoder.transmittedSize(bytes("\n\n")) == 4)
        #expect(POP3MessageEncoder.transmittedSize(bytes(".\r\n")) == 3, "stuffing is not counted")
        #expect(POP3MessageEncoder.transmittedSize(message1) == 120)
        #expect(POP3MessageEncoder.transmittedSize(message2) == 200)
    }

    /// Writes after what the buffer already holds (the status line).
    @Test func appendsToTheBuffer() {
        var buffer = ByteBuffer(string: "+OK 3 octets\r\n")
        POP3MessageEncoder.encode(bytes("a\n"), into: &buffer)
        #expect(String(buffer: buffer) == "+OK 3 octets\r\na\r\n.\r\n")
    }

    /// Random messages built from the troublesome bytes: the response is always properly
    /// terminated, has no bare LF, never ends early, and gives back the message.
    @Test func randomMessagesRoundTrip() throws {
        var generator = Xorshift64(seed: 1939)
        let alphabet: [UInt8] = bytes("a.\r\n \n.")
        for _ in 0..<5000 {
            let count = generator.index(below: 60)
            let message = (0..<count).map { _ in alphabet[generator.index(below: alphabet.count)] }
            let output = encoded(message)
            #expect(output.suffix(3).elementsEqual(bytes(".\r\n")))
            for (index, byte) in output.enumerated() where byte == 10 {
                let isAfterCR = index > 0 && output[index - 1] == 13
                #expect(isAfterCR, "bare LF in the output of \(escaped(message))")
            }
            let received = try #require(clientView(output), "not terminated: \(escaped(message))")
            #expect(received == normalized(message), "\(escaped(message))")
            #expect(POP3MessageEncoder.transmittedSize(message) == received.count)

            // TOP with any count is a prefix of RETR, line by line.
            let lines = generator.index(below: 5)
            let top = encodedTop(message, lines: lines)
            let topReceived = try #require(clientView(top), "TOP not terminated: \(escaped(message))")
            #expect(received.starts(with: topReceived))
        }
    }
}
