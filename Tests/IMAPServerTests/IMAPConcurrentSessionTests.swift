import IMAPProtocol
import MailStore
import Testing

@testable import IMAPServer

@Suite("IMAP: two sessions on one mailbox, and IDLE")
struct IMAPConcurrentSessionTests {
    let server = IMAPTestServer()
    let alice = TestAccounts.alice

    /// Two IMAP4rev2 sessions (no \Recent to think about) with INBOX selected.
    func twoSessions(messages: Int) async -> (IMAPTestClient, IMAPTestClient) {
        for index in 0..<messages { server.store.deliver(Messages.simple(subject: "m\(index + 1)"), to: alice) }
        var clients: [IMAPTestClient] = []
        for _ in 0..<2 {
            let client = await server.loggedIn()
            _ = await client.command("e1 ENABLE IMAP4rev2")
            _ = await client.command("e2 SELECT INBOX")
            clients.append(client)
        }
        return (clients[0], clients[1])
    }

    func append(_ client: IMAPTestClient, _ message: String = Messages.simple()) async -> [String] {
        await client.command("p1 APPEND INBOX {\(message.utf8.count)+}\r\n" + message)
    }

    // MARK: - Updates at NOOP

    @Test func otherSessionSeesNewMessageAtNoop() async {
        let (a, b) = await twoSessions(messages: 1)
        let appended = await append(a)
        #expect(appended.first == "* 2 EXISTS")
        #expect(await b.command("n1 NOOP") == ["* 2 EXISTS", "n1 OK NOOP completed"])
        #expect(await b.command("n2 NOOP") == ["n2 OK NOOP completed"])
    }

    @Test func deliverySeenAtNoop() async {
        let (a, _) = await twoSessions(messages: 0)
        server.store.deliver(Messages.simple(), to: alice)
        #expect(await a.command("n1 CHECK") == ["* 1 EXISTS", "n1 OK CHECK completed"])
    }

    /// IMAP4rev1: a new message is \Recent for a session that selected the mailbox before it came.
    @Test func deliveryIsRecentForIMAP4rev1() async {
        let client = await server.selected()
        server.store.deliver(Messages.simple(), to: alice)
        #expect(await client.command("n1 NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n1 OK NOOP completed"])
        #expect(await client.command("f1 FETCH 1 FLAGS") == ["* 1 FETCH (FLAGS (\\Recent))", "f1 OK FETCH completed"])
        #expect(await client.command("s1 SEARCH RECENT") == ["* SEARCH 1", "s1 OK SEARCH completed"])
    }

    /// \Recent survives a restart: the store keeps where the last session's news ended,
    /// so mail that came while the server was down is recent for the first session after
    /// it (and only that mail, and only for that session).
    @Test func recentAcrossARestart() async {
        let client = await server.selected()
        server.store.deliver(Messages.simple(), to: alice)
        #expect(await client.command("n1 NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n1 OK NOOP completed"])
        _ = await client.command("l1 LOGOUT")
        // Down; mail comes; up again, with nothing in memory.
        server.store.deliver(Messages.simple(), to: alice)
        let restarted = IMAPTestServer(sharing: server)
        let first = await restarted.loggedIn()
        let selected = await first.command("s1 SELECT INBOX")
        #expect(selected.contains("* 2 EXISTS"))
        #expect(selected.contains("* 1 RECENT"))
        #expect(await first.command("s2 SEARCH RECENT") == ["* SEARCH 2", "s2 OK SEARCH completed"])
        let second = await restarted.loggedIn()
        #expect(await second.command("s3 SELECT INBOX").contains("* 0 RECENT"))
    }

    /// A mailbox made again under the same name (new UIDVALIDITY) starts its \Recent
    /// afresh: its first messages are recent, whatever the old one's UIDs reached.
    @Test func recentStartsAfreshInAMailboxMadeAgain() async {
        let client = await server.loggedIn()
        _ = await client.command("c1 CREATE Work")
        _ = await client.command("s1 SELECT Work")
        for _ in 0..<3 { server.store.deliver(Messages.simple(), to: alice, mailbox: "Work") }
        #expect(await client.command("n1 NOOP").contains("* 3 RECENT"))
        _ = await client.command("u1 UNSELECT")
        _ = await client.command("d1 DELETE Work")
        _ = await client.command("c2 CREATE Work")
        _ = await client.command("s2 SELECT Work")
        server.store.deliver(Messages.simple(), to: alice, mailbox: "Work")
        #expect(await client.command("n2 NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n2 OK NOOP completed"])
    }

