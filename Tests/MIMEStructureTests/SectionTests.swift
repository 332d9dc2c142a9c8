import IMAPProtocol
import Testing

@testable import MIMEStructure

@Suite("BODY[section] resolution")
struct SectionTests {
    /// The structure of RFC 9051 §6.4.5's numbering example: multipart/mixed holding
    /// text, application, a message/rfc822 with a multipart body, and a multipart with an
    /// image and a message/rfc822 whose body nests a multipart/alternative.
    static let numberingExample = [
        "Subject: numbering",
        "Content-Type: multipart/mixed; boundary=outer",
        "",
        "preamble",
        "--outer",
        "Content-Type: text/plain",
        "",
        "part 1",
        "--outer",
        "Content-Type: application/octet-stream",
        "",
        "part 2",
        "--outer",
        "Content-Type: message/rfc822",
        "",
        "Subject: part 3",
        "Content-Type: multipart/mixed; boundary=three",
        "",
        "--three",
        "Content-Type: text/plain",
        "",
        "part 3.1",
        "--three",
        "Content-Type: application/octet-stream",
        "",
        "part 3.2",
        "--three--",
        "--outer",
        "Content-Type: multipart/mixed; boundary=four",
        "",
        "--four",
        "Content-Type: image/gif",
        "",
        "part 4.1",
        "--four",
        "Content-Type: message/rfc822",
        "",
        "Subject: part 4.2",
        "Content-Type: multipart/mixed; boundary=inner42",
        "",
        "--inner42",
        "Content-Type: text/plain",
        "",
        "part 4.2.1",
        "--inner42",
        "Content-Type: multipart/alternative; boundary=alt",
        "",
        "--alt",
        "Content-Type: text/plain",
        "",
        "part 4.2.2.1",
        "--alt",
        "Content-Type: text/richtext",
        "",
        "part 4.2.2.2",
        "--alt--",
        "--inner42--",
        "--four--",
        "--outer--",
        "epilogue",
    ]

    static let numbered: [(part: [UInt32], kind: SectionSpecifier.Kind, expected: String?)] = [
        ([1], .complete, "part 1"),
        ([2], .complete, "part 2"),
        ([3, 1], .complete, "part 3.1"),
        ([3, 2], .complete, "part 3.2"),
        ([3], .header, "Subject: part 3\r\nContent-Type: multipart/mixed; boundary=three\r\n\r\n"),
        ([3], .mime, "Content-Type: message/rfc822\r\n\r\n"),
        ([4, 1], .complete, "part 4.1"),
        ([4, 1], .mime, "Content-Type: image/gif\r\n\r\n"),
        ([4, 2], .header, "Subject: part 4.2\r\nContent-Type: multipart/mixed; boundary=inner42\r\n\r\n"),
        ([4, 2, 1], .complete, "part 4.2.1"),
        ([4, 2, 2, 1], .complete, "part 4.2.2.1"),
        ([4, 2, 2, 2], .complete, "part 4.2.2.2"),
        ([4, 2, 2, 2], .mime, "Content-Type: text/richtext\r\n\r\n"),
        ([4, 2, 2], .mime, "Content-Type: multipart/alternative; boundary=alt\r\n\r\n"),
        // Sections that do not exist.
        ([5], .complete, nil),
        ([0], .complete, nil),
        ([1, 1], .complete, nil),
        ([1], .header, nil),
        ([1], .text, nil),
        ([4], .header, nil),
        ([4, 3], .complete, nil),
        ([], .mime, nil),
    ]

    @Test(arguments: SectionTests.numbered.indices)
    func rfc9051PartNumbering(_ index: Int) {
        let message = structure(Self.numberingExample)
        let (part, kind, expected) = Self.numbered[index]
        #expect(section(message, part, kind) == expected, "BODY[\(part) \(kind)]")
    }

