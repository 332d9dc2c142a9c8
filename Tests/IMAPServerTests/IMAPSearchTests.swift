import IMAPProtocol
import MailStore
import Testing

@testable import IMAPServer

@Suite("IMAP SEARCH, ESEARCH and SEARCHRES")
struct IMAPSearchTests {
    let server = IMAPTestServer()
    let alice = TestAccounts.alice

    /// Four messages:
    /// 1. from carol, "Hello", seen, 1 Jan 2020
    /// 2. RFC 2047 subject (こんにちは report), 1 Jul 2003, flagged, a large body
    /// 3. from dave, "Invoice", X-Priority header, 1 Jan 2024
    /// 4. from carol, "Lunch", body mentions "pizza", seen and deleted, 1 Jan 2024
    func mailbox() async -> IMAPTestClient {
        server.store.deliver(
            Messages.simple(from: "Carol <carol@example.net>", subject: "Hello"), to: alice, flags: [.seen],
            internalDate: 1_577_836_800)
        server.store.deliver(
            Messages.multipart + String(repeating: "padding line\r\n", count: 200), to: alice, flags: [.flagged],
            internalDate: 1_057_049_557)
        server.store.deliver(
            Messages.simple(from: "dave@example.org", subject: "Invoice", extraHeaders: "X-Priority: 1\n"), to: alice,
            internalDate: 1_704_067_200)
        server.store.deliver(
            Messages.simple(from: "carol@example.net", subject: "Lunch", body: "Shall we have PIZZA today?"), to: alice,
            flags: [.seen, .deleted], internalDate: 1_704_067_200)
        return await server.selected()
    }

    func search(_ criteria: String) async -> [String] {
        let client = await mailbox()
        return await client.command("s1 SEARCH " + criteria)
    }

    @Test(arguments: [
        ("ALL", "1 2 3 4"),
        ("UNSEEN", "2 3"),
        ("SEEN", "1 4"),
        ("FLAGGED", "2"),
        ("DELETED", "4"),
        ("UNDELETED UNSEEN", "2 3"),
        ("FROM carol", "1 4"),
        ("FROM CAROL@EXAMPLE.NET", "1 4"),
        ("SUBJECT invoice", "3"),
        ("SUBJECT \"こんにちは\"", "2"),
        ("BODY pizza", "4"),
        ("BODY nothing-like-this", ""),
        ("TEXT invoice", "3"),
        ("HEADER X-Priority 1", "3"),
        ("HEADER X-Priority \"\"", "3"),
        ("LARGER 1000", "2"),
        ("SMALLER 1000", "1 3 4"),
        ("SINCE 1-Jan-2024", "3 4"),
        ("BEFORE 1-Jan-2020", "2"),
        ("ON 1-Jan-2020", "1"),
        ("SENTON 1-Jul-2003", "2"),
        ("NOT SEEN", "2 3"),
        ("NOT FROM carol", "2 3"),
        ("OR FLAGGED DELETED", "2 4"),
        ("OR SUBJECT hello BODY pizza", "1 4"),
        ("UID 2:3", "2 3"),
        ("UID 3:*", "3 4"),
        ("2,4", "2 4"),
        ("3:*", "3 4"),
        ("1:2 UNSEEN", "2"),
        ("KEYWORD $Junk", ""),
    ])
    func searchCriteria(criteria: String, expected: String) async {
        let reply = await search(criteria)
        #expect(reply == ["* SEARCH" + (expected.isEmpty ? "" : " " + expected), "s1 OK SEARCH completed"])
    }

    /// UTF-8 search strings as literals with CHARSET (RFC 3501 §6.4.4).
    @Test func searchWithCharsetAndLiteral() async {
        let client = await mailbox()
        let word = "こんにちは"
        let reply = await client.command("s1 SEARCH CHARSET UTF-8 SUBJECT {\(word.utf8.count)+}\r\n\(word)")
        #expect(reply == ["* SEARCH 2", "s1 OK SEARCH completed"])
    }

