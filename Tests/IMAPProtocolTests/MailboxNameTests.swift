import Testing

@testable import IMAPProtocol

/// A modified UTF-7 name and the Unicode name it stands for.
struct ModifiedUTF7Fixture: Sendable, CustomTestStringConvertible {
    let encoded: String
    let decoded: String
    let note: String

    init(_ encoded: String, _ decoded: String, _ note: String = "") {
        self.encoded = encoded
        self.decoded = decoded
        self.note = note
    }

    var testDescription: String { note.isEmpty ? encoded : "\(encoded) (\(note))" }
}

private let modifiedUTF7Fixtures: [ModifiedUTF7Fixture] = [
    .init("&Jjo-", "☺", "RFC 3501 §5.1.3"),
    .init("&ZeVnLIqe-", "日本語", "RFC 3501 §5.1.3"),
    .init("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語", "RFC 3501 §5.1.3"),
    .init("&-", "&", "RFC 3501 §5.1.3"),
    .init("a&-b&-c", "a&b&c"),
    .init("Hi Mom -&Jjo--!", "Hi Mom -☺-!", "RFC 2152's example, modified"),
    .init("&2D3eAA-", "😀", "a surrogate pair"),
    .init("Entw&APw-rfe", "Entwürfe"),
    .init("&BCcENQRABD0EPgQyBDgEOgQ4-", "Черновики"),
    .init("Spam &Jwk- &- &2D3eAA- x", "Spam ✉ & 😀 x"),
    .init("&AKA-", "\u{A0}", "no-break space"),
    .init("INBOX", "INBOX"),
    .init("", ""),
    .init(
        " !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~", " !\"#$%'()*+,-./0123456789:;<=>?@[\\]^_`{|}~",
        "printable ASCII"),
]

private let malformedModifiedUTF7: [String] = [
    "&Jjo",  // no closing "-"
    "&",  // no closing "-"
    "a&",
    "&Jjo!-",  // "!" is not modified BASE64
    "&Jjo=-",  // no padding in modified BASE64
    "&Jj/-",  // "/" is "," in modified BASE64
    "&AGE-",  // "a" encoded: printable ASCII must stand for itself
    "&ACY-",  // "&" encoded
    "&AAA-",  // NUL
    "&AAk-",  // TAB
    "&AH8-",  // DEL
    "&AIA-",  // a C1 control
    "&2D0-",  // a lone high surrogate
    "&3gA-",  // a lone low surrogate
    "&3gDYPQ-",  // low before high
    "&Jj-",  // 12 bits: not a whole code unit
    "&Jjr-",  // padding bits not zero
    "&JjoA-",  // 24 bits: half a code unit left over
    "ä",  // raw 8-bit
    "a\tb",  // a control character
    "a\u{7F}",
]

@Suite("Mailbox names")
struct MailboxNameTests {
    @Test(arguments: modifiedUTF7Fixtures)
    func decodesModifiedUTF7(_ fixture: ModifiedUTF7Fixture) {
        #expect(MailboxName.decodeModifiedUTF7(fixture.encoded) == fixture.decoded)
    }

    @Test(arguments: modifiedUTF7Fixtures)
    func encodesModifiedUTF7(_ fixture: ModifiedUTF7Fixture) {
        #expect(MailboxName.encodeModifiedUTF7(fixture.decoded) == fixture.encoded)
    }

    @Test(arguments: malformedModifiedUTF7)
    func refusesMalformedModifiedUTF7(_ text: String) {
        #expect(MailboxName.decodeModifiedUTF7(text) == nil)
    }

    @Test func roundTripsUnicodeNames() {
        let names = [
            "Gesendete Objekte", "Éléments envoyés", "送信済みアイテム", "Входящие/Архив", "a&b", "&&-&", "emoji 🎉🎉 x",
            "\u{FFFD}", "\u{10FFFF}", "mixed ascii日本語ascii", "Ω", "~/", "a-b-&-c",
        ]
        for name in names {
            let encoded = MailboxName.encodeModifiedUTF7(name)
            #expect(encoded.utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7E }, "\(name)")
            #expect(MailboxName.decodeModifiedUTF7(encoded) == name, "\(name) → \(encoded)")
        }
    }

    @Test func inboxIsCaseInsensitive() {
        #expect(MailboxName("inbox") == .inbox)
        #expect(MailboxName("InBoX").name == "INBOX")
        #expect(MailboxName("INBOX").isInbox)
        #expect(!MailboxName("INBOX.Sent").isInbox)
        #expect(!MailboxName("INBOXX").isInbox)
        #expect(MailboxName("İnbox").name == "İnbox", "no Unicode case folding")
        #expect(MailboxName("a\"b").description == "\"a\\\"b\"")
    }

    @Test func specialUseNames() {
        #expect(SpecialUse("\\sent") == .sent)
        #expect(SpecialUse("\\SENT").name == "\\Sent")
        #expect(SpecialUse("\\Sent").isKnown)
        #expect(!SpecialUse("\\Important").isKnown)
        #expect(SpecialUse("\\Important").name == "\\Important")
    }
}
