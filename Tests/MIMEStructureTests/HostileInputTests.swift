import MailTestSupport
import IMAPProtocol
import Testing

@testable import MIMEStructure

/// Input built to hurt: deep nesting, boundaries that never end, huge headers, NUL and
/// invalid UTF-8, random bytes. Every case must parse without trapping, keep the
/// structure's invariants, stay within the limits, and finish in bounded time.
@Suite("MIME hostile input")
struct HostileInputTests {
    /// Everything a server would do with a message, so that every path runs.
    static func exercise(_ message: MessageStructure) {
        checkInvariants(message)
        _ = message.bodyStructure(extensible: true)
        _ = message.bodyStructure(extensible: false, allowUTF8: true)
        _ = message.encodedEnvelope()
        _ = message.searchableHeaderText()
        _ = message.searchableBodyText()
        let paths: [[UInt32]] = [[], [1], [2], [1, 1], [1, 2], [2, 1], [1, 1, 1], [3, 2, 1], [UInt32.max]]
        for path in paths {
            for kind: SectionSpecifier.Kind in [
                .complete, .header, .text, .headerFields(["Subject", "From"]), .headerFieldsNot(["To"]),
            ] {
                _ = message.contents(of: SectionSpecifier(part: path, kind: kind))
            }
            if !path.isEmpty { _ = message.contents(of: SectionSpecifier(part: path, kind: .mime)) }
            _ = try? message.binaryContents(ofPart: path)
            _ = try? message.binarySize(ofPart: path)
        }
    }

    /// 10,000 nested multiparts: parsing stops nesting at `maximumDepth` and keeps the
    /// rest as one opaque leaf.
    @Test func tenThousandNestedMultiparts() {
        var text = ""
        for level in 0..<10_000 {
            // "b5." is no prefix of "b50.", so only the right boundary matches each line.
            text += "Content-Type: multipart/mixed; boundary=\"b\(level).\"\r\n\r\n--b\(level).\r\n"
        }
        text += "Content-Type: text/plain\r\n\r\ninnermost\r\n"
        for level in (0..<10_000).reversed() {
            text += "--b\(level).--\r\n"
        }
        let message = MessageStructure(parsing: bytes(text))
        #expect(message.isTruncated)
        var depth = 0
        var part = message.root
        while let child = part.children.first {
            depth += 1
            part = child
        }
        #expect(depth == message.limits.maximumDepth)
        #expect(part.isOpaque)
        Self.exercise(message)
        #expect(message.bodyStructureString(extensible: true).contains("\"APPLICATION\" \"OCTET-STREAM\""))
    }

    /// 10,000 nested message/rfc822 parts.
    @Test func tenThousandNestedMessages() {
        let text = String(repeating: "Content-Type: message/rfc822\r\n\r\n", count: 10_000) + "Subject: deep\r\n\r\nbody\r\n"
        let message = MessageStructure(parsing: bytes(text))
        #expect(message.isTruncated)
        Self.exercise(message)
    }

    /// A boundary that never ends, over many lines that look almost like one.
    @Test func boundaryThatNeverEnds() {
        var text = "Content-Type: multipart/mixed; boundary=endless\r\n\r\n--endless\r\n\r\n"
        for index in 0..<20_000 {
            text += index % 2 == 0 ? "--endles\r\n" : "--endlesS-\(index)\r\n"
        }
        let message = MessageStructure(parsing: bytes(text))
        #expect(message.root.children.count == 1)
        Self.exercise(message)
    }

    /// Many parts: the part limit stops adding parts.
    @Test func partLimit() {
        var text = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
        for index in 0..<500 { text += "--b\r\n\r\npart \(index)\r\n" }
        text += "--b--\r\n"
        let message = MessageStructure(parsing: bytes(text), limits: MIMELimits(maximumParts: 100))
        #expect(message.root.children.count == 99)
        #expect(message.isTruncated)
        Self.exercise(message)
    }

    /// A header of 2 MB, as one line and as many lines: it is cut at 1 MiB and the rest
    /// is body.
    @Test func twoMegabyteHeaders() {
        let longLine = "Subject: " + String(repeating: "a", count: 2_000_000) + "\r\n\r\nbody\r\n"
        let oneLine = MessageStructure(parsing: bytes(longLine))
        #expect(oneLine.root.headerRange.count <= 1024 * 1024)
        #expect(oneLine.isTruncated)
        Self.exercise(oneLine)

        let manyLines = String(repeating: "X-Filler: 0123456789abcdef\r\n", count: 80_000) + "\r\nbody\r\n"
        let many = MessageStructure(parsing: bytes(manyLines))
        #expect(many.root.headerRange.count <= 1024 * 1024)
        #expect(many.header.fields.count <= 10_000)
        #expect(many.isTruncated)
        Self.exercise(many)

        let folded = "Subject: x\r\n" + String(repeating: " folded\r\n", count: 200_000) + "\r\nbody"
        let foldedMessage = MessageStructure(parsing: bytes(folded))
        #expect(foldedMessage.root.headerRange.count <= 1024 * 1024)
        Self.exercise(foldedMessage)
    }