    @Test func wholeSectionsOfNestedMessages() {
        let message = structure(Self.numberingExample)
        let three = section(message, [3])
        #expect(three?.hasPrefix("Subject: part 3\r\n") == true)
        #expect(three?.hasSuffix("part 3.2\r\n--three--") == true)
        let threeText = section(message, [3], .text)
        #expect(threeText?.hasPrefix("--three\r\n") == true)
        #expect(threeText?.hasSuffix("--three--") == true)
        let four = section(message, [4])
        #expect(four?.hasPrefix("--four\r\n") == true)
        #expect(four?.hasSuffix("--four--") == true)
        #expect(section(message, [4, 2], .text)?.hasSuffix("--inner42--") == true)
        #expect(section(message, [], .text)?.hasPrefix("preamble\r\n--outer\r\n") == true)
        #expect(section(message, [], .text)?.hasSuffix("--outer--\r\nepilogue\r\n") == true)
        #expect(section(message, [], .complete) == text(message.bytes))
        #expect(
            section(message, [], .header)
                == "Subject: numbering\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n")
    }

    /// RFC 9051 §6.4.5: "every message has at least one part number"; part 1 of a
    /// non-multipart message is its body, 1.MIME its header.
    @Test func nonMultipartMessageHasPartOne() {
        let message = structure(["From: a@example.test", "Content-Type: text/plain", "", "body1"])
        #expect(section(message, [1]) == "body1\r\n")
        #expect(section(message, [], .text) == "body1\r\n")
        #expect(section(message, [1], .mime) == "From: a@example.test\r\nContent-Type: text/plain\r\n\r\n")
        #expect(section(message, [1], .header) == nil)
        #expect(section(message, [1, 1]) == nil)
        #expect(section(message, [2]) == nil)
    }

    /// A message that is itself message/rfc822: part 1 is the encapsulated message,
    /// 1.TEXT and 1.1 its body (as Cyrus answers).
    @Test func topLevelMessageRFC822() {
        let message = structure(["Content-Type: message/rfc822", "", "Subject: inner", "", "foo"])
        #expect(section(message, [], .text) == "Subject: inner\r\n\r\nfoo\r\n")
        #expect(section(message, [1]) == "Subject: inner\r\n\r\nfoo\r\n")
        #expect(section(message, [1], .text) == "foo\r\n")
        #expect(section(message, [1], .header) == "Subject: inner\r\n\r\n")
        #expect(section(message, [1, 1]) == "foo\r\n")
    }

    // MARK: - HEADER.FIELDS

    static let fieldsExample = [
        "From: a@example.test",
        "Subject: first",
        " folded",
        "To: b@example.test",
        "subject: second",
        "X-Other: x",
        "",
        "body",
    ]

    /// Fields in message order (not request order), folding kept, the blank line at the
    /// end; names match case-insensitively.
    @Test func headerFieldsKeepMessageOrder() {
        let message = structure(Self.fieldsExample)
        #expect(
            section(message, [], .headerFields(["SUBJECT", "from"]))
                == "From: a@example.test\r\nSubject: first\r\n folded\r\nsubject: second\r\n\r\n")
        #expect(
            section(message, [], .headerFieldsNot(["Subject", "X-OTHER"]))
                == "From: a@example.test\r\nTo: b@example.test\r\n\r\n")
        #expect(section(message, [], .headerFields(["Absent"])) == "\r\n")
        #expect(message.byteRange(of: SectionSpecifier(kind: .headerFields(["From"]))) == nil)
    }

    @Test func headerFieldsOfEncapsulatedMessage() {
        let message = structure(SectionTests.numberingExample)
        #expect(section(message, [4, 2], .headerFields(["SUBJECT"])) == "Subject: part 4.2\r\n\r\n")
        #expect(section(message, [4, 1], .headerFields(["SUBJECT"])) == nil)
    }

    /// RFC 9051 §6.4.5: the blank line is included "except in the case of a message which
    /// has no body and no blank line".
    @Test func headerFieldsOfMessageWithoutBodyOrBlankLine() {
        let message = MessageStructure(parsing: bytes("Subject: x\r\nFrom: y@example.test"))
        #expect(section(message, [], .headerFields(["SUBJECT"])) == "Subject: x\r\n")
        #expect(section(message, [], .headerFields(["FROM"])) == "From: y@example.test\r\n")
        #expect(section(message, [], .header) == "Subject: x\r\nFrom: y@example.test")
        #expect(section(message, [], .text) == "")
    }

    // MARK: - Partial

    @Test func partialSlices() {
        let message = structure(Self.fieldsExample)
        let whole = SectionSpecifier()
        let all = message.contents(of: whole) ?? []
        #expect(message.contents(of: whole, partial: FetchAttribute.Partial(offset: 0, length: 4)) == bytes("From"))
        #expect(message.contents(of: whole, partial: FetchAttribute.Partial(offset: 6, length: 1)) == bytes("a"))
        #expect(message.contents(of: whole, partial: FetchAttribute.Partial(offset: UInt64(all.count - 2), length: 100)) == bytes("\r\n"))
        #expect(message.contents(of: whole, partial: FetchAttribute.Partial(offset: UInt64(all.count), length: 1)) == [])
        #expect(message.contents(of: whole, partial: FetchAttribute.Partial(offset: UInt64.max, length: UInt64.max)) == [])
        #expect(message.contents(of: whole, partial: nil) == all)
        #expect(
            message.contents(of: SectionSpecifier(part: [9]), partial: FetchAttribute.Partial(offset: 0, length: 1)) == nil)
        #expect(MessageStructure.sliceRange(count: 10, partial: FetchAttribute.Partial(offset: 3, length: UInt64.max)) == 3..<10)
    }

    @Test func byteRangesMatchContents() {
        let message = structure(Self.numberingExample)
        for (part, kind, expected) in Self.numbered {
            let specifier = SectionSpecifier(part: part, kind: kind)
            guard let range = message.byteRange(of: specifier) else {
                #expect(expected == nil)
                continue
            }
            #expect(text(message.octets(in: range)) == expected)
        }
    }
}
