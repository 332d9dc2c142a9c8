import NIOCore
import Testing

@testable import IMAPProtocol

@Suite("IMAP responses and encoding")
struct IMAPResponseTests {
    @Test func encodesStatusLines() {
        #expect(
            String(buffer: IMAPResponse.tagged(tag: "A1", status: .ok, code: nil, text: "LOGIN completed").encoded)
                == "A1 OK LOGIN completed\r\n")
        #expect(
            String(
                buffer: IMAPResponse.tagged(tag: "A142", status: .ok, code: .readWrite, text: "SELECT completed")
                    .encoded)
                == "A142 OK [READ-WRITE] SELECT completed\r\n")
        #expect(
            String(
                buffer: IMAPResponse.tagged(tag: "A3", status: .no, code: .tooBig, text: "Message too large").encoded)
                == "A3 NO [TOOBIG] Message too large\r\n")
        #expect(
            String(buffer: IMAPResponse.untagged(.bad, code: nil, text: "Empty command line").encoded)
                == "* BAD Empty command line\r\n")
        #expect(
            String(buffer: IMAPResponse.untagged(.bye, code: nil, text: "Logging out").encoded)
                == "* BYE Logging out\r\n")
        #expect(
            String(buffer: IMAPResponse.untagged(.ok, code: .uidValidity(3_857_529_045), text: "UIDs valid").encoded)
                == "* OK [UIDVALIDITY 3857529045] UIDs valid\r\n")
        #expect(
            String(buffer: IMAPResponse.untaggedData("CAPABILITY IMAP4rev2 IDLE").encoded)
                == "* CAPABILITY IMAP4rev2 IDLE\r\n")
        #expect(String(buffer: IMAPResponse.readyForLiteral.encoded) == "+ Ready for literal data\r\n")
        #expect(String(buffer: IMAPResponse.tagged(tag: "A1", status: .ok, code: nil, text: "").encoded) == "A1 OK\r\n")
    }

    @Test func encodesResponseCodes() {
        #expect(IMAPResponseCode.badCharset(["US-ASCII", "UTF-8"]).description == "BADCHARSET (US-ASCII UTF-8)")
        #expect(IMAPResponseCode.badCharset([]).description == "BADCHARSET")
        #expect(IMAPResponseCode.capability(["IMAP4rev2", "IDLE"]).description == "CAPABILITY IMAP4rev2 IDLE")
        #expect(
            IMAPResponseCode.copyUID(
                uidValidity: 38505, source: set(SequenceRange(304), SequenceRange(319, 320)),
                destination: set(SequenceRange(3956, 3958))
            ).description
                == "COPYUID 38505 304,319:320 3956:3958")
        #expect(
            IMAPResponseCode.appendUID(uidValidity: 38505, uids: set(SequenceRange(3955))).description
                == "APPENDUID 38505 3955")
        #expect(IMAPResponseCode.highestModSeq(715_194_045_007).description == "HIGHESTMODSEQ 715194045007")
        #expect(IMAPResponseCode("X-TEST", "a]b").description == "X-TEST a b", "] would end the code")
    }

    /// No value can add a response line.
    @Test func textCannotInjectLines() {
        #expect(
            String(buffer: IMAPResponse.tagged(tag: "A1", status: .ok, code: nil, text: "a\r\nA2 OK b\0c").encoded)
                == "A1 OK a  A2 OK b c\r\n")
        #expect(String(buffer: IMAPResponse.continuation("x\ny").encoded) == "+ x y\r\n")
        #expect(String(buffer: IMAPResponse.untaggedData("FLAGS\r\n(\\Seen)").encoded) == "* FLAGS  (\\Seen)\r\n")
    }

    @Test func parseErrorsMapToResponses() {
        #expect(IMAPParseError(.syntax, tag: "A1", "x").response.description == "A1 BAD x")
        #expect(IMAPParseError(.syntax, tag: nil, "x").response.description == "* BAD x")
        #expect(IMAPParseError(.unrecognized, tag: "A1", "x").response.description == "A1 BAD x")
        #expect(IMAPParseError(.tooBig, tag: "A1", "x").response.description == "A1 BAD [TOOBIG] x")
        #expect(IMAPParseError(.tooBig, tag: nil, "x").response.description == "* BAD [TOOBIG] x")
        #expect(IMAPParseError(.messageTooBig, tag: "A1", "x").response.description == "A1 NO [TOOBIG] x")
        #expect(
            IMAPParseError(.badCharset, tag: "A1", "x").response.description == "A1 NO [BADCHARSET (US-ASCII UTF-8)] x")
        #expect(IMAPParseError(.fatal, tag: "A1", "x").response.description == "* BYE x")
        #expect(IMAPParseError(.fatal, tag: "A1", "x").closesConnection)
        #expect(!IMAPParseError(.tooBig, tag: "A1", "x").closesConnection)
    }

    // MARK: - Strings

    @Test func astringChoosesTheSimplestForm() {
        func astring(_ value: String, utf8: Bool = false) -> String {
            String(decoding: IMAPEncoding.astring(value, allowUTF8: utf8), as: UTF8.self)
        }
        #expect(astring("INBOX") == "INBOX")
        #expect(astring("a]b") == "a]b")
        #expect(astring("~peter/mail/&U,BTFw-") == "~peter/mail/&U,BTFw-")
        #expect(astring("") == "\"\"")
        #expect(astring("two words") == "\"two words\"")
        #expect(astring("a\"b\\c") == "\"a\\\"b\\\\c\"")
        #expect(astring("NIL") == "\"NIL\"", "an atom NIL could be read as nil")
        #expect(astring("nil") == "\"nil\"")
        #expect(astring("100%") == "\"100%\"")
        #expect(astring("a*") == "\"a*\"")
        #expect(astring("(x)") == "\"(x)\"")
        #expect(astring("{5}") == "\"{5}\"")
        #expect(astring("日本") == "{6}\r\n日本", "8-bit needs a literal for IMAP4rev1")
        #expect(astring("日本", utf8: true) == "\"日本\"")
        #expect(astring("line\r\nbreak") == "{11}\r\nline\r\nbreak")
        #expect(astring("tab\there") == "\"tab\there\"", "TAB is a TEXT-CHAR")
    }

    @Test func stringNeverUsesAnAtom() {
        #expect(IMAPEncoding.string("INBOX") == bytes("\"INBOX\""))
        #expect(IMAPEncoding.nstring(nil) == bytes("NIL"))
        #expect(IMAPEncoding.nstring(bytes("NIL")) == bytes("\"NIL\""))
        #expect(IMAPEncoding.quoted(bytes("a\rb")) == nil)
        #expect(IMAPEncoding.quoted([0xFF], allowUTF8: true) == nil, "not UTF-8")
        #expect(IMAPEncoding.quoted(bytes("é"), allowUTF8: true) == bytes("\"é\""))
        #expect(IMAPEncoding.literal([0x61, 0, 0x62]) == bytes("~{3}\r\n") + [0x61, 0, 0x62], "NUL needs literal8")
        #expect(IMAPEncoding.string([0xFF, 0xFE]) == bytes("{2}\r\n") + [0xFF, 0xFE])
    }

    /// STYLE.md §8: encoders round-trip through the parser.
    @Test func astringRoundTripsThroughTheParser() throws {
        let names = [
            "INBOX.Sent", "two words", "", "quote\"and\\backslash", "日本語", "100%", "a]b", "(parens)", "{5}",
            "line\r\nbreak", "NIL", "-", "Entwürfe",
        ]
        for name in names {
            for allowUTF8 in [false, true] {
                let input = bytes("A1 RENAME ") + IMAPEncoding.astring(name, allowUTF8: allowUTF8) + bytes(" x")
                let result = IMAPCommandParser.parse(input)
                if name.utf8.contains(13) {
                    // Control characters are refused in mailbox names, however encoded.
                    #expect(throws: IMAPParseError.self) { try result.get() }
                    continue
                }
                let command = try result.get()
                #expect(command.kind == .rename(from: MailboxName(name), to: MailboxName("x")), "\(name)")
            }
        }
    }

    @Test func passwordRoundTripsThroughTheParser() throws {
        for password in ["simple", "with space", "q\"uo\\te", "", "ünïcödé", "line\r\nbreak", "{3}", "NIL"] {
            let input = bytes("A1 LOGIN fred ") + IMAPEncoding.astring(password, allowUTF8: true)
            let command = try IMAPCommandParser.parse(input).get()
            #expect(command.kind == .login(username: "fred", password: password))
        }
    }
}