    @Test func otherSessionSeesFlagChangesAtNoop() async {
        let (a, b) = await twoSessions(messages: 2)
        _ = await a.command("s1 STORE 2 +FLAGS (\\Flagged)")
        #expect(await b.command("n1 NOOP") == ["* 2 FETCH (FLAGS (\\Flagged))", "n1 OK NOOP completed"])
    }

    @Test func otherSessionSeesExpungeAtNoop() async {
        let (a, b) = await twoSessions(messages: 3)
        _ = await a.command("s1 STORE 2 +FLAGS.SILENT (\\Deleted)")
        let expunge = await a.command("x1 EXPUNGE")
        #expect(expunge.first == "* 2 EXPUNGE")
        let reply = await b.command("n1 NOOP")
        #expect(reply.first == "* 2 EXPUNGE")
        #expect(reply.last == "n1 OK NOOP completed")
        #expect(applyExpunges(reply, to: [1, 2, 3]) == [1, 3])
        #expect(await b.command("f1 FETCH 2 UID") == ["* 2 FETCH (UID 3)", "f1 OK FETCH completed"])
    }

    /// RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH (by number), so the
    /// client's message numbers stay right; it comes at the next NOOP.
    @Test func noExpungeDuringFetchStoreOrSearch() async {
        let (a, b) = await twoSessions(messages: 3)
        _ = await a.command("s1 STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = await a.command("x1 EXPUNGE")

        let fetch = await b.command("f1 FETCH 1:3 UID")
        #expect(!fetch.contains { $0.contains("EXPUNGE") })
        #expect(fetch.last == "f1 OK FETCH completed")
        #expect(fetch.contains("* 3 FETCH (UID 3)"))

        let store = await b.command("f2 STORE 3 +FLAGS (\\Seen)")
        #expect(!store.contains { $0.contains("EXPUNGE") })
        #expect(store == ["* 3 FETCH (FLAGS (\\Seen))", "f2 OK STORE completed"])

        let search = await b.command("f3 SEARCH ALL")
        #expect(!search.contains { $0.contains("EXPUNGE") })
        #expect(search.first == "* ESEARCH (TAG \"f3\") ALL 1:3")

        let noop = await b.command("n1 NOOP")
        #expect(noop.first == "* 1 EXPUNGE")
        #expect(noop.last == "n1 OK NOOP completed")
        #expect(await b.command("f4 FETCH 1:* UID") == ["* 1 FETCH (UID 2)", "* 2 FETCH (UID 3)", "f4 OK FETCH completed"])
    }

    /// A FETCH of a message another session expunged: the others are still answered,
    /// and the tagged NO [EXPUNGEISSUED] says why one is missing (RFC 9051 §7.1).
    @Test func fetchBodyOfAMessageExpungedMeanwhile() async {
        let (a, b) = await twoSessions(messages: 2)
        _ = await a.command("s1 STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = await a.command("x1 EXPUNGE")
        let reply = await b.command("f1 FETCH 1:2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        #expect(reply.last?.hasPrefix("f1 NO [EXPUNGEISSUED]") == true)
        #expect(reply.contains("* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {15}"))
        #expect(!reply.contains { $0.hasSuffix(" EXPUNGE") })
    }

    // MARK: - IDLE (RFC 2177)

    @Test func doneEndsIdleWithTaggedOK() async {
        let client = await server.selected()
        await client.send("a1 IDLE\r\n")
        _ = client.takeLines()
        await client.send("DONE\r\n")
        #expect(client.takeLines() == ["a1 OK IDLE terminated"])
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
    }

    @Test func idleReportsAnAppendByAnotherSession() async {
        let (a, b) = await twoSessions(messages: 1)
        await b.send("i1 IDLE\r\n")
        #expect(b.takeLines() == ["+ idling"])
        _ = await append(a)
        // The wait wakes (the store posts to the notifier, or the check interval passes).
        await b.runSpawned()
        #expect(b.takeLines() == ["* 2 EXISTS"])
        // And waits again.
        #expect(b.spawned.count == 1)
        await b.send("DONE\r\n")
        #expect(b.takeLines() == ["i1 OK IDLE terminated"])
    }

    @Test func idleWakeEventReportsChanges() async {
        let (a, b) = await twoSessions(messages: 2)
        await b.send("i1 IDLE\r\n")
        _ = b.takeLines()
        _ = await a.command("s1 STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = await a.command("x1 EXPUNGE")
        // The first IDLE of the session is generation 1.
        await b.complete(.idleWake(generation: 1))
        #expect(b.takeLines() == ["* 1 EXPUNGE"])
    }

    @Test func idleWithoutNotifierPollsTheMailbox() async {
        let server = IMAPTestServer(useNotifier: false)
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        await client.send("i1 IDLE\r\n")
        _ = client.takeLines()
        server.store.deliver(Messages.simple(), to: alice)
        await client.runSpawned()
        #expect(client.takeLines() == ["* 2 EXISTS", "* 1 RECENT"])
    }

    /// A wake from an IDLE that has ended is dropped.
    @Test func staleIdleWakeIsIgnored() async {
        let client = await server.selected()
        await client.send("i1 IDLE\r\nDONE\r\n")
        #expect(client.takeLines() == ["+ idling", "i1 OK IDLE terminated"])
        server.store.deliver(Messages.simple(), to: alice)
        await client.runSpawned()
        #expect(client.takeLines() == [])
        #expect(client.spawned.isEmpty)
    }

    @Test func idleExpectsDone() async {
        let client = await server.selected()
        await client.send("i1 IDLE\r\n")
        _ = client.takeLines()
        await client.send("i2 NOOP\r\n")
        #expect(client.takeLines() == ["i1 BAD Expected DONE"])
    }

    @Test func idleInAuthenticatedState() async {
        let client = await server.loggedIn()
        await client.send("i1 IDLE\r\nDONE\r\n")
        #expect(client.takeLines() == ["+ idling", "i1 OK IDLE terminated"])
    }

    /// Changes made while idling but not yet reported come before IDLE's tagged OK.
    @Test func doneReportsPendingChanges() async {
        let client = await server.selected()
        await client.send("i1 IDLE\r\n")
        _ = client.takeLines()
        server.store.deliver(Messages.simple(), to: alice)
        await client.send("DONE\r\n")
        #expect(client.takeLines() == ["* 1 EXISTS", "* 1 RECENT", "i1 OK IDLE terminated"])
    }

    /// RFC 9051 §7.5.1: UID commands may be told of expunges.
    @Test func uidFetchMayReportExpunges() async {
        let (a, b) = await twoSessions(messages: 2)
        _ = await a.command("s1 STORE 1 +FLAGS.SILENT (\\Deleted)")
        _ = await a.command("x1 EXPUNGE")
        let reply = await b.command("f1 UID FETCH 1:* FLAGS")
        #expect(reply.last == "f1 OK UID FETCH completed")
        #expect(reply.contains("* 1 EXPUNGE"))
        // Every FETCH line came before the EXPUNGE: its numbers were right when read.
        let expungeIndex = reply.firstIndex(of: "* 1 EXPUNGE") ?? 0
        #expect(reply[..<expungeIndex].allSatisfy { $0.contains("FETCH") })
    }

    @Test func sessionsOfDifferentAccountsAreSeparate() async {
        server.store.deliver(Messages.simple(), to: alice)
        let bob = await server.selected(TestAccounts.bob)
        #expect(await bob.command("f1 FETCH 1:* FLAGS") == ["f1 OK FETCH completed"])
        #expect(await bob.command("s1 STATUS INBOX (MESSAGES)") == ["* STATUS INBOX (MESSAGES 0)", "s1 OK STATUS completed"])
    }

    /// RFC 2177: DONE is matched without regard to case.
    @Test func lowercaseDoneEndsIdle() async {
        let client = await server.selected()
        await client.send("i1 IDLE\r\ndone\r\n")
        #expect(client.takeLines() == ["+ idling", "i1 OK IDLE terminated"])
    }

    /// RFC 3501 §2.3.2: \Recent goes to the first session told about a message; "subsequent
    /// sessions will not see \Recent set for this message" — also when both had the
    /// mailbox selected before it arrived.
    @Test func recentGoesToOneOfTwoSessions() async {
        let a = await server.selected()
        let b = await server.selected()
        server.store.deliver(Messages.simple(), to: alice)
        #expect(await a.command("n1 NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n1 OK NOOP completed"])
        #expect(await b.command("n2 NOOP") == ["* 1 EXISTS", "* 0 RECENT", "n2 OK NOOP completed"])
    }
}
