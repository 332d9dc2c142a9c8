import MailTestSupport
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

    /// The run-copying encoder against the byte-at-a-time rule it implements, on
    /// random mixes of CR, LF, "." and text, contiguous and not.
    @Test func matchesTheByteAtATimeRule() {
        var random = Xorshift64(seed: 5321)
        let alphabet: [UInt8] = [13, 10, 46, 97, 46, 13, 10]
        for _ in 0..<2000 {
            let count = Int(random.next() % 40)
            let message = (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            let expected = Self.reference(message)
            #expect(Array(DataEncoder.encode(message).readableBytesView) == expected, "\(message)")
            #expect(Array(DataEncoder.encode(message.lazy.map { $0 }).readableBytesView) == expected)
        }
    }

    /// RFC 5321 §4.5.2 one byte at a time, bare CR and LF made CRLF.
    static func reference(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var atLineStart = true
        var previousWasCR = false
        for byte in message {
            if byte == 10 {
                if !previousWasCR { out.append(13) }
                out.append(10)
                atLineStart = true
                previousWasCR = false
                continue
            }
            if byte == 13 {
                if previousWasCR { out.append(10) }
                out.append(13)
                previousWasCR = true
                continue
            }
            if previousWasCR {
                out.append(10)
                atLineStart = true
                previousWasCR = false
            }
            if atLineStart && byte == 46 { out.append(46) }
            out.append(byte)
            atLineStart = false
        }
        if previousWasCR {
            out.append(10)
            atLineStart = true
        }
        if !atLineStart { out += [13, 10] }
        return out + [46, 13, 10]
    }
}
