import NIOCore
import Testing

@testable import SMTPProtocol

@Suite("DATA encoder (dot-stuffing)")
struct DataEncoderTests {
    static func encoded(_ text: String) -> String { String(buffer: DataEncoder.encode(Array(text.utf8))) }

    @Test(arguments: [
        // RFC 5321 §4.5.2: a leading period is doubled.
        ("Subject: x\r\n\r\n.hidden\r\nend\r\n", "Subject: x\r\n\r\n..hidden\r\nend\r\n.\r\n"),
        (".\r\n", "..\r\n.\r\n"),
        ("..\r\n", "...\r\n.\r\n"),
        ("a.b\r\n.", "a.b\r\n..\r\n.\r\n"),
        // A message without a final line end gets one.
        ("no end", "no end\r\n.\r\n"),
        ("", ".\r\n"),
        // Bare LF and bare CR become CRLF: no smuggled end of data downstream.
        ("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\r.\rb\r", "a\r\n..\r\nb\r\n.\r\n"),
        ("a\r\r\nb\r\n", "a\r\n\r\nb\r\n.\r\n"),
        ("x\r\n.\r\n", "x\r\n..\r\n.\r\n"),
    ])
    func stuffs(_ input: String, _ expected: String) {
        #expect(Self.encoded(input) == expected)
    }

    /// The server's DATA decoder gets the original back (for CRLF messages).
    @Test(arguments: [
        "Subject: x\r\n\r\n.hidden\r\n..two\r\nend\r\n", ".\r\n", "plain\r\n", "\r\n\r\n.\r\n.\r\n",
    ])
    func roundTripsThroughTheServersDecoder(_ message: String) {
        var decoder = DataDecoder(maximumSize: 1 << 20, bareLineEndings: .reject)
        var buffer = DataEncoder.encode(Array(message.utf8))
        #expect(decoder.decode(&buffer) == .complete)
        #expect(String(buffer: decoder.message) == message)
        #expect(buffer.readableBytes == 0)
    }
}
