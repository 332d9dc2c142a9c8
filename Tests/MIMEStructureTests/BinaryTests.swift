import MailTestSupport
import IMAPProtocol
import Testing

@testable import MIMEStructure

@Suite("BINARY and transfer decoding")
struct BinaryTests {
    static let message = [
        "Content-Type: multipart/mixed; boundary=b",
        "",
        "--b",
        "Content-Type: application/octet-stream",
        "Content-Transfer-Encoding: base64",
        "",
        "SGVsbG8s",
        "IHdvcmxkIQ==",
        "--b",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "caf=C3=A9 =",
        "soft",
        "--b",
        "Content-Type: application/x-thing",
        "Content-Transfer-Encoding: x-uuencode",
        "",
        "begin 644 x",
        "--b",
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: 8bit",
        "",
        "plain \u{00FC}",
        "--b",
        "Content-Type: message/rfc822",
        "",
        "Subject: inner",
        "",
        "inner body",
        "--b--",
    ]

    @Test func decodesEachEncoding() throws {
        let parsed = structure(Self.message)
        #expect(try parsed.binaryContents(ofPart: [1]) == bytes("Hello, world!"))
        #expect(try parsed.binarySize(ofPart: [1]) == 13)
        #expect(try parsed.binaryContents(ofPart: [2]) == bytes("café soft"))
        #expect(try parsed.binarySize(ofPart: [2]) == bytes("café soft").count)
        #expect(try parsed.binaryContents(ofPart: [4]) == bytes("plain ü"))
        #expect(try parsed.binaryContents(ofPart: [5]) == bytes("Subject: inner\r\n\r\ninner body"))
        #expect(try parsed.binaryContents(ofPart: [5, 1]) == bytes("inner body"))
        #expect(try parsed.binaryContents(ofPart: []) == parsed.bytes)
        #expect(try parsed.binarySize(ofPart: []) == parsed.bytes.count)
    }

    /// RFC 3516 §4.3: an encoding the server does not know gives NO [UNKNOWN-CTE].
    @Test func unknownEncodingAndMissingPart() {
        let parsed = structure(Self.message)
        #expect(throws: BinarySectionError.unknownContentTransferEncoding("x-uuencode")) {
            try parsed.binaryContents(ofPart: [3])
        }
        #expect(throws: BinarySectionError.unknownContentTransferEncoding("x-uuencode")) {
            try parsed.binarySize(ofPart: [3])
        }
        #expect(throws: BinarySectionError.noSuchPart) { try parsed.binaryContents(ofPart: [9]) }
        #expect(throws: BinarySectionError.noSuchPart) { try parsed.binarySize(ofPart: [1, 1]) }
    }

    // MARK: - base64 (RFC 2045 §6.8)

    static let base64Cases: [(input: String, expected: [UInt8])] = [
        ("", []),
        ("TWFu", bytes("Man")),
        ("TWE=", bytes("Ma")),
        ("TQ==", bytes("M")),
        ("TWE", bytes("Ma")),  // missing padding
        ("TQ", bytes("M")),
        ("T", []),  // a lone sextet carries no octet
        ("SGVs\r\nbG8=", bytes("Hello")),
        ("SGVs!!bG8=\r\n***", bytes("Hello")),  // garbage ignored
        ("S G V s b G 8 =", bytes("Hello")),
        ("TQ==TWE=", bytes("MMa")),  // concatenated blocks
        ("AAEC/w==", [0x00, 0x01, 0x02, 0xFF]),
        ("////", [0xFF, 0xFF, 0xFF]),
        ("====", []),
    ]

    @Test(arguments: BinaryTests.base64Cases.indices)
    func base64(_ index: Int) {
        let (input, expected) = Self.base64Cases[index]
        #expect(ContentTransferEncoding.decodeBase64(bytes(input)) == expected, "\(input)")
    }

    // MARK: - quoted-printable (RFC 2045 §6.7)

    static let quotedPrintableCases: [(input: String, expected: String)] = [
        ("plain", "plain"),
        ("caf=C3=A9", "café"),
        ("caf=c3=a9", "café"),  // lower-case hex
        ("soft=\r\nbreak", "softbreak"),
        ("soft=\nbreak", "softbreak"),
        ("soft=  \r\nbreak", "softbreak"),  // WSP after "=" (rule 5 padding)
        ("trailing   \r\nspace", "trailing\r\nspace"),  // rule 3
        ("trailing\t \nspace", "trailing\nspace"),
        ("kept=20\r\n", "kept \r\n"),  // an encoded space is content
        ("kept=20 \r\n", "kept \r\n"),
        ("end=", "end"),
        ("bad=ZZ", "bad=ZZ"),
        ("bad=4", "bad=4"),
        ("=", ""),
        ("a=3D=3D", "a=="),
        ("last line   ", "last line"),
    ]

    @Test(arguments: BinaryTests.quotedPrintableCases.indices)
    func quotedPrintable(_ index: Int) {
        let (input, expected) = Self.quotedPrintableCases[index]
        let decoded = ContentTransferEncoding.decodeQuotedPrintable(bytes(input)[...])
        #expect(text(decoded) == expected, "\(input.debugDescription)")
    }

    @Test func quotedPrintableKeepsBinaryOctets() {
        #expect(ContentTransferEncoding.decodeQuotedPrintable(bytes("=00=FF=80")[...]) == [0x00, 0xFF, 0x80])
    }

    /// A base64 body full of garbage still decodes without trouble.
    @Test func base64BodyWithGarbage() throws {
        var garbage: [UInt8] = []
        var generator = Xorshift64(seed: 42)
        for _ in 0..<100_000 { garbage.append(UInt8(truncatingIfNeeded: generator.next())) }
        let head = bytes("Content-Transfer-Encoding: base64\r\n\r\n")
        let parsed = MessageStructure(parsing: head + garbage)
        let decoded = try parsed.binaryContents(ofPart: [1])
        #expect(decoded.count <= garbage.count * 3 / 4 + 3)
        #expect(try parsed.binarySize(ofPart: [1]) == decoded.count)
    }
}
