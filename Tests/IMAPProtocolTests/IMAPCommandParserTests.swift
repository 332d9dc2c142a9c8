import NIOCore
import Testing

@testable import IMAPProtocol

// MARK: - Fixture types

/// A command as a client sends it (CRLFs and literal data included) and the command it
/// must give.
struct CommandFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let expected: IMAPCommand
    let note: String

    init(_ input: String, _ expected: IMAPCommand, _ note: String = "") {
        self.init(bytes: Array(input.utf8), expected, note)
    }

    init(bytes: [UInt8], _ expected: IMAPCommand, _ note: String = "") {
        self.input = bytes
        self.expected = expected
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

/// A command that must be refused, and the response line (without CRLF) it gets.
struct FailureFixture: Sendable, CustomTestStringConvertible {
    let input: [UInt8]
    let response: String
    let note: String

    init(_ input: String, _ response: String, _ note: String = "") {
        self.init(bytes: Array(input.utf8), response, note)
    }

    init(bytes: [UInt8], _ response: String, _ note: String = "") {
        self.input = bytes
        self.response = response
        self.note = note
    }

    var testDescription: String { note.isEmpty ? escaped(input) : "\(escaped(input)) (\(note))" }
}

// MARK: - Shared values

/// The message of RFC 9051 §6.3.12 (326 octets with CRLF line ends).
let rfcMessage: String =
    [
        "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)",
        "From: Fred Foobar <foobar@Blurdybloop.example>",
        "Subject: afternoon meeting",
        "To: mooch@owatagu.siam.edu.example",
        "Message-Id: <B27397-0100000@Blurdybloop.example>",
        "MIME-Version: 1.0",
        "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
        "",
        "Hello Joe, do you think we can meet at 3:30 tomorrow?",
        "",
    ].joined(separator: "\r\n")

private let smithSearch: SearchKey = .and([.flagged, .since(date(1994, 2, 1)), .not(.from("Smith"))])

private func list(
    _ reference: String, _ patterns: [String], select: [IMAPCommand.ListSelectionOption] = [],
    returning: [IMAPCommand.ListReturnOption] = []
) -> IMAPCommand.Kind {
    .list(
        IMAPCommand.ListArguments(
            selectionOptions: select, reference: MailboxName(reference), patterns: patterns, returnOptions: returning))
}

private func search(
    _ key: SearchKey, returning: [IMAPCommand.SearchReturnOption]? = nil, charset: String? = nil
) -> IMAPCommand.SearchArguments {
    IMAPCommand.SearchArguments(returnOptions: returning, charset: charset, key: key)
}

private func body(_ kind: SectionSpecifier.Kind, part: [UInt32] = [], peek: Bool = false) -> FetchAttribute {
    .bodySection(SectionSpecifier(part: part, kind: kind), partial: nil, peek: peek)
}

private let appendDate: IMAPDateTime = {
    guard let value = IMAPDateTime(date: date(1994, 2, 7), hour: 21, minute: 52, second: 25, zoneMinutes: -480) else {
        preconditionFailure("test date-time")
    }
    return value
}()

// MARK: - Valid commands

/// RFC 9051 §6 examples (and RFC 3501 §6 ones that IMAP4rev2 changed), in the order of
/// the RFC.
private let rfcExamples: [CommandFixture] = [
    // §6.1 Any state
    .init("abcd CAPABILITY\r\n", command("abcd", .capability), "RFC 9051 §6.1.1"),
    .init("a002 NOOP\r\n", command("a002", .noop), "RFC 9051 §6.1.2"),
    .init("a047 NOOP\r\n", command("a047", .noop), "RFC 9051 §6.1.2"),
    .init("A023 LOGOUT\r\n", command("A023", .logout), "RFC 9051 §6.1.3"),
    // §6.2 Not authenticated
    .init("a002 STARTTLS\r\n", command("a002", .startTLS), "RFC 9051 §6.2.1"),
    .init("a004 LOGIN joe password\r\n", command("a004", .login(username: "joe", password: "password")), "§6.2.1"),
    .init(
        "A001 AUTHENTICATE GSSAPI\r\n", command("A001", .authenticate(mechanism: "GSSAPI", initialResponse: nil)),
        "RFC 9051 §6.2.2"),
    .init(
        "A001 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n",
        command("A001", .authenticate(mechanism: "PLAIN", initialResponse: bytes("test\0test\0test"))),
        "RFC 9051 §6.2.2, SASL-IR"),
    .init("a001 LOGIN SMITH SESAME\r\n", command("a001", .login(username: "SMITH", password: "SESAME")), "§6.2.3"),
    // §6.3 Authenticated
    .init(
        "t2 ENABLE CONDSTORE X-GOOD-IDEA\r\n", command("t2", .enable(["CONDSTORE", "X-GOOD-IDEA"])),
        "RFC 9051 §6.3.1, RFC 5161 §4"),
    .init("A1 ENABLE IMAP4rev2\r\n", command("A1", .enable(["IMAP4REV2"])), "names are upper-cased"),
    .init("A142 SELECT INBOX\r\n", command("A142", .select(.inbox, .init())), "RFC 9051 §6.3.2"),
    .init("A932 EXAMINE blurdybloop\r\n", command("A932", .examine(MailboxName("blurdybloop"), .init())), "§6.3.3"),
    .init(
        "A003 CREATE owatagusiam/\r\n", command("A003", .create(MailboxName("owatagusiam/"), specialUse: [])), "§6.3.4"),
    .init(
        "A004 CREATE owatagusiam/blurdybloop\r\n",
        command("A004", .create(MailboxName("owatagusiam/blurdybloop"), specialUse: [])), "RFC 9051 §6.3.4"),
    .init("A683 DELETE blurdybloop\r\n", command("A683", .delete(MailboxName("blurdybloop"))), "RFC 9051 §6.3.5"),
    .init("A685 DELETE foo/bar\r\n", command("A685", .delete(MailboxName("foo/bar"))), "RFC 9051 §6.3.5"),
    .init(
        "A683 RENAME blurdybloop sarasoop\r\n",
        command("A683", .rename(from: MailboxName("blurdybloop"), to: MailboxName("sarasoop"))), "RFC 9051 §6.3.6"),
    .init(
        "Z433 RENAME INBOX old-mail\r\n", command("Z433", .rename(from: .inbox, to: MailboxName("old-mail"))),
        "RFC 9051 §6.3.6"),
    .init(
        "A002 SUBSCRIBE #news.comp.mail.mime\r\n", command("A002", .subscribe(MailboxName("#news.comp.mail.mime"))),
        "RFC 9051 §6.3.7"),
    .init(
        "A002 UNSUBSCRIBE #news.comp.mail.mime\r\n",
        command("A002", .unsubscribe(MailboxName("#news.comp.mail.mime"))), "RFC 9051 §6.3.8"),
    .init("A101 LIST \"\" \"\"\r\n", command("A101", list("", [""])), "RFC 9051 §6.3.9"),
    .init("A102 LIST #news.comp.mail.misc \"\"\r\n", command("A102", list("#news.comp.mail.misc", [""])), "§6.3.9"),
    .init("A103 LIST /usr/staff/jones \"\"\r\n", command("A103", list("/usr/staff/jones", [""])), "RFC 9051 §6.3.9"),
    .init("A202 LIST ~/Mail/ %\r\n", command("A202", list("~/Mail/", ["%"])), "RFC 9051 §6.3.9"),
    .init("A202 LIST \"\" %\r\n", command("A202", list("", ["%"])), "RFC 9051 §6.3.9"),
    .init("A682 LIST \"\" *\r\n", command("A682", list("", ["*"])), "RFC 9051 §6.3.5"),
    .init(
        "A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
        command("A01", list("", ["%"], returning: [.status([.messages, .unseen])])), "RFC 9051 §6.3.9, RFC 5819"),
    .init(
        "A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (STATUS (MESSAGES))\r\n",
        command("A02", list("", ["%"], select: [.subscribed, .recursiveMatch], returning: [.status([.messages])])),
        "RFC 5819 §3"),
    .init("A001 NAMESPACE\r\n", command("A001", .namespace), "RFC 9051 §6.3.10"),
    .init(
        "A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
        command("A042", .status(MailboxName("blurdybloop"), [.uidNext, .messages])), "RFC 9051 §6.3.11"),
    .init(
        "A003 APPEND saved-messages (\\Seen) {326}\r\n" + rfcMessage + "\r\n",
        command(
            "A003",
            .append(
                MailboxName("saved-messages"), [IMAPCommand.AppendMessage(flags: [.seen], data: bytes(rfcMessage))])),
        "RFC 9051 §6.3.12"),
    .init("A001 IDLE\r\n", command("A001", .idle), "RFC 9051 §6.3.13"),
    // §6.4 Selected
    .init("FXXZ CHECK\r\n", command("FXXZ", .check), "RFC 3501 §6.4.1"),
    .init("A341 CLOSE\r\n", command("A341", .close), "RFC 9051 §6.4.1"),
    .init("A342 UNSELECT\r\n", command("A342", .unselect), "RFC 9051 §6.4.2"),
    .init("A202 EXPUNGE\r\n", command("A202", .expunge), "RFC 9051 §6.4.3"),
    .init(
        "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        command("A282", .search(search(smithSearch, returning: [.min, .count]))), "RFC 9051 §6.4.4"),
    .init(
        "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        command("A283", .search(search(smithSearch, returning: []))), "RFC 9051 §6.4.4"),
    .init(
        "A284 SEARCH TEXT \"string not in mailbox\"\r\n",
        command("A284", .search(search(.text("string not in mailbox")))), "RFC 9051 §6.4.4"),
    .init(
        "A285 SEARCH CHARSET UTF-8 TEXT {12}\r\nотпуск\r\n",
        command("A285", .search(search(.text("отпуск"), charset: "UTF-8"))), "RFC 9051 §6.4.4"),
    .init(
        "A286 SEARCH CHARSET UTF-8 TEXT {12+}\r\nотпуск\r\n",
        command("A286", .search(search(.text("отпуск"), charset: "UTF-8"))), "RFC 9051 §6.4.4, LITERAL+"),
    .init(
        "A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        command("A282", .search(search(smithSearch))), "RFC 3501 §6.4.4"),
    .init(
        "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
        command("A654", .fetch(set(SequenceRange(2, 4)), [.flags, body(.headerFields(["DATE", "FROM"]))], .init())),
        "RFC 9051 §6.4.5"),
    .init(
        "A004 FETCH 12 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY[HEADER.FIELDS (DATE FROM)])\r\n",
        command(
            "A004",
            .fetch(
                set(SequenceRange(12)),
                [.flags, .internalDate, .rfc822Size, .envelope, body(.headerFields(["DATE", "FROM"]))], .init()))),
    .init(
        "A003 STORE 2:4 +FLAGS (\\Deleted)\r\n",
        command("A003", .store(set(SequenceRange(2, 4)), .init(.add, [.deleted]), unchangedSince: nil)),
        "RFC 9051 §6.4.6"),
    .init(
        "A003 COPY 2:4 MEETING\r\n", command("A003", .copy(set(SequenceRange(2, 4)), MailboxName("MEETING"))),
        "RFC 9051 §6.4.7"),
    .init("a UID MOVE 42:69 foo\r\n", command("a", .uidMove(set(SequenceRange(42, 69)), MailboxName("foo"))), "§6.4.8"),
    .init(
        "A999 UID FETCH 4827313:4828442 FLAGS\r\n",
        command("A999", .uidFetch(set(SequenceRange(4_827_313, 4_828_442)), [.flags], .init())), "RFC 9051 §6.4.9"),
    .init(
        "A003 UID EXPUNGE 3000:3002\r\n", command("A003", .uidExpunge(set(SequenceRange(3000, 3002)))),
        "RFC 9051 §6.4.9, RFC 4315"),
    // §8 Sample IMAP4rev2 connection
    .init("a001 login mrc secret\r\n", command("a001", .login(username: "mrc", password: "secret")), "RFC 9051 §8"),
    .init("a002 select inbox\r\n", command("a002", .select(.inbox, .init())), "RFC 9051 §8"),
    .init(
        "a003 fetch 12 full\r\n", command("a003", .fetch(set(SequenceRange(12)), FetchAttribute.fullMacro, .init())),
        "RFC 9051 §8"),
    .init(
        "a004 fetch 12 body[header]\r\n", command("a004", .fetch(set(SequenceRange(12)), [body(.header)], .init())),
        "RFC 9051 §8"),
    .init(
        "a005 store 12 +flags \\deleted\r\n",
        command("a005", .store(set(SequenceRange(12)), .init(.add, [.deleted]), unchangedSince: nil)), "RFC 9051 §8"),
    .init("a006 logout\r\n", command("a006", .logout), "RFC 9051 §8"),
]

/// Examples from the extension RFCs.
private let extensionExamples: [CommandFixture] = [
    // RFC 5258 LIST-EXTENDED §5
    .init("A02 LIST (SUBSCRIBED) \"\" \"*\"\r\n", command("A02", list("", ["*"], select: [.subscribed])), "RFC 5258"),
    .init(
        "A03 LIST () \"\" \"%\" RETURN (CHILDREN)\r\n", command("A03", list("", ["%"], returning: [.children])),
        "RFC 5258 §5"),
    .init(
        "A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)\r\n",
        command("A04", list("", ["%"], select: [.remote], returning: [.children])), "RFC 5258 §5"),
    .init(
        "A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\"\r\n", command("A05", list("", ["*"], select: [.remote, .subscribed])),
        "RFC 5258 §5"),
    .init(
        "C01 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
        command("C01", list("", ["%"], select: [.subscribed, .recursiveMatch])), "RFC 5258 §5"),
    .init(
        "D02 LIST (SUBSCRIBED RECURSIVEMATCH) \"Foo\" \"%\" RETURN (CHILDREN)\r\n",
        command("D02", list("Foo", ["%"], select: [.subscribed, .recursiveMatch], returning: [.children])),
        "RFC 5258 §5"),
    .init(
        "G1 LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")\r\n",
        command("G1", list("", ["INBOX", "Drafts", "Sent/%"])), "RFC 5258 §5: several patterns"),
    .init("G2 LIST \"\" (% foo/*)\r\n", command("G2", list("", ["%", "foo/*"])), "atom patterns in a list"),
    // RFC 6154 SPECIAL-USE
    .init(
        "t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n", command("t1", list("", ["%"], returning: [.specialUse])),
        "RFC 6154 §5.1"),
    .init(
        "t3 LIST (SPECIAL-USE) \"\" \"*\"\r\n", command("t3", list("", ["*"], select: [.specialUse])), "RFC 6154 §5.1"),
    .init(
        "t1 CREATE \"Important Messages\" (USE (\\Flagged))\r\n",
        command("t1", .create(MailboxName("Important Messages"), specialUse: [.flagged])), "RFC 6154 §5.2"),
    .init(
        "t2 CREATE \"Test\" (USE (\\junk \\Foo))\r\n",
        command("t2", .create(MailboxName("Test"), specialUse: [.junk, SpecialUse("\\Foo")])),
        "unknown use-attr parses (for NO [USEATTR])"),
    // RFC 3501
    .init(
        "A002 LSUB \"#news.\" \"comp.mail.*\"\r\n",
        command("A002", .lsub(reference: MailboxName("#news."), pattern: "comp.mail.*")), "RFC 3501 §6.3.9"),
    // RFC 5182 SEARCHRES
    .init(
        "A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
        command("A282", .search(search(smithSearch, returning: [.save]))), "RFC 5182 §2.4"),
    .init(
        "A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.HEADER)\r\n",
        command("A283", .fetch(.lastCommandResult, [.uid, .internalDate, .flags, .rfc822Header], .init())),
        "RFC 5182 §2.4"),
    .init(
        "C01 UID SEARCH RETURN (SAVE MIN) UID $ SMALLER 4096\r\n",
        command("C01", .uidSearch(search(.and([.uid(.lastCommandResult), .smaller(4096)]), returning: [.save, .min])))),
    // RFC 7162 CONDSTORE / QRESYNC
    .init(
        "a UID FETCH 300:* (FLAGS) (CHANGEDSINCE 12345)\r\n",
        command("a", .uidFetch(set(toLargest(300)), [.flags], .init(changedSince: 12345))), "RFC 7162"),
    .init(
        "s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
        command("s100", .uidFetch(set(SequenceRange(300, 500)), [.flags], .init(changedSince: 12345, vanished: true))),
        "RFC 7162 §3.2.6"),
    .init(
        "d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)\r\n",
        command(
            "d105",
            .store(
                set(SequenceRange(7), SequenceRange(5), SequenceRange(9)), .init(.add, silent: true, [.deleted]),
                unchangedSince: 320_162_338)), "RFC 7162 §3.1.3"),
    .init(
        "a103 SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
        command(
            "a103",
            .search(search(.modSeq(entry: SearchKey.ModSeqEntry(flag: .draft, type: .all), value: 620_162_338)))),
        "RFC 7162 §3.1.5"),
    .init("a SEARCH MODSEQ 0\r\n", command("a", .search(search(.modSeq(entry: nil, value: 0))))),
    .init(
        "A142 SELECT INBOX (CONDSTORE)\r\n", command("A142", .select(.inbox, .init(condStore: true))),
        "RFC 7162 §3.1.8"),
    .init(
        "A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n",
        command(
            "A02",
            .select(
                .inbox,
                .init(
                    qresync: IMAPCommand.QResyncParameters(
                        uidValidity: 67_890_007, modSeq: 20_050_715_194_045_000,
                        knownUIDs: set(SequenceRange(41), SequenceRange(43, 211), SequenceRange(214, 541)))))),
        "RFC 7162 §3.2.5"),
    .init(
        "B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500 15000,22500)))\r\n",
        command(
            "B02",
            .select(
                .inbox,
                .init(
                    qresync: IMAPCommand.QResyncParameters(
                        uidValidity: 67_890_007, modSeq: 90_060_115_194_045_000,
                        knownUIDs: set(SequenceRange(1, 29997)),
                        knownSequenceSet: set(SequenceRange(5000), SequenceRange(7500)),
                        knownUIDSet: set(SequenceRange(15000), SequenceRange(22500)))))), "RFC 7162 §3.2.5.2"),
    .init(
        "A03 EXAMINE INBOX (QRESYNC (1 2 (3 4)))\r\n",
        command(
            "A03",
            .examine(
                .inbox,
                .init(
                    qresync: IMAPCommand.QResyncParameters(
                        uidValidity: 1, modSeq: 2, knownSequenceSet: set(SequenceRange(3)),
                        knownUIDSet: set(SequenceRange(4)))))), "seq-match-data without known-uids"),
    // RFC 3516 BINARY
    .init(
        "A1 FETCH 1 (BINARY.PEEK[1]<0.100> BINARY[2.1] BINARY.SIZE[1] BINARY[])\r\n",
        command(
            "A1",
            .fetch(
                set(SequenceRange(1)),
                [
                    .binary(part: [1], partial: FetchAttribute.Partial(offset: 0, length: 100), peek: true),
                    .binary(part: [2, 1], partial: nil, peek: false), .binarySize(part: [1]),
                    .binary(part: [], partial: nil, peek: false),
                ], .init())), "RFC 3516 §4.2"),
    .init(
        "A2 APPEND INBOX ~{5}\r\na\0b\0c\r\n",
        command("A2", .append(.inbox, [IMAPCommand.AppendMessage(data: [0x61, 0, 0x62, 0, 0x63], isBinary: true)])),
        "RFC 3516 §4.4: NUL in literal8"),
    // RFC 3502 MULTIAPPEND, with a date-time
    .init(
        "A003 APPEND saved-messages (\\Seen) \"07-Feb-1994 21:52:25 -0800\" \(literal("one")) \(literal("two"))\r\n",
        command(
            "A003",
            .append(
                MailboxName("saved-messages"),
                [
                    IMAPCommand.AppendMessage(flags: [.seen], internalDate: appendDate, data: bytes("one")),
                    IMAPCommand.AppendMessage(data: bytes("two")),
                ])), "RFC 3502"),
    .init(
        "A4 APPEND INBOX (\\Seen \\Flagged $Forwarded) \" 7-Feb-1994 21:52:25 -0800\" {0}\r\n\r\n",
        command(
            "A4",
            .append(
                .inbox,
                [
                    IMAPCommand.AppendMessage(
                        flags: [.seen, .flagged, .keyword("$Forwarded")], internalDate: appendDate, data: [])
                ])),
        "date-day-fixed with a space; empty message"),
    .init(
        "A5 APPEND INBOX () \"7-Feb-1994 21:52:25 -0800\" \(literalPlus("x"))\r\n",
        command(
            "A5", .append(.inbox, [IMAPCommand.AppendMessage(flags: [], internalDate: appendDate, data: bytes("x"))])),
        "leniency: a one-digit day"),
    .init(
        "A6 APPEND \(literal("Entwürfe")) \(literal("x"))\r\n",
        command("A6", .append(MailboxName("Entwürfe"), [IMAPCommand.AppendMessage(data: bytes("x"))])),
        "the mailbox as a literal"),
    // RFC 4959 SASL-IR: "=" is an empty initial response
    .init(
        "a001 authenticate plain =\r\n", command("a001", .authenticate(mechanism: "PLAIN", initialResponse: [])),
        "RFC 4959 §3"),
    .init(
        "a002 AUTHENTICATE SCRAM-SHA-256 biws\r\n",
        command("a002", .authenticate(mechanism: "SCRAM-SHA-256", initialResponse: bytes("n,,"))), "RFC 7677"),
    // RFC 6851 MOVE
    .init("A1 MOVE 1:3 Trash\r\n", command("A1", .move(set(SequenceRange(1, 3)), MailboxName("Trash"))), "RFC 6851"),
    .init(
        "A2 UID COPY 1,* \"Sent Items\"\r\n",
        command("A2", .uidCopy(set(SequenceRange(1), SequenceRange(.largest, .largest)), MailboxName("Sent Items")))),
    // RFC 1731-era LOGIN with literals (RFC 3501 §6.2.3)
    .init(
        "a001 LOGIN {11}\r\nFRED FOOBAR {7}\r\nfat man\r\n",
        command("a001", .login(username: "FRED FOOBAR", password: "fat man")), "RFC 3501 §6.2.3, literals"),
]

/// Further coverage of the grammar.
private let grammarFixtures: [CommandFixture] = [
    .init("A142 SELECT iNbOx\r\n", command("A142", .select(.inbox, .init())), "INBOX is case-insensitive"),
    .init("A142 SELECT \"INBOX\"\r\n", command("A142", .select(.inbox, .init())), "quoted INBOX"),
    .init("A142 SELECT INBOX.Sent\r\n", command("A142", .select(MailboxName("INBOX.Sent"), .init())), "not INBOX"),
    .init("A1 SELECT \"日本語\"\r\n", command("A1", .select(MailboxName("日本語"), .init())), "UTF-8 quoted"),
    .init(
        "A1 SELECT &ZeVnLIqe-\r\n", command("A1", .select(MailboxName("&ZeVnLIqe-"), .init())), "modified UTF-7 kept"),
    .init(
        "A1 LOGIN \"fred \\\"the\\\\man\\\"\" \"p a s s\"\r\n",
        command("A1", .login(username: "fred \"the\\man\"", password: "p a s s")), "escapes in quoted strings"),
    .init("A1 LOGIN \"\" \"\"\r\n", command("A1", .login(username: "", password: "")), "empty strings"),
    .init("A1 LOGIN a] b]\r\n", command("A1", .login(username: "a]", password: "b]")), "] is an ASTRING-CHAR"),
    .init("A1 LOGIN {0}\r\n {0+}\r\n\r\n", command("A1", .login(username: "", password: "")), "zero-length literals"),
    .init("A1 LOGIN fred {5+}\nab\ncd\n", command("A1", .login(username: "fred", password: "ab\ncd")), "bare LF"),
    .init("a]b NOOP\r\n", command("a]b", .noop), "] in a tag"),
    .init("A1 noop\r\n", command("A1", .noop), "lower case"),
    .init(
        "A1 FETCH 4294967295 FLAGS\r\n", command("A1", .fetch(set(SequenceRange(4_294_967_295)), [.flags], .init())),
        "the largest nz-number"),
    .init(
        "A1 FETCH 01:002 FAST\r\n", command("A1", .fetch(set(SequenceRange(1, 2)), FetchAttribute.fastMacro, .init())),
        "leading zeros"),
    .init(
        "A1 FETCH *:4,1 ALL\r\n",
        command(
            "A1", .fetch(set(SequenceRange(.largest, .number(4)), SequenceRange(1)), FetchAttribute.allMacro, .init())),
        "order kept"),
    .init(
        "A1 FETCH 1 (BODY.PEEK[1.2.MIME] BODY[1.TEXT]<0.2048> BODY[HEADER.FIELDS.NOT (Received x-spam)] BODY[3] BODY[] BODYSTRUCTURE BODY UID MODSEQ RFC822 RFC822.TEXT)\r\n",
        command(
            "A1",
            .fetch(
                set(SequenceRange(1)),
                [
                    body(.mime, part: [1, 2], peek: true),
                    .bodySection(
                        SectionSpecifier(part: [1], kind: .text), partial: FetchAttribute.Partial(offset: 0, length: 2048), peek: false),
                    body(.headerFieldsNot(["Received", "x-spam"])), body(.complete, part: [3]), body(.complete),
                    .bodyStructure, .body, .uid, .modSeq, .rfc822, .rfc822Text,
                ], .init()))),
    .init(
        "A1 FETCH 1 body.peek[header.fields (\"Subject\" {4}\r\nDate)]\r\n",
        command("A1", .fetch(set(SequenceRange(1)), [body(.headerFields(["Subject", "Date"]), peek: true)], .init())),
        "header names as quoted strings and literals"),
    .init(
        "A1 FETCH 1 (FLAGS) (CHANGEDSINCE 0)\r\n",
        command("A1", .fetch(set(SequenceRange(1)), [.flags], .init(changedSince: 0))), "leniency: CHANGEDSINCE 0"),
    .init(
        "A1 FETCH 1 BODY[]<9223372036854775807.1>\r\n",
        command(
            "A1",
            .fetch(
                set(SequenceRange(1)),
                [
                    .bodySection(
                        SectionSpecifier(), partial: FetchAttribute.Partial(offset: 9_223_372_036_854_775_807, length: 1), peek: false)
                ],
                .init())), "the largest number64"),
    .init(
        "A1 STORE 1:* FLAGS ()\r\n",
        command("A1", .store(set(toLargest(1)), .init(.replace, []), unchangedSince: nil)), "clear all flags"),
    .init(
        "A1 UID STORE 5 -FLAGS.SILENT $Junk NonJunk \\Answered\r\n",
        command(
            "A1",
            .uidStore(
                set(SequenceRange(5)),
                .init(.remove, silent: true, [.keyword("$Junk"), .keyword("NonJunk"), .answered]),
                unchangedSince: nil)), "flags without parentheses"),
    .init(
        "A1 STORE 1 (UNCHANGEDSINCE 0) FLAGS (\\Draft \\SEEN)\r\n",
        command("A1", .store(set(SequenceRange(1)), .init(.replace, [.draft, .seen]), unchangedSince: 0)),
        "UNCHANGEDSINCE 0; system flags case-insensitive"),
    .init(
        "A1 UID SEARCH OR (SEEN FLAGGED) NOT (1:5 DELETED)\r\n",
        command(
            "A1",
            .uidSearch(
                search(.or(.and([.seen, .flagged]), .not(.and([.sequenceSet(set(SequenceRange(1, 5))), .deleted]))))))),
    .init(
        "A1 SEARCH ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n",
        command(
            "A1",
            .search(
                search(
                    .and([
                        .all, .answered, .deleted, .draft, .flagged, .new, .old, .recent, .seen, .unanswered,
                        .undeleted, .undraft, .unflagged, .unseen,
                    ]))))),
    .init(
        "A1 SEARCH BCC a CC \"b c\" BODY d SUBJECT {2}\r\nef TO g HEADER X-Spam yes KEYWORD $Junk UNKEYWORD NonJunk\r\n",
        command(
            "A1",
            .search(
                search(
                    .and([
                        .bcc("a"), .cc("b c"), .body("d"), .subject("ef"), .to("g"), .header("X-Spam", "yes"),
                        .keyword("$Junk"), .unkeyword("NonJunk"),
                    ]))))),
    .init(
        "A1 SEARCH BEFORE 1-Jan-2024 ON \"29-Feb-2024\" SENTBEFORE 31-dec-1999 SENTON 01-JAN-2000 SENTSINCE 2-Mar-2001\r\n",
        command(
            "A1",
            .search(
                search(
                    .and([
                        .before(date(2024, 1, 1)), .on(date(2024, 2, 29)), .sentBefore(date(1999, 12, 31)),
                        .sentOn(date(2000, 1, 1)), .sentSince(date(2001, 3, 2)),
                    ]))))),
    .init(
        "A1 SEARCH LARGER 1000 SMALLER 9223372036854775807 YOUNGER 3600 OLDER 60 UID 1:* 2,4 $\r\n",
        command(
            "A1",
            .search(
                search(
                    .and([
                        .larger(1000), .smaller(9_223_372_036_854_775_807), .younger(3600), .older(60),
                        .uid(set(toLargest(1))), .sequenceSet(set(SequenceRange(2), SequenceRange(4))),
                        .sequenceSet(.lastCommandResult),
                    ]))))),
    .init(
        "A1 SEARCH CHARSET \"us-ascii\" (ALL)\r\n",
        command("A1", .search(search(.and([.all]), charset: "US-ASCII"))), "a parenthesised key stays an .and"),
    .init(
        "A1 SEARCH return (min max all count) all\r\n",
        command("A1", .search(search(.all, returning: [.min, .max, .all, .count])))),
    .init(
        "A1 LIST \"\" {3+}\r\na/%\r\n", command("A1", list("", ["a/%"])), "a pattern as a literal"),
    .init(
        "A1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ)\r\n",
        command("A1", .status(.inbox, StatusAttribute.allCases))),
    .init(
        "A1 CREATE Archive (USE ())\r\n", command("A1", .create(MailboxName("Archive"), specialUse: [])), "empty USE"),
]

// MARK: - Refused commands

private let failureFixtures: [FailureFixture] = [
    // Tags and command names (RFC 9051 §7.1.3: untagged when there is no tag)
    .init("", "* BAD Empty command line"),
    .init("   ", "* BAD Missing tag", "a line of spaces"),
    .init(" A1 NOOP", "* BAD Missing tag", "leading space"),
    .init("* LOGIN a b", "* BAD Invalid tag"),
    .init("+ NOOP", "* BAD Invalid tag"),
    .init("a+b NOOP", "* BAD Invalid tag", "+ is not allowed in a tag"),
    .init("a(b NOOP", "* BAD Invalid tag"),
    .init("a\"b NOOP", "* BAD Invalid tag"),
    .init("A1", "A1 BAD Missing command"),
    .init("A1 ", "A1 BAD Missing command"),
    .init("A1  NOOP", "A1 BAD Missing command", "two spaces"),
    .init("A1 FOO", "A1 BAD Unknown command"),
    .init("A1 NOOPX", "A1 BAD Unknown command"),
    .init("A1 UID NOOP", "A1 BAD Unknown UID command"),
    .init("A1 UID", "A1 BAD Missing UID command"),
    .init("GET / HTTP/1.1", "GET BAD Unknown command"),
    .init("A1 NOOP x", "A1 BAD Unexpected data after the command"),
    .init("A1 NOOP ", "A1 BAD Unexpected data after the command", "trailing space"),
    // Sequence sets and numbers
    .init("A1 FETCH 0 FLAGS", "A1 BAD Invalid sequence number 0"),
    .init("A1 FETCH 1:0 FLAGS", "A1 BAD Invalid sequence number 0"),
    .init("A1 FETCH 00 FLAGS", "A1 BAD Invalid sequence number 0"),
    .init("A1 FETCH 4294967296 FLAGS", "A1 BAD Number too large", "2^32"),
    .init("A1 FETCH 99999999999999999999999 FLAGS", "A1 BAD Number too large"),
    .init("A1 FETCH 1:*:3 FLAGS", "A1 BAD Expected a space"),
    .init("A1 FETCH -1 FLAGS", "A1 BAD Invalid sequence set"),
    .init("A1 FETCH 1, FLAGS", "A1 BAD Invalid sequence set"),
    .init("A1 FETCH ,1 FLAGS", "A1 BAD Invalid sequence set"),
    .init("A1 FETCH 1: FLAGS", "A1 BAD Invalid sequence set"),
    .init("A1 FETCH $,1 FLAGS", "A1 BAD Expected a space", "$ stands alone"),
    .init("A1 UID EXPUNGE *:0", "A1 BAD Invalid sequence number 0"),
    .init("A1 UID EXPUNGE", "A1 BAD Missing arguments"),
    // FETCH
    .init("A1 FETCH 1", "A1 BAD Missing arguments"),
    .init("A1 FETCH 1 (FLAGS", "A1 BAD Expected ) after the fetch items", "unbalanced"),
    .init("A1 FETCH 1 FLAGS)", "A1 BAD Unexpected data after the command", "unbalanced"),
    .init("A1 FETCH 1 ((FLAGS))", "A1 BAD Unknown fetch item"),
    .init("A1 FETCH 1 ()", "A1 BAD Unknown fetch item"),
    .init("A1 FETCH 1 (ALL)", "A1 BAD Unknown fetch item", "macros stand alone"),
    .init("A1 FETCH 1 BODY.PEEK", "A1 BAD BODY.PEEK needs a section"),
    .init("A1 FETCH 1 BODY[MIME]", "A1 BAD Invalid section", "MIME needs a part"),
    .init("A1 FETCH 1 BODY[1.FOO]", "A1 BAD Invalid section"),
    .init("A1 FETCH 1 BODY[0]", "A1 BAD Invalid part number 0"),
    .init("A1 FETCH 1 BODY[HEADER", "A1 BAD Expected ] after the section"),
    .init("A1 FETCH 1 BODY[HEADER.FIELDS ()]", "A1 BAD Expected a string"),
    .init("A1 FETCH 1 BODY[HEADER.FIELDS (A:B)]", "A1 BAD Invalid header field name"),
    .init("A1 FETCH 1 BODY[]<0.0>", "A1 BAD Invalid length 0"),
    .init("A1 FETCH 1 BODY[]<1>", "A1 BAD Expected . in the partial range"),
    .init("A1 FETCH 1 BINARY.SIZE[1]<0.1>", "A1 BAD Unexpected data after the command"),
    .init("A1 FETCH 1 (FLAGS) (VANISHED)", "A1 BAD VANISHED is only allowed with UID FETCH"),
    .init("A1 UID FETCH 1 (FLAGS) (VANISHED)", "A1 BAD VANISHED needs CHANGEDSINCE"),
    .init("A1 FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)", "A1 BAD Number too large", "2^63"),
    .init("A1 FETCH 1 (FLAGS) (FOO)", "A1 BAD Unknown fetch modifier"),
    // STORE and flags
    .init("A1 STORE 1 +FLAGS (\\Recent)", "A1 BAD \\Recent cannot be set"),
    .init("A1 STORE 1 +FLAGS (\\Foo)", "A1 BAD Unknown system flag"),
    .init("A1 STORE 1 FLAGZ (\\Seen)", "A1 BAD Expected FLAGS, +FLAGS or -FLAGS"),
    .init("A1 STORE 1 +FLAGS (\\Seen", "A1 BAD Expected ) after the flags"),
    .init("A1 STORE 1 +FLAGS (\\)", "A1 BAD Invalid flag"),
    .init("A1 STORE 1 (UNCHANGEDSINCE 1 UNCHANGEDSINCE 2) FLAGS ()", "A1 BAD UNCHANGEDSINCE given twice"),
    // SEARCH
    .init("A1 SEARCH", "A1 BAD Missing arguments"),
    .init("A1 SEARCH FOO", "A1 BAD Unknown search key"),
    .init("A1 SEARCH CHARSET ISO-8859-1 TEXT x", "A1 NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"),
    .init("A1 SEARCH SINCE 30-Feb-2024", "A1 BAD Invalid date"),
    .init("A1 SEARCH SINCE 29-Feb-2023", "A1 BAD Invalid date", "not a leap year"),
    .init("A1 SEARCH SINCE 1-Foo-2024", "A1 BAD Invalid date"),
    .init("A1 SEARCH SINCE 1-Jan-24", "A1 BAD Invalid date"),
    .init("A1 SEARCH ((SEEN)", "A1 BAD Expected ) after the search keys", "unbalanced"),
    .init("A1 SEARCH (SEEN))", "A1 BAD Unexpected data after the command", "unbalanced"),
    .init("A1 SEARCH ()", "A1 BAD Unknown search key"),
    .init("A1 SEARCH OR SEEN", "A1 BAD Missing arguments"),
    .init("A1 SEARCH NOT", "A1 BAD Missing arguments"),
    .init("A1 SEARCH 1:*:3", "A1 BAD Unexpected data after the command"),
    .init("A1 SEARCH RETURN (BOGUS) ALL", "A1 BAD Unknown search return option"),
    .init("A1 SEARCH LARGER -1", "A1 BAD Expected a number"),
    .init("A1 SEARCH KEYWORD \\Seen", "A1 BAD Expected an atom"),
    .init("A1 SEARCH MODSEQ \"/flags/\\\\draft\" both 1", "A1 BAD Invalid MODSEQ entry type"),
    .init("A1 SEARCH MODSEQ \"/other\" all 1", "A1 BAD Invalid MODSEQ entry name"),
    // Strings
    .init("A1 LOGIN a", "A1 BAD Missing arguments"),
    .init("A1 LOGIN \"a b", "A1 BAD Unterminated quoted string"),
    .init("A1 LOGIN \"a\\x\" b", "A1 BAD Invalid escape in quoted string"),
    .init("A1 LOGIN a b c", "A1 BAD Unexpected data after the command"),
    .init("A1 LOGIN (a) b", "A1 BAD Expected a string"),
    .init(bytes: bytes("A1 LOGIN \"a") + [0xC3, 0x28] + bytes("\" b"), "A1 BAD Invalid UTF-8 in quoted string"),
    .init(bytes: bytes("A1 LOGIN \"") + [0xED, 0xA0, 0x80] + bytes("\" b"), "A1 BAD Invalid UTF-8 in quoted string"),
    .init(bytes: bytes("A1 LOGIN {2}\r\n") + [0xFF, 0xFE] + bytes(" b"), "A1 BAD Invalid UTF-8 in user name"),
    .init(bytes: bytes("A1 SELECT ") + [0xC3, 0xA4], "A1 BAD Non-ASCII text must be quoted"),
    .init(bytes: bytes("A1 SELECT a") + [0xC3, 0xA4], "A1 BAD Unexpected data after the command"),
    .init("A1 SELECT {3}\r\na\tb", "A1 BAD Invalid character in mailbox name"),
    .init("A1 SELECT {4}\r\na\r\nb", "A1 BAD Invalid character in mailbox name", "CRLF in a literal name"),
    // NUL, CR and LF
    .init(bytes: bytes("A1 NOOP\0"), "A1 BAD Invalid character in command"),
    .init(bytes: bytes("A1 LOGIN a\0 b"), "A1 BAD Invalid character in command"),
    .init(bytes: bytes("A1 LOGIN \"a\0\" b"), "A1 BAD Invalid character in command", "NUL in a quoted string"),
    .init(bytes: bytes("A1 LOGIN \"a\rb\" c"), "A1 BAD Invalid character in command", "bare CR"),
    .init(bytes: bytes("A1 LOGIN {3}\r\na\0b c"), "A1 BAD NUL in literal"),
    .init(bytes: bytes("\0\0\0"), "* BAD Invalid tag", "binary"),
    .init(bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01], "* BAD Invalid tag", "a TLS ClientHello"),
    // Literals in the wrong place
    .init("A1 LOGIN ~{3}\r\nabc b", "A1 BAD Binary literal not allowed here"),
    .init("A1 LOGIN a{3}\r\nabc", "A1 BAD Expected a space"),
    .init("A1 STORE 1 FLAGS {5}\r\n\\Seen", "A1 BAD Invalid flag"),
    .init("A1{3}\r\nabc", "A1 BAD Missing command"),
    .init("A1 {4}\r\nNOOP", "A1 BAD Missing command"),
    .init("A1 LOGIN {-5}", "A1 BAD Expected a string", "a negative size is no literal"),
    .init("A1 LOGIN \"a {5}", "A1 BAD Unterminated quoted string", "inside a quoted string: no literal"),
    // Mailbox commands
    .init("A1 LIST (RECURSIVEMATCH) \"\" %", "A1 BAD RECURSIVEMATCH needs another selection option"),
    .init("A1 LIST (REMOTE RECURSIVEMATCH) \"\" %", "A1 BAD RECURSIVEMATCH needs another selection option"),
    .init("A1 LIST (BOGUS) \"\" %", "A1 BAD Unknown LIST selection option"),
    .init("A1 LIST \"\" % RETURN (BOGUS)", "A1 BAD Unknown LIST return option"),
    .init("A1 LIST \"\" % BOGUS", "A1 BAD Expected RETURN"),
    .init("A1 LIST \"\" (%", "A1 BAD Expected ) after the patterns"),
    .init("A1 LIST \"\"", "A1 BAD Missing arguments"),
    .init("A1 STATUS INBOX ()", "A1 BAD Expected an atom"),
    .init("A1 STATUS INBOX (FOO)", "A1 BAD Unknown status item"),
    .init("A1 STATUS INBOX MESSAGES", "A1 BAD Expected ( before the status items"),
    .init("A1 SELECT INBOX (FOO)", "A1 BAD Unknown select parameter"),
    .init("A1 SELECT INBOX ()", "A1 BAD Unknown select parameter"),
    .init("A1 SELECT INBOX (QRESYNC (0 1))", "A1 BAD Invalid UIDVALIDITY 0"),
    .init("A1 SELECT INBOX (QRESYNC (1 0))", "A1 BAD Invalid mod-sequence 0"),
    .init("A1 SELECT INBOX (QRESYNC (1 2 1:*))", "A1 BAD Invalid known UIDs"),
    .init("A1 CREATE x (USE (Sent))", "A1 BAD Invalid special-use attribute"),
    .init("A1 CREATE x (FOO)", "A1 BAD Unknown create parameter"),
    .init("A1 APPEND INBOX", "A1 BAD Missing arguments"),
    .init("A1 APPEND INBOX (\\Seen)", "A1 BAD Missing arguments"),
    .init("A1 APPEND INBOX x", "A1 BAD Expected the message as a literal"),
    .init("A1 APPEND INBOX (\\Recent) {1}\r\nx", "A1 BAD \\Recent cannot be set"),
    .init("A1 APPEND INBOX \"1-Jan-2024\" {1}\r\nx", "A1 BAD Invalid date-time"),
    .init("A1 APPEND INBOX \"01-Jan-2024 24:00:00 +0000\" {1}\r\nx", "A1 BAD Invalid date-time"),
    .init("A1 APPEND INBOX \"01-Jan-2024 12:00:00 +0060\" {1}\r\nx", "A1 BAD Invalid date-time"),
    .init("A1 APPEND INBOX {3}\r\na\0b", "A1 BAD NUL in a message: send it as a binary literal ~{n}"),
    .init("A1 APPEND INBOX {1}\r\nx y", "A1 BAD Expected the message as a literal"),
    // AUTHENTICATE, ENABLE
    .init("A1 AUTHENTICATE PLAIN abc", "A1 BAD Invalid base64 in initial response"),
    .init("A1 AUTHENTICATE PLAIN ab=c", "A1 BAD Invalid base64 in initial response"),
    .init("A1 AUTHENTICATE PL@IN", "A1 BAD Invalid mechanism name"),
    .init("A1 AUTHENTICATE ABCDEFGHIJKLMNOPQRSTU", "A1 BAD Invalid mechanism name", "21 characters"),
    .init("A1 AUTHENTICATE", "A1 BAD Missing arguments"),
    .init("A1 ENABLE", "A1 BAD Missing arguments"),
    .init("A1 ENABLE (X)", "A1 BAD Expected a capability name"),
    // Incomplete input
    .init("A1 LOGIN {5}\r\nab", "* BAD Incomplete command"),
    .init("A1 NOOP\r\nA2 NOOP\r\n", "A1 BAD Unexpected data after the command", "two commands"),
]

// MARK: - Tests

private let validFixtures = rfcExamples + extensionExamples + grammarFixtures

@Suite("IMAP command parser")
struct IMAPCommandParserTests {
    @Test(arguments: validFixtures)
    func parses(_ fixture: CommandFixture) throws {
        let command = try IMAPCommandParser.parse(fixture.input).get()
        #expect(command == fixture.expected)
    }

    /// STYLE.md §8: every fixture also runs split at every byte boundary, and byte by
    /// byte, through the framer as a session drives it.
    @Test(arguments: validFixtures)
    func parsesSplitAtEveryBoundary(_ fixture: CommandFixture) {
        for boundary in 0...fixture.input.count {
            var driver = FramerDriver()
            driver.feed(fixture.input, splitAt: [boundary])
            #expect(driver.results == [.command(fixture.expected)], "split at \(boundary)")
            #expect(driver.pending.isEmpty)
            #expect(!driver.framer.isInCommand)
        }
        var driver = FramerDriver()
        driver.feedBytewise(fixture.input)
        #expect(driver.results == [.command(fixture.expected)], "byte by byte")
    }

    @Test(arguments: failureFixtures)
    func refuses(_ fixture: FailureFixture) {
        switch IMAPCommandParser.parse(fixture.input) {
        case .success(let command):
            Issue.record("parsed as \(command)")
        case .failure(let error):
            #expect(error.response.description == fixture.response)
            #expect(String(buffer: error.response.encoded) == fixture.response + "\r\n")
            #expect(!error.closesConnection)
        }
    }

    @Test func rfcAppendMessageIs326Octets() {
        #expect(rfcMessage.utf8.count == 326)
    }

    @Test func tagIsKeptExactly() throws {
        let command = try IMAPCommandParser.parse(bytes("x.y_Z-9]! NOOP")).get()
        #expect(command.tag == "x.y_Z-9]!")
    }

    @Test func unknownCommandsAreMarkedUnrecognized() {
        for line in ["A1 FOO", "* NOOP", "", "GET / HTTP/1.1", "A1 UID BAR"] {
            guard case .failure(let error) = IMAPCommandParser.parse(bytes(line)) else {
                Issue.record("\(line) parsed")
                continue
            }
            #expect(error.kind == .unrecognized, "\(line)")
        }
        guard case .failure(let error) = IMAPCommandParser.parse(bytes("A1 FETCH 0 FLAGS")) else {
            Issue.record("parsed")
            return
        }
        #expect(error.kind == .syntax)
    }

    /// The description never shows a password, SASL data or message content.
    @Test func descriptionRedactsSecrets() throws {
        let login = try IMAPCommandParser.parse(bytes("A1 LOGIN fred hunter2")).get()
        #expect(login.description == "A1 LOGIN \"fred\" <redacted>")
        #expect(!String(reflecting: login).contains("hunter2"))
        #expect(!"\(login)".contains("hunter2"))
        let authenticate = try IMAPCommandParser.parse(bytes("A2 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=")).get()
        #expect(authenticate.description == "A2 AUTHENTICATE PLAIN <redacted>")
        #expect(String(describing: login.kind) == "LOGIN \"fred\" <redacted>")
        #expect(!String(reflecting: login.kind).contains("hunter2"))
        let append = try IMAPCommandParser.parse(bytes("A3 APPEND INBOX {6}\r\nsecret\r\n")).get()
        #expect(append.description.hasPrefix("A3 APPEND \"INBOX\" "))
        #expect(append.description.contains("6 octets"))
        #expect(!String(reflecting: append).contains("secret"))
        #expect(!String(describing: append.kind).contains("115, 101, 99"))  // "sec" as bytes
        let fetch = try IMAPCommandParser.parse(bytes("A4 UID FETCH 1:* FLAGS")).get()
        #expect(fetch.description.hasPrefix("A4 UID FETCH 1:* "))
    }

    @Test func commandNames() throws {
        #expect(try IMAPCommandParser.parse(bytes("A1 UID SEARCH ALL")).get().name == "UID SEARCH")
        #expect(try IMAPCommandParser.parse(bytes("A1 starttls")).get().name == "STARTTLS")
    }

    /// Sequence sets print in wire form and resolve `*` and reversed ranges.
    @Test func sequenceSets() {
        let value = set(SequenceRange(1, 3), SequenceRange(5), SequenceRange(.largest, .number(7)))
        #expect(value.description == "1:3,5,*:7")
        #expect(SequenceSet.lastCommandResult.description == "$")
        #expect(SequenceRange(.largest, .number(7)).resolved(largest: 10) == 7...10)
        #expect(SequenceRange(.largest, .number(70)).resolved(largest: 10) == 10...70)
        #expect(value.containsLargest)
        #expect(!set(SequenceRange(1)).containsLargest)
    }

    @Test func dates() throws {
        #expect(IMAPDate(year: 2024, month: 2, day: 29) != nil)
        #expect(IMAPDate(year: 2023, month: 2, day: 29) == nil)
        #expect(IMAPDate(year: 1900, month: 2, day: 29) == nil)
        #expect(IMAPDate(year: 2000, month: 2, day: 29) != nil)
        #expect(IMAPDate(year: 2024, month: 4, day: 31) == nil)
        #expect(IMAPDate(year: 2024, month: 13, day: 1) == nil)
        #expect(IMAPDate(year: 2024, month: 1, day: 0) == nil)
        #expect(date(1970, 1, 1).daysSince1970 == 0)
        #expect(date(1969, 12, 31).daysSince1970 == -1)
        #expect(date(2000, 3, 1).daysSince1970 == 11_017)
        #expect(date(1994, 2, 1).description == "1-Feb-1994")
        #expect(date(1994, 2, 1) < date(1994, 2, 2))
        // RFC 9051 §6.3.12's date: 1994-02-08T05:52:25Z
        #expect(appendDate.secondsSince1970 == 760_686_745)
        #expect(appendDate.description == " 7-Feb-1994 21:52:25 -0800")
    }

    @Test func dateTimeRoundTrips() throws {
        for text in ["07-Feb-1994 21:52:25 -0800", "31-Dec-1999 23:59:60 +1400", "01-Jan-2000 00:00:00 +0000"] {
            let command = try IMAPCommandParser.parse(bytes("A1 APPEND INBOX \"\(text)\" {1}\r\nx")).get()
            guard case .append(_, let messages) = command.kind, let date = messages.first?.internalDate else {
                Issue.record("no date in \(command)")
                continue
            }
            let printed = date.description
            let reparsed = try IMAPCommandParser.parse(bytes("A1 APPEND INBOX \"\(printed)\" {1}\r\nx")).get()
            #expect(reparsed == command, "\(text) → \(printed)")
        }
    }
}
