import IMAPProtocol
import Testing

@testable import MIMEStructure

@Suite("MIME structure")
struct MessageStructureTests {
    /// RFC 2046 §5.1.1: the "simple boundary" example, with preamble, an implicitly typed
    /// part, a part that ends with a line break, and an epilogue.
    static let rfc2046Example = [
        "From: Nathaniel Borenstein <nsb@bellcore.com>",
        "To: Ned Freed <ned@innosoft.com>",
        "Date: Sun, 21 Mar 1993 23:56:48 -0800 (PST)",
        "Subject: Sample message",
        "MIME-Version: 1.0",
        "Content-type: multipart/mixed; boundary=\"simple boundary\"",
        "",
        "This is the preamble.  It is to be ignored, though it",
        "is a handy place for composition agents to include an",
        "explanatory note to non-MIME conformant readers.",
        "",
        "--simple boundary",
        "",
        "This is implicitly typed plain US-ASCII text.",
        "It does NOT end with a linebreak.",
        "--simple boundary",
        "Content-type: text/plain; charset=us-ascii",
        "",
        "This is explicitly typed plain US-ASCII text.",
        "It DOES end with a linebreak.",
        "",
        "--simple boundary--",
        "",
        "This is the epilogue.  It is also to be ignored.",
    ]

    @Test func rfc2046SimpleBoundaryExample() {
        let message = structure(Self.rfc2046Example)
        #expect(!message.isTruncated)
        #expect(message.root.contentType.type == "multipart")
        #expect(message.root.contentType.subtype == "mixed")
        #expect(message.root.contentType.boundary == bytes("simple boundary"))
        let parts = message.root.children
        #expect(parts.count == 2)
        guard parts.count == 2 else { return }

        let first = "This is implicitly typed plain US-ASCII text.\r\nIt does NOT end with a linebreak."
        #expect(text(message.octets(in: parts[0].bodyRange)) == first)
        #expect(parts[0].contentType == .defaultText)
        #expect(parts[0].header.fields.isEmpty)
        #expect(parts[0].header.hasBlankLine)
        #expect(parts[0].lineCount == 2)

        let second = "This is explicitly typed plain US-ASCII text.\r\nIt DOES end with a linebreak.\r\n"
        #expect(text(message.octets(in: parts[1].bodyRange)) == second)
        #expect(parts[1].contentType.charset == "us-ascii")
        #expect(parts[1].lineCount == 2)

        let body = message.bodyStructureString(extensible: false)
        #expect(
            body == "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" \(first.utf8.count) 2)"
                + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" \(second.utf8.count) 2) \"MIXED\")")
        let structureWithExtensions = message.bodyStructureString(extensible: true)
        #expect(
            structureWithExtensions
                == "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" \(first.utf8.count) 2 NIL NIL NIL NIL)"
                + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"us-ascii\") NIL NIL \"7BIT\" \(second.utf8.count) 2 NIL NIL NIL NIL)"
                + " \"MIXED\" (\"BOUNDARY\" \"simple boundary\") NIL NIL NIL)")
    }

    /// RFC 2049 Appendix A: the complex multipart example (nested multipart/parallel,
    /// text/enriched, an encapsulated message with a quoted-printable body).
    static let rfc2049Example = [
        "MIME-Version: 1.0",
        "From: Nathaniel Borenstein <nsb@nsb.fv.com>",
        "To: Ned Freed <ned@innosoft.com>",
        "Date: Fri, 07 Oct 1994 16:15:05 -0700 (PDT)",
        "Subject: A multipart example",
        "Content-Type: multipart/mixed;",
        "              boundary=unique-boundary-1",
        "",
        "This is the preamble area of a multipart message.",
        "Mail readers that understand multipart format",
        "should ignore this preamble.",
        "",
        "If you are reading this text, you might want to",
        "consider changing to a mail reader that understands",
        "how to properly display multipart messages.",
        "",
        "--unique-boundary-1",
        "",
        "  ... Some text appears here ...",
        "",
        "[Note that the blank between the boundary and the start",
        " of the text in this part means no header fields were",
        " given and this is text in the US-ASCII character set.",
        " It could have been done with explicit typing as in the",
        " next part.]",
        "",
        "--unique-boundary-1",
        "Content-type: text/plain; charset=US-ASCII",
        "",
        "This could have been part of the previous part, but",
        "illustrates explicit versus implicit typing of body",
        "parts.",
        "",
        "--unique-boundary-1",
        "Content-Type: multipart/parallel; boundary=unique-boundary-2",
        "",
        "--unique-boundary-2",
        "Content-Type: audio/basic",
        "Content-Transfer-Encoding: base64",
        "",
        "  ... base64-encoded 8000 Hz single-channel",
        "      mu-law-format audio data goes here ...",
        "",
        "--unique-boundary-2",
        "Content-Type: image/jpeg",
        "Content-Transfer-Encoding: base64",
        "",
        "  ... base64-encoded image data goes here ...",
        "",
        "--unique-boundary-2--",
        "",
        "--unique-boundary-1",
        "Content-type: text/enriched",
        "",
        "This is <bold><italic>enriched.</italic></bold>",
        "<smaller>as defined in RFC 1896</smaller>",
        "",
        "Isn't it",
        "<bigger><bigger>cool?</bigger></bigger>",
        "",
        "--unique-boundary-1",
        "Content-Type: message/rfc822",
        "",
        "From: (mailbox in US-ASCII)",
        "To: (address in US-ASCII)",
        "Subject: (subject in US-ASCII)",
        "Content-Type: Text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: Quoted-printable",
        "",
        "  ... Additional text in ISO-8859-1 goes here ...",
        "",
        "--unique-boundary-1--",
    ]

    @Test func rfc2049ComplexExample() {
        let message = structure(Self.rfc2049Example)
        #expect(!message.isTruncated)
        let parts = message.root.children
        #expect(parts.map { "\($0.contentType.type)/\($0.contentType.subtype)" } == [
            "text/plain", "text/plain", "multipart/parallel", "text/enriched", "message/rfc822",
        ])
        guard parts.count == 5 else { return }
        #expect(parts[2].children.map(\.contentType.subtype) == ["basic", "jpeg"])
        #expect(parts[2].children.map(\.contentTransferEncoding) == [.base64, .base64])
        #expect(section(message, [3, 2]) == "  ... base64-encoded image data goes here ...\r\n")

        let inner = parts[4].encapsulatedMessage
        #expect(inner?.contentType.type == "text")
        #expect(inner?.contentType.charset == "ISO-8859-1")
        #expect(inner?.contentTransferEncoding == .quotedPrintable)
        #expect(section(message, [5, 1]) == "  ... Additional text in ISO-8859-1 goes here ...\r\n")
        #expect(section(message, [5], .header)?.hasPrefix("From: (mailbox in US-ASCII)\r\n") == true)

        // The encapsulated message's envelope: addresses that are only comments give NIL.
        let structureText = message.bodyStructureString(extensible: false)
        #expect(
            structureText.contains(
                "(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" \(parts[4].size) (NIL \"(subject in US-ASCII)\" NIL NIL NIL NIL NIL NIL NIL NIL)"
            ))
        #expect(structureText.hasSuffix(" \"MIXED\")"))
        #expect(structureText.contains("\"PARALLEL\")"))
    }

    /// RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter; a part may
    /// end without a close delimiter (tolerated).
    @Test func missingCloseDelimiterIsTolerated() {
        let message = structure([
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "",
            "one",
            "--b",
            "",
            "two",
        ])
        #expect(message.root.children.count == 2)
        #expect(section(message, [1]) == "one")
        #expect(section(message, [2]) == "two\r\n")
    }

    @Test func bareLineFeedsAreTolerated() {
        let message = MessageStructure(
            parsing: bytes("Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nhello\nworld\n--b--\n"))
        #expect(message.root.children.count == 1)
        #expect(section(message, [1]) == "hello\nworld")
        #expect(message.root.children.first?.lineCount == 2)
        #expect(text(message.header.value(named: "subject")) == "lf")
    }

    /// A message without any header is all body; without MIME fields it is text/plain.
    @Test func messageWithoutHeaderIsAllBody() {
        let message = MessageStructure(parsing: bytes("just some text\r\nand more\r\n"))
        #expect(message.root.headerRange == 0..<0)
        #expect(message.root.bodyRange == 0..<message.bytes.count)
        #expect(message.root.contentType == .defaultText)
        #expect(message.root.lineCount == 2)
    }

    /// A line that is not a header field ends the header without a blank line.
    @Test func missingBlankLineEndsHeaderAtFirstNonFieldLine() {
        let message = structure([
            "Subject: no separator",
            "This line is body.",
            "So is this one.",
        ])
        #expect(message.header.fields.count == 1)
        #expect(!message.header.hasBlankLine)
        #expect(text(message.octets(in: message.root.bodyRange)) == "This line is body.\r\nSo is this one.\r\n")
    }

    /// RFC 2046 §5.1.5: in multipart/digest the default type is message/rfc822.
    @Test func digestPartsDefaultToMessage() {
        let message = structure([
            "Content-Type: multipart/digest; boundary=d",
            "",
            "--d",
            "",
            "Subject: first digest entry",
            "",
            "body one",
            "--d",
            "Content-Type: text/plain",
            "",
            "not a message",
            "--d--",
        ])
        let parts = message.root.children
        #expect(parts.count == 2)
        #expect(parts.first?.contentType == .defaultDigestPart)
        #expect(text(parts.first?.encapsulatedMessage?.header.value(named: "Subject")) == "first digest entry")
        #expect(section(message, [1, 1]) == "body one")
        #expect(parts.last?.contentType.type == "text")
    }

    /// Boundaries that are prefixes of one another: the longest match wins.
    @Test func longestBoundaryWins() {
        let message = structure([
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: multipart/alternative; boundary=bb",
            "",
            "--bb",
            "",
            "inner one",
            "--bb",
            "",
            "inner two",
            "--bb--",
            "--b",
            "",
            "outer two",
            "--b--",
        ])
        #expect(message.root.children.count == 2)
        #expect(message.root.children.first?.children.count == 2)
        #expect(section(message, [1, 2]) == "inner two")
        #expect(section(message, [2]) == "outer two")
    }

    /// A message/rfc822 part with a transfer encoding is not parsed as a message (RFC
    /// 2045 §6.4 forbids it) and is described as APPLICATION/OCTET-STREAM.
    @Test func encodedMessagePartIsOpaque() {
        let message = structure([
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: message/rfc822",
            "Content-Transfer-Encoding: base64",
            "",
            "U3ViamVjdDogaGkNCg0KYm9keQ==",
            "--b--",
        ])
        let part = message.root.children.first
        #expect(part?.isOpaque == true)
        #expect(part?.encapsulatedMessage == nil)
        #expect(
            message.bodyStructureString(extensible: false)
                == "((\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 28) \"MIXED\")")
    }

    /// A multipart without a boundary parameter is one opaque leaf.
    @Test func multipartWithoutBoundaryIsOpaque() {
        let message = structure(["Content-Type: multipart/mixed", "", "--x", "", "text", "--x--"])
        #expect(message.root.isOpaque)
        #expect(message.root.children.isEmpty)
        #expect(message.bodyStructureString(extensible: false).hasPrefix("(\"APPLICATION\" \"OCTET-STREAM\" "))
    }

    /// A multipart whose boundary never appears has no parts; BODYSTRUCTURE still needs
    /// one (`1*body`).
    @Test func multipartWithoutPartsGetsAnEmptyTextPart() {
        let message = structure(["Content-Type: multipart/mixed; boundary=never", "", "only a preamble"])
        #expect(message.root.children.isEmpty)
        #expect(
            message.bodyStructureString(extensible: false)
                == "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0) \"MIXED\")")
        #expect(message.part(at: [1]) == nil)
    }

    // MARK: - MIME fields

    /// RFC 2231 §3: continuations; §4: charset and language; §4.1: both.
    @Test func rfc2231Parameters() throws {
        let external = try #require(
            ContentType(
                fieldValue: bytes(
                    "message/external-body; access-type=URL; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\""
                )))
        #expect(external.parameter(named: "url")?.value == "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        #expect(external.parameter(named: "url")?.isExtended == false)
        #expect(external.parameter(named: "access-type")?.value == "URL")

        let single = try #require(
            ContentType(fieldValue: bytes("application/x-stuff; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A")))
        let title = single.parameter(named: "title")
        #expect(title?.value == "This is ***fun***")
        #expect(title?.charset == "us-ascii")
        #expect(title?.language == "en-us")

        let combined = try #require(
            ContentType(
                fieldValue: bytes(
                    "application/x-stuff; title*0*=us-ascii'en'This%20is%20even%20more%20; title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\""
                )))
        #expect(combined.parameter(named: "title")?.value == "This is even more ***fun*** isn't it!")
        #expect(combined.parameter(named: "title")?.language == "en")
    }

    @Test func rfc2231FilenamesInCharsets() throws {
        let utf8 = try #require(ContentDisposition(fieldValue: bytes("attachment; filename*=UTF-8''na%C3%AFve.txt")))
        #expect(utf8.filename == "naïve.txt")
        let latin1 = try #require(
            ContentDisposition(fieldValue: bytes("attachment; filename*=iso-8859-1''caf%E9.txt; filename=\"cafe.txt\"")))
        #expect(latin1.filename == "café.txt", "the RFC 2231 form wins over the plain one")
        #expect(latin1.parameters.count == 1)

        // Out of order sections are put in order; a missing section ends the value.
        let shuffled = try #require(
            ContentDisposition(fieldValue: bytes("inline; filename*1=\"two\"; filename*0=\"one-\"; filename*3=\"four\"")))
        #expect(shuffled.filename == "one-two")
    }

    @Test func contentTypeIsLenient() throws {
        let unquoted = try #require(ContentType(fieldValue: bytes("Multipart/Mixed; boundary=----=_Part_1_2.3")))
        #expect(unquoted.type == "multipart")
        #expect(unquoted.boundary == bytes("----=_Part_1_2.3"))
        let comments = try #require(ContentType(fieldValue: bytes("text/plain (plain text); charset=\"utf-8\" (really)")))
        #expect(comments.charset == "utf-8")
        let junk = try #require(ContentType(fieldValue: bytes("text/html; ; =x; charset; foo=\"unterminated")))
        #expect(junk.subtype == "html")
        #expect(junk.parameter(named: "foo")?.value == "unterminated")
        #expect(ContentType(fieldValue: bytes("text")) == nil)
        #expect(ContentType(fieldValue: bytes("/plain")) == nil)
        #expect(ContentType(fieldValue: []) == nil)
    }

    /// An invalid Content-Type is text/plain; charset=us-ascii (RFC 2045 §5.2).
    @Test func invalidContentTypeDefaultsToText() {
        let message = structure(["Content-Type: garbage", "", "body"])
        #expect(message.root.contentType == .defaultText)
    }

    @Test func transferEncodingNames() {
        #expect(ContentTransferEncoding(fieldValue: nil) == .sevenBit)
        #expect(ContentTransferEncoding(fieldValue: bytes(" Base64 ")) == .base64)
        #expect(ContentTransferEncoding(fieldValue: bytes("QUOTED-PRINTABLE (qp)")) == .quotedPrintable)
        #expect(ContentTransferEncoding(fieldValue: bytes("x-uuencode")) == .other("x-uuencode"))
        #expect(ContentTransferEncoding(fieldValue: bytes("")) == .sevenBit)
        #expect(ContentTransferEncoding.other("x-uuencode").imapName == "X-UUENCODE")
    }

    @Test func allPartsAreInDocumentOrder() {
        let message = structure(Self.rfc2049Example)
        let types = message.allParts.map { "\($0.contentType.type)/\($0.contentType.subtype)" }
        #expect(types == [
            "multipart/mixed", "text/plain", "text/plain", "multipart/parallel", "audio/basic", "image/jpeg",
            "text/enriched", "message/rfc822", "text/plain",
        ])
        checkInvariants(message)
    }
}
