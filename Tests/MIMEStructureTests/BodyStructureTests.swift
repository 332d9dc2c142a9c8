import IMAPProtocol
import Testing

@testable import MIMEStructure

@Suite("BODY and BODYSTRUCTURE")
struct BodyStructureTests {
    /// `count` lines of `width` characters, each ended with CRLF.
    static func lines(_ count: Int, width: Int, character: Character = "x") -> [String] {
        Array(repeating: String(repeating: character, count: width), count: count)
    }

    /// RFC 9051 §7.5.2 (and the FETCH example of §8): a simple text message of 3028
    /// octets and 92 lines, with its ENVELOPE.
    @Test func rfc9051SimpleTextMessage() {
        let header = [
            "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
            "From: Terry Gray <gray@cac.washington.edu>",
            "Subject: IMAP4rev2 WG mtg summary and minutes",
            "To: imap@cac.washington.edu",
            "cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>",
            "Message-Id: <B27397-0100000@cac.washington.edu>",
            "MIME-Version: 1.0",
            "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
            "",
        ]
        // 91 lines of 31 characters and one of 23, each with CRLF: 3028 octets.
        let body = Self.lines(91, width: 31) + Self.lines(1, width: 23)
        let message = structure(header + body)
        #expect(message.root.size == 3028)
        #expect(message.root.lineCount == 92)
        #expect(
            message.bodyStructureString(extensible: false)
                == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92)")
        #expect(
            message.bodyStructureString(extensible: true)
                == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3028 92 NIL NIL NIL NIL)")
        let gray = "(\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")"
        #expect(
            message.envelopeString()
                == "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\""
                + " (\(gray)) (\(gray)) (\(gray)) ((NIL NIL \"imap\" \"cac.washington.edu\"))"
                + " ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\"))"
                + " NIL NIL \"<B27397-0100000@cac.washington.edu>\")")
    }

    /// RFC 9051 §7.5.2: "a two part message consisting of a text and a BASE64-encoded
    /// text attachment".
    @Test func rfc9051MultipartMixed() {
        // Part 1: 22 lines of 50 characters and a last one of 8 without line end (the
        // CRLF before the delimiter is the delimiter's): 1152 octets, 23 lines.
        // Part 2: 72 lines of 61 and one of 18: 4554 octets, 73 lines.
        var lines = [
            "MIME-Version: 1.0",
            "Content-Type: MULTIPART/MIXED; BOUNDARY=\"960723163407.20117h\"",
            "",
            "--960723163407.20117h",
            "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
            "",
        ]
        lines += Self.lines(22, width: 50)
        lines += Self.lines(1, width: 8)
        lines += [
            "--960723163407.20117h",
            "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff",
            "Content-ID: <960723163407.20117h@cac.washington.edu>",
            "Content-Description: Compiler diff",
            "Content-Transfer-Encoding: BASE64",
            "",
        ]
        lines += Self.lines(72, width: 61, character: "A")
        lines += Self.lines(1, width: 18, character: "A")
        lines.append("--960723163407.20117h--")
        let message = structure(lines)
        #expect(
            message.bodyStructureString(extensible: false)
                == "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 1152 23)"
                + "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\" \"NAME\" \"cc.diff\")"
                + " \"<960723163407.20117h@cac.washington.edu>\" \"Compiler diff\" \"BASE64\" 4554 73) \"MIXED\")")
        #expect(
            message.bodyStructureString(extensible: true).hasSuffix(
                " \"MIXED\" (\"BOUNDARY\" \"960723163407.20117h\") NIL NIL NIL)"))
    }

    /// Extension data of a single part: MD5, disposition, language, location.
    @Test func singlePartExtensionData() {
        let message = structure([
            "Content-Type: text/plain; charset=utf-8",
            "Content-Disposition: attachment; filename=\"notes.txt\"",
            "Content-Language: en, fr",
            "Content-Location: http://example.test/notes.txt",
            "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==",
            "Content-ID: <id@example.test>",
            "Content-Description: Notes",
            "",
            "hello",
        ])
        #expect(
            message.bodyStructureString(extensible: true)
                == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") \"<id@example.test>\" \"Notes\" \"7BIT\" 7 1"
                + " \"Q2hlY2sgSW50ZWdyaXR5IQ==\" (\"ATTACHMENT\" (\"FILENAME\" \"notes.txt\")) (\"en\" \"fr\")"
                + " \"http://example.test/notes.txt\")")
        #expect(
            message.bodyStructureString(extensible: false)
                == "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") \"<id@example.test>\" \"Notes\" \"7BIT\" 7 1)")
    }

    @Test func multipartExtensionData() {
        let message = structure([
            "Content-Type: multipart/alternative; boundary=b",
            "Content-Disposition: inline",
            "Content-Language: de",
            "",
            "--b",
            "Content-Type: text/html",
            "",
            "<p>x</p>",
            "--b--",
        ])
        #expect(
            message.bodyStructureString(extensible: true)
                == "((\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 8 1 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"b\")"
                + " (\"INLINE\" NIL) \"de\" NIL)")
    }

    /// RFC 2231 parameters are written in their single-section extended form, so that
    /// 8-bit names stay labelled.
    @Test func extendedParametersInBodyStructure() {
        let message = structure([
            "Content-Type: application/pdf; name*0*=UTF-8''na%C3%AF; name*1*=ve.pdf",
            "Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.pdf",
            "Content-Transfer-Encoding: base64",
            "",
            "JVBERg==",
        ])
        let structureText = message.bodyStructureString(extensible: true)
        #expect(structureText.hasPrefix("(\"APPLICATION\" \"PDF\" (\"NAME*\" \"UTF-8''na%C3%AFve.pdf\") NIL NIL \"BASE64\" 10 "))
        #expect(structureText.contains("(\"ATTACHMENT\" (\"FILENAME*\" \"UTF-8''na%C3%AFve.pdf\"))"))
        #expect(message.root.contentDisposition?.filename == "naïve.pdf")
        #expect(message.root.contentType.parameter(named: "name")?.value == "naïve.pdf")
    }

    /// message/rfc822: body-fields, the encapsulated envelope, its body, and its lines.
    @Test func encapsulatedMessage() {
        let message = structure([
            "Content-Type: multipart/mixed; boundary=b",
            "",
            "--b",
            "Content-Type: message/rfc822",
            "",
            "From: a@example.test",
            "Subject: inner",
            "",
            "hi",
            "--b--",
        ])
        let part = message.root.children.first
        let size = "From: a@example.test\r\nSubject: inner\r\n\r\nhi".utf8.count
        #expect(part?.size == size)
        #expect(part?.lineCount == 4)
        let a = "((NIL NIL \"a\" \"example.test\"))"
        #expect(
            message.bodyStructureString(extensible: false)
                == "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" \(size)"
                + " (NIL \"inner\" \(a) \(a) \(a) NIL NIL NIL NIL NIL)"
                + " (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2 1) 4) \"MIXED\")")
        #expect(
            message.bodyStructureString(extensible: true)
                == "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" \(size)"
                + " (NIL \"inner\" \(a) \(a) \(a) NIL NIL NIL NIL NIL)"
                + " (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)"
                + " \"MIXED\" (\"BOUNDARY\" \"b\") NIL NIL NIL)")
    }

    /// message/global (RFC 6532 §3.7) is parsed like message/rfc822.
    @Test func messageGlobal() {
        let message = structure(["Content-Type: message/global", "", "Subject: größe", "", "inhalt"])
        #expect(message.root.encapsulatedMessage != nil)
        #expect(message.bodyStructureString(extensible: false, allowUTF8: true).hasPrefix("(\"MESSAGE\" \"GLOBAL\" NIL"))
        #expect(message.bodyStructureString(extensible: false, allowUTF8: true).contains("(NIL \"größe\" NIL"))
    }

    /// Values a quoted string cannot carry become literals.
    @Test func literalsForUnquotableValues() {
        let raw = bytes("Content-Type: text/plain\r\nContent-Description: d\u{E9}j\u{E0}\r\n\r\nx")
        let message = MessageStructure(parsing: raw)
        #expect(message.bodyStructureString(extensible: false).contains("NIL {6}\r\ndéjà \"7BIT\""))
        #expect(message.bodyStructureString(extensible: false, allowUTF8: true).contains("NIL \"déjà\" \"7BIT\""))
    }
}