    @Test func searchWithUnknownCharset() async {
        let client = await mailbox()
        let reply = await client.command("s1 SEARCH CHARSET KOI8-R SUBJECT x")
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("s1 NO [BADCHARSET") == true)
    }

    @Test func uidSearchAnswersUIDs() async {
        let client = await mailbox()
        _ = await client.command("a1 STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = await client.command("a2 EXPUNGE")
        let reply = await client.command("s1 UID SEARCH UNSEEN")
        #expect(reply == ["* SEARCH 2 3", "s1 OK UID SEARCH completed"])
        let numbers = await client.command("s2 SEARCH UNSEEN")
        #expect(numbers == ["* SEARCH 1 2", "s2 OK SEARCH completed"])
    }

    @Test func searchBeyondTheMailboxIsBad() async {
        let reply = await search("7")
        #expect(reply == ["s1 BAD Invalid message sequence number"])
    }

    // MARK: - ESEARCH (RFC 4731)

    @Test func esearchMinMaxCountAll() async {
        let client = await mailbox()
        let reply = await client.command("A282 SEARCH RETURN (MIN MAX COUNT ALL) OR UNSEEN FROM carol")
        #expect(reply == ["* ESEARCH (TAG \"A282\") MIN 1 MAX 4 ALL 1:4 COUNT 4", "A282 OK SEARCH completed"])
        let some = await client.command("A283 SEARCH RETURN (MIN COUNT) UNSEEN")
        #expect(some == ["* ESEARCH (TAG \"A283\") MIN 2 COUNT 2", "A283 OK SEARCH completed"])
    }

    @Test func esearchWithoutMatches() async {
        let client = await mailbox()
        let reply = await client.command("A284 SEARCH RETURN (MIN MAX COUNT) KEYWORD $Nothing")
        #expect(reply == ["* ESEARCH (TAG \"A284\") COUNT 0", "A284 OK SEARCH completed"])
    }

    @Test func esearchEmptyReturnMeansAll() async {
        let client = await mailbox()
        let reply = await client.command("A285 UID SEARCH RETURN () SEEN")
        #expect(reply == ["* ESEARCH (TAG \"A285\") UID ALL 1,4", "A285 OK UID SEARCH completed"])
    }

    /// RFC 9051 §6.4.4: an IMAP4rev2 client always gets ESEARCH.
    @Test func imap4rev2GetsESearch() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice, flags: [.seen])
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        _ = await client.command("e1 ENABLE IMAP4rev2")
        _ = await client.command("e2 SELECT INBOX")
        #expect(await client.command("s1 SEARCH UNSEEN") == ["* ESEARCH (TAG \"s1\") ALL 1,3", "s1 OK SEARCH completed"])
        #expect(await client.command("s2 SEARCH KEYWORD x") == ["* ESEARCH (TAG \"s2\")", "s2 OK SEARCH completed"])
    }

    // MARK: - SEARCHRES (RFC 5182)

    @Test func savedResultIsUsableAsASequenceSet() async {
        let client = await mailbox()
        #expect(await client.command("a1 SEARCH RETURN (SAVE) FROM carol") == ["a1 OK SEARCH completed"])
        let fetch = await client.command("a2 FETCH $ (UID)")
        #expect(fetch == ["* 1 FETCH (UID 1)", "* 4 FETCH (UID 4)", "a2 OK FETCH completed"])
        let uidFetch = await client.command("a3 UID FETCH $ (FLAGS)")
        #expect(uidFetch.count == 3)
        let search = await client.command("a4 SEARCH $ SEEN NOT DELETED")
        #expect(search == ["* SEARCH 1", "a4 OK SEARCH completed"])
    }

    @Test func saveWithOtherReturnOptions() async {
        let client = await mailbox()
        let reply = await client.command("a1 SEARCH RETURN (SAVE MIN) UNSEEN")
        #expect(reply == ["* ESEARCH (TAG \"a1\") MIN 2", "a1 OK SEARCH completed"])
        // RFC 5182 §2.4: with MIN alone, only the minimum is saved.
        #expect(await client.command("a2 FETCH $ UID") == ["* 2 FETCH (UID 2)", "a2 OK FETCH completed"])
    }

    @Test func savedResultIsEmptyAfterSelect() async {
        let client = await mailbox()
        _ = await client.command("a1 SEARCH RETURN (SAVE) ALL")
        _ = await client.command("a2 SELECT INBOX")
        #expect(await client.command("a3 FETCH $ UID") == ["a3 OK FETCH completed"])
    }
}