    @Test func nulAndInvalidUTF8() {
        var raw = bytes("Subject: ")
        raw += [0x00, 0xFF, 0xFE, 0xC3, 0x28, 0x00]
        raw += bytes("\r\nFrom: ")
        raw += [0xE2, 0x82, 0x00, 0x40, 0xF0]
        raw += bytes("\r\nContent-Type: text/plain; charset=\"")
        raw += [0xFF, 0x00]
        raw += bytes("\"\r\n\r\n")
        raw += [0x00, 0x00, 0xFF, 0x0D, 0x0D, 0x0A, 0x00]
        let message = MessageStructure(parsing: raw)
        #expect(!message.encodedEnvelope(allowUTF8: true).contains(0))
        #expect(!message.bodyStructure(extensible: true).contains(0))
        Self.exercise(message)
    }

    @Test func degenerateInputs() {
        let inputs: [[UInt8]] = [
            [], [0x0A], [0x0D], [0x0D, 0x0A], bytes("\r\n\r\n"), bytes(":"), bytes("--"), bytes("-- \r\n--\r\n"),
            bytes("Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n"),
            bytes("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a"),
            bytes("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a--"),
            bytes("Content-Type: multipart/mixed; boundary=a\r\n--a\r\n--a\r\n--a--\r\n"),
            bytes("Content-Type: message/rfc822\r\n\r\n"), bytes("Content-Type: message/rfc822"),
            bytes("Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n--d\r\n\r\n--d--"),
            bytes("Content-Type: text/plain; charset*0*=''%; charset*9999*=x; charset*=%%%"),
            bytes("Content-Type: text/plain; a*=\"'\"; b*0*=utf-8'; c*00001=y\r\n\r\n"),
            Array(repeating: 0x0A, count: 10_000), Array(repeating: UInt8(ascii: "-"), count: 10_000),
            Array(repeating: 0x00, count: 1000),
        ]
        for input in inputs {
            Self.exercise(MessageStructure(parsing: input))
        }
    }

    /// Seeded random messages built from pieces that steer the parser into its corners,
    /// and plain random bytes.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func randomMessages(seed: UInt64) {
        var generator = Xorshift64(seed: seed)
        let pieceTexts: [String] = [
            "\r\n", "\n", "\r", "\r\n\r\n", "--a\r\n", "--a--\r\n", "--b\r\n", "--b--", "--", "-",
            "Content-Type: multipart/mixed; boundary=a\r\n", "Content-Type: multipart/digest; boundary=b\r\n",
            "Content-Type: message/rfc822\r\n", "Content-Type: text/plain; charset=iso-8859-1\r\n",
            "Content-Transfer-Encoding: base64\r\n", "Content-Transfer-Encoding: quoted-printable\r\n",
            "Content-Transfer-Encoding: x-foo\r\n", "Subject: =?utf-8?q?caf=C3=A9?= =?", "From: a <b@c>, d:e;",
            "To: \"unterminated", "Cc: (comment (nested", " folded", ":", "=?", "?=", "=", "=0", "=\r\n",
            "QUJD", "====", "<", ">", "@", ",", ";", "\"", "(", ")", "[", "]", "\\", "text ", "\u{00E9}",
        ]
        let pieces = pieceTexts.map { Array($0.utf8) }
        for _ in 0..<40 {
            var message: [UInt8] = []
            let length = generator.index(below: 200)
            for _ in 0..<length {
                if generator.index(below: 8) == 0 {
                    message.append(UInt8(truncatingIfNeeded: generator.next()))
                } else {
                    message += pieces[generator.index(below: pieces.count)]
                }
            }
            Self.exercise(MessageStructure(parsing: message))
        }
        for _ in 0..<10 {
            let length = generator.index(below: 4096)
            var random: [UInt8] = []
            random.reserveCapacity(length)
            for _ in 0..<length { random.append(UInt8(truncatingIfNeeded: generator.next())) }
            Self.exercise(MessageStructure(parsing: random))
            _ = EncodedWord.decode(random)
            _ = Envelope.addresses(in: random)
            _ = ContentTransferEncoding.decodeQuotedPrintable(random[...])
            _ = ContentTransferEncoding.decodeBase64(random)
        }
    }

    /// Deeply nested comments and quoted strings in address fields are counted, not
    /// recursed into.
    @Test func deeplyNestedComments() {
        let value = String(repeating: "(", count: 100_000) + "a@b" + String(repeating: ")", count: 100_000)
        #expect(Envelope.addresses(in: bytes(value)).isEmpty)
        let contentType = "text/plain; " + String(repeating: "(", count: 100_000) + "charset=x"
        #expect(ContentType(fieldValue: bytes(contentType))?.charset == nil)
        let manyAddresses = String(repeating: "a@b.example, ", count: 20_000)
        #expect(Envelope.addresses(in: bytes(manyAddresses)).count == MIMELimits().maximumAddresses)
    }
}
