import IMAPProtocol
import MailStore
import Testing

@testable import IMAPServer

/// The UIDs left after applying the `* n EXPUNGE` lines, in order, to `uids` (message
/// number n is `uids[n - 1]` at the time of each line).
func applyExpunges(_ lines: [String], to uids: [UInt32]) -> [UInt32]? {
    var remaining = uids
    for line in lines where line.hasSuffix(" EXPUNGE") {
        let parts = line.split(separator: " ")
        guard parts.count == 3, let number = Int(parts[1]), number >= 1, number <= remaining.count else { return nil }
        remaining.remove(at: number - 1)
    }
    return remaining
}

@Suite("IMAP selected state: FETCH, STORE, COPY, MOVE, EXPUNGE, CLOSE")
struct IMAPMessageCommandTests {
    let server = IMAPTestServer()
    let alice = TestAccounts.alice

    func uidValidity(_ mailbox: String = "INBOX") -> UInt32 {
        server.store.contents(of: mailbox, account: alice)?.uidValidity ?? 0
    }

    func flags(_ mailbox: String = "INBOX") -> [SystemFlags] {
        server.store.contents(of: mailbox, account: alice)?.messages.map(\.flags) ?? []
    }

    /// INBOX with RFC 9051's example message (UID 1, 17-Jul-1996 09:23:25 UTC) selected.
    func exampleSelected() async -> IMAPTestClient {
        server.store.deliver(Messages.rfcExample, to: alice, internalDate: 837_595_405)
        return await server.selected()
    }

    // MARK: - FETCH

    @Test func fetchIndexItems() async {
        let client = await exampleSelected()
        let size = Messages.rfcExample.utf8.count
        let reply = await client.command("a1 FETCH 1 (FLAGS UID RFC822.SIZE INTERNALDATE)")
        #expect(
            reply == [
                "* 1 FETCH (FLAGS () UID 1 RFC822.SIZE \(size) INTERNALDATE \"17-Jul-1996 09:23:25 +0000\")",
                "a1 OK FETCH completed",
            ])
    }

    /// RFC 9051 §7.5.2's example ENVELOPE.
    @Test func fetchEnvelope() async {
        let client = await exampleSelected()
        let reply = await client.command("a1 FETCH 1 ENVELOPE")
        let terry = "((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\"))"
        #expect(
            reply == [
                "* 1 FETCH (ENVELOPE (\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" "
                    + "\(terry) \(terry) \(terry) ((NIL NIL \"imap\" \"cac.washington.edu\")) "
                    + "((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) NIL NIL "
                    + "\"<B27397-0100000@cac.washington.edu>\"))",
                "a1 OK FETCH completed",
            ])
    }

    @Test func fetchBodyStructureAndBody() async {
        let client = await exampleSelected()
        let reply = await client.command("a1 FETCH 1 (BODYSTRUCTURE BODY)")
        #expect(
            reply == [
                "* 1 FETCH (BODYSTRUCTURE (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1 NIL NIL NIL NIL) "
                    + "BODY (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 55 1))",
                "a1 OK FETCH completed",
            ])
    }

    @Test func fetchMultipartBodyStructure() async {
        server.store.deliver(Messages.multipart, to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 FETCH 1 BODY")
        #expect(
            reply.first
                == "* 1 FETCH (BODY ((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"BASE64\" 20 1)"
                + "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 8) \"MIXED\"))")
    }

    /// BODY[] returns the message as stored and sets \Seen, which the response reports
    /// (RFC 9051 §6.4.5).
    @Test func fetchBodySetsSeen() async {
        let client = await exampleSelected()
        let message = Messages.rfcExample
        let text = await client.commandText("a1 FETCH 1 BODY[]")
        #expect(
            text == "* 1 FETCH (BODY[] {\(message.utf8.count)}\r\n\(message) FLAGS (\\Seen))\r\na1 OK FETCH completed\r\n")
        #expect(flags() == [.seen])
    }

    @Test func fetchBodyOfASeenMessageDoesNotRepeatFlags() async {
        server.store.deliver(Messages.simple(), to: alice, flags: [.seen])
        let client = await server.selected()
        let text = await client.commandText("a1 FETCH 1 BODY[]")
        #expect(!text.contains("FLAGS"))
    }

    @Test func fetchPeekHeaderDoesNotSetSeen() async {
        let client = await exampleSelected()
        let message = Messages.rfcExample
        let header = String(message[..<message.range(of: "\r\n\r\n")!.upperBound])
        let text = await client.commandText("a1 FETCH 1 BODY.PEEK[HEADER]")
        #expect(text == "* 1 FETCH (BODY[HEADER] {\(header.utf8.count)}\r\n\(header))\r\na1 OK FETCH completed\r\n")
        #expect(flags() == [[]])
    }

    @Test func fetchHeaderFields() async {
        let client = await exampleSelected()
        let text = await client.commandText("a1 FETCH 1 BODY.PEEK[HEADER.FIELDS (Subject From)]")
        let fields = "From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev2 WG mtg summary and minutes\r\n\r\n"
        #expect(
            text
                == "* 1 FETCH (BODY[HEADER.FIELDS (Subject From)] {\(fields.utf8.count)}\r\n\(fields))\r\na1 OK FETCH completed\r\n"
        )
    }

    /// A partial fetch: `<0>` in the response, the first ten octets.
    @Test func fetchPartialText() async {
        let client = await exampleSelected()
        let text = await client.commandText("a1 FETCH 1 BODY[TEXT]<0.10>")
        #expect(text == "* 1 FETCH (BODY[TEXT]<0> {10}\r\nHello Joe, FLAGS (\\Seen))\r\na1 OK FETCH completed\r\n")
    }

    /// RFC 3516: BINARY decodes the content transfer encoding; literal8 when NUL is in it.
    @Test func fetchBinary() async {
        server.store.deliver(Messages.multipart, to: alice)
        let client = await server.selected()
        let text = await client.commandText("a1 FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
        #expect(text == "* 1 FETCH (BINARY[1] {13}\r\nHello, world! BINARY.SIZE[1] 13)\r\na1 OK FETCH completed\r\n")
        let binary = await client.commandText("a2 FETCH 1 BINARY.PEEK[2]")
        #expect(binary == "* 1 FETCH (BINARY[2] ~{4}\r\n\u{0}\u{1}\u{2}\u{3})\r\na2 OK FETCH completed\r\n")
    }

    @Test func fetchRFC822Items() async {
        let client = await exampleSelected()
        let message = Messages.rfcExample
        let header = String(message[..<message.range(of: "\r\n\r\n")!.upperBound])
        let text = await client.commandText("a1 FETCH 1 (RFC822.HEADER)")
        #expect(text == "* 1 FETCH (RFC822.HEADER {\(header.utf8.count)}\r\n\(header))\r\na1 OK FETCH completed\r\n")
        #expect(flags() == [[]])
    }

    /// Stored with bare LF: served with CRLF, as RFC822.SIZE counts.
    @Test func fetchConvertsBareLineFeeds() async {
        server.store.deliver("Subject: lf\n\nbody\n", to: alice)
        let client = await server.selected()
        let text = await client.commandText("a1 FETCH 1 BODY.PEEK[]")
        #expect(text == "* 1 FETCH (BODY[] {21}\r\nSubject: lf\r\n\r\nbody\r\n)\r\na1 OK FETCH completed\r\n")
    }

    /// RFC 9051 §6.4.8: UID FETCH always includes UID.
    @Test func uidFetchIncludesUID() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 UID FETCH 2 FLAGS")
        #expect(reply == ["* 2 FETCH (UID 2 FLAGS ())", "a1 OK UID FETCH completed"])
        let missing = await client.command("a2 UID FETCH 7:9 FLAGS")
        #expect(missing == ["a2 OK UID FETCH completed"])
    }

    @Test func fetchMacros() async {
        let client = await exampleSelected()
        let size = Messages.rfcExample.utf8.count
        let reply = await client.command("a1 FETCH 1 FAST")
        #expect(
            reply == [
                "* 1 FETCH (FLAGS () INTERNALDATE \"17-Jul-1996 09:23:25 +0000\" RFC822.SIZE \(size))",
                "a1 OK FETCH completed",
            ])
    }

    /// RFC 9051 §6.4.5: a message number beyond the mailbox is an error.
    @Test func fetchBeyondTheMailboxIsBad() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 FETCH 2 FLAGS") == ["a1 BAD Invalid message sequence number"])
        #expect(await client.command("a2 FETCH 1:5 FLAGS") == ["a2 BAD Invalid message sequence number"])
    }

    @Test func fetchStarInAnEmptyMailboxIsEmpty() async {
        let client = await server.selected()
        #expect(await client.command("a1 FETCH 1:* FLAGS") == ["a1 OK FETCH completed"])
    }

    @Test func fetchSequenceSets() async {
        for index in 1...5 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        let reply = await client.command("a1 FETCH 4:*,1,2 UID")
        #expect(
            reply == [
                "* 1 FETCH (UID 1)", "* 2 FETCH (UID 2)", "* 4 FETCH (UID 4)", "* 5 FETCH (UID 5)",
                "a1 OK FETCH completed",
            ])
    }

    /// Large answers go out in batches: every message arrives, whole and in order.
    @Test func largeFetchComesInBatches() async {
        let count = 300
        var expected: [UInt8] = []
        for index in 1...count {
            var message = "Subject: message \(index)\r\n\r\n"
            let line = String(repeating: "x", count: 62) + "\r\n"
            while message.utf8.count + line.utf8.count <= 4096 { message += line }
            message += String(repeating: "y", count: 4094 - message.utf8.count) + "\r\n"
            precondition(message.utf8.count == 4096)
            server.store.deliver(message, to: alice, flags: [.seen])
            expected += Array("* \(index) FETCH (BODY[] {4096}\r\n\(message))\r\n".utf8)
        }
        expected += Array("a1 OK FETCH completed\r\n".utf8)
        let client = await server.selected()
        let sendsBefore = client.sendCount
        await client.send("a1 FETCH 1:* BODY[]\r\n")
        let output = client.takeOutput()
        #expect(output.count == expected.count)
        // Compared as a Bool: a failure must not print a megabyte.
        let firstDifference = zip(output.indices, zip(output, expected)).first { $0.1.0 != $0.1.1 }?.0
        let isIdentical = output == expected
        #expect(isIdentical, "first difference at \(firstDifference ?? -1)")
        // 1.2 MiB in batches of 256 KiB.
        #expect(client.sendCount - sendsBefore >= 4)
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
    }

    // MARK: - STORE

    /// RFC 9051 §6.4.6's example, with a keyword.
    @Test func storeAddRemoveReplace() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice, flags: [.seen])
        let client = await server.selected()
        let add = await client.command("A003 STORE 1:2 +FLAGS (\\Deleted $Label1)")
        #expect(
            add == [
                "* 1 FETCH (FLAGS (\\Deleted $Label1))",
                "* 2 FETCH (FLAGS (\\Deleted \\Seen $Label1))",
                "A003 OK STORE completed",
            ])
        let remove = await client.command("A004 STORE 2 -FLAGS (\\Deleted $label1)")
        #expect(remove == ["* 2 FETCH (FLAGS (\\Seen))", "A004 OK STORE completed"])
        let replace = await client.command("A005 STORE 1 FLAGS (\\Answered \\Flagged)")
        #expect(replace == ["* 1 FETCH (FLAGS (\\Answered \\Flagged))", "A005 OK STORE completed"])
        #expect(flags() == [[.answered, .flagged], [.seen]])
    }

    @Test func storeSilent() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 STORE 1 +FLAGS.SILENT (\\Flagged)") == ["a1 OK STORE completed"])
        #expect(flags() == [[.flagged]])
    }

    @Test func uidStoreIncludesUID() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 UID STORE 2 +FLAGS (\\Seen)")
        #expect(reply == ["* 2 FETCH (FLAGS (\\Seen) UID 2)", "a1 OK UID STORE completed"])
    }

    @Test func storeRecentIsRefused() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 STORE 1 +FLAGS (\\Recent)")
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
    }

    @Test func storeBeyondTheMailboxIsBad() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 STORE 3 +FLAGS (\\Seen)") == ["a1 BAD Invalid message sequence number"])
    }

    /// New keywords appear in FLAGS at the next SELECT.
    @Test func keywordsShowInFlagsAfterReselect() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        _ = await client.command("a1 STORE 1 +FLAGS.SILENT (Project-X)")
        let reply = await client.command("a2 SELECT INBOX")
        #expect(reply.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft Project-X)"))
    }

    // MARK: - COPY, MOVE

    /// RFC 4315 §3: COPYUID with source and destination UIDs.
    @Test func copyReportsCopyUID() async {
        for index in 1...3 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice, flags: [.flagged]) }
        let client = await server.selected()
        _ = await client.command("a0 CREATE Saved")
        let reply = await client.command("a1 COPY 2:3 Saved")
        #expect(reply == ["a1 OK [COPYUID \(uidValidity("Saved")) 2:3 1:2] COPY completed"])
        let copied = server.store.contents(of: "Saved", account: alice)?.messages ?? []
        #expect(copied.map(\.flags) == [[.flagged], [.flagged]])
        #expect(server.store.messageBytes("Saved", account: alice, uid: 1) == Array(Messages.simple(subject: "m2").utf8))
    }

    @Test func copyToMissingMailboxIsTryCreate() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 COPY 1 Nowhere") == ["a1 NO [TRYCREATE] Mailbox does not exist"])
    }

    @Test func uidCopyOfMissingUIDsCopiesNothing() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        _ = await client.command("a0 CREATE Saved")
        #expect(await client.command("a1 UID COPY 5:9 Saved") == ["a1 OK No messages, UID COPY completed"])
    }

    /// RFC 6851 §4.3: `* OK [COPYUID …]`, the EXPUNGEs, then the tagged OK.
    @Test func moveReportsCopyUIDAndExpunges() async {
        for index in 1...4 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        _ = await client.command("a0 CREATE Saved")
        let reply = await client.command("a1 MOVE 2:3 Saved")
        #expect(reply.first == "* OK [COPYUID \(uidValidity("Saved")) 2:3 1:2] Moved")
        #expect(reply.last == "a1 OK MOVE completed")
        #expect(applyExpunges(reply, to: [1, 2, 3, 4]) == [1, 4])
        #expect(reply.filter { $0.hasSuffix("EXPUNGE") }.count == 2)
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.map(\.uid) == [1, 4])
        #expect(server.store.contents(of: "Saved", account: alice)?.messages.count == 2)
        // The numbers the client now knows.
        #expect(await client.command("a2 FETCH 2 UID") == ["* 2 FETCH (UID 4)", "a2 OK FETCH completed"])
    }

    @Test func uidMove() async {
        for index in 1...3 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        _ = await client.command("a0 CREATE Saved")
        let reply = await client.command("a1 UID MOVE 3 Saved")
        #expect(reply.first == "* OK [COPYUID \(uidValidity("Saved")) 3 1] Moved")
        #expect(reply.contains("* 3 EXPUNGE"))
        #expect(reply.last == "a1 OK UID MOVE completed")
    }

    @Test func moveInExamineIsRefused() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Saved")
        _ = await client.command("a1 EXAMINE INBOX")
        #expect(await client.command("a2 MOVE 1 Saved") == ["a2 NO [READ-ONLY] Mailbox is read-only"])
    }

    // MARK: - EXPUNGE, CLOSE, UNSELECT

    /// RFC 9051 §6.4.3: each EXPUNGE's number is right when the client reads it.
    @Test func expungeReportsConsistentNumbers() async {
        for index in 1...11 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        _ = await client.command("a1 STORE 3,4,7,11 +FLAGS.SILENT (\\Deleted)")
        let reply = await client.command("A202 EXPUNGE")
        #expect(reply.last == "A202 OK EXPUNGE completed")
        #expect(reply.filter { $0.hasSuffix(" EXPUNGE") }.count == 4)
        #expect(applyExpunges(reply, to: Array(1...11)) == [1, 2, 5, 6, 8, 9, 10])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.map(\.uid) == [1, 2, 5, 6, 8, 9, 10])
    }

    @Test func expungeWithNothingDeleted() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 EXPUNGE") == ["a1 OK EXPUNGE completed"])
    }

    /// RFC 4315 §2.1: only the given UIDs among the \Deleted ones.
    @Test func uidExpungeOnlyTheGivenOnes() async {
        for index in 1...3 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice, flags: [.deleted]) }
        let client = await server.selected()
        let reply = await client.command("a1 UID EXPUNGE 2")
        #expect(reply.first == "* 2 EXPUNGE")
        #expect(reply.last == "a1 OK UID EXPUNGE completed")
        #expect(applyExpunges(reply, to: [1, 2, 3]) == [1, 3])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.map(\.uid) == [1, 3])
    }

    /// RFC 9051 §6.4.1: CLOSE expunges without EXPUNGE responses.
    @Test func closeExpungesSilently() async {
        server.store.deliver(Messages.simple(), to: alice, flags: [.deleted])
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 CLOSE") == ["a1 OK CLOSE completed"])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.map(\.uid) == [2])
        #expect(await client.command("a2 FETCH 1 FLAGS") == ["a2 BAD No mailbox selected"])
        #expect(server.store.openHandles == 0)
    }

    @Test func closeAfterExamineDoesNotExpunge() async {
        server.store.deliver(Messages.simple(), to: alice, flags: [.deleted])
        let client = await server.loggedIn()
        _ = await client.command("a0 EXAMINE INBOX")
        #expect(await client.command("a1 CLOSE") == ["a1 OK CLOSE completed"])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.count == 1)
    }

    /// RFC 3691: UNSELECT leaves \Deleted messages alone.
    @Test func unselectDoesNotExpunge() async {
        server.store.deliver(Messages.simple(), to: alice, flags: [.deleted])
        let client = await server.selected()
        #expect(await client.command("a1 UNSELECT") == ["a1 OK UNSELECT completed"])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.count == 1)
        #expect(await client.command("a2 UNSELECT") == ["a2 BAD No mailbox selected"])
    }

    /// RFC 9051 §6.4.5: part 1 of a message that is not multipart is its body.
    @Test func fetchPartOneOfASinglePartMessage() async {
        let client = await exampleSelected()
        let text = await client.commandText("a1 FETCH 1 BODY.PEEK[1]")
        let body = "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
        #expect(text == "* 1 FETCH (BODY[1] {\(body.utf8.count)}\r\n\(body))\r\na1 OK FETCH completed\r\n")
    }

    @Test func fetchPartialWholeMessage() async {
        let client = await exampleSelected()
        let text = await client.commandText("a1 FETCH 1 BODY.PEEK[]<6.10>")
        #expect(text == "* 1 FETCH (BODY[]<6> {10}\r\nWed, 17 Ju)\r\na1 OK FETCH completed\r\n")
        let beyond = await client.commandText("a2 FETCH 1 BODY.PEEK[]<100000.10>")
        #expect(beyond == "* 1 FETCH (BODY[]<100000> {0}\r\n)\r\na2 OK FETCH completed\r\n")
    }

    /// RFC 3516 §4.3: a part whose encoding the server cannot decode is `NO [UNKNOWN-CTE]`.
    @Test func fetchBinaryWithUnknownEncoding() async {
        server.store.deliver(
            Messages.crlf("Subject: x\nContent-Transfer-Encoding: x-frobnicated\n\nabc\n"), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 FETCH 1 BINARY.PEEK[1]")
        #expect(reply.last == "a1 NO [UNKNOWN-CTE] Unknown Content-Transfer-Encoding")
    }

    @Test func fetchSavedResultBeforeAnySearchIsEmpty() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 FETCH $ FLAGS") == ["a1 OK FETCH completed"])
    }

    @Test func storeUnknownSystemFlagIsBad() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 STORE 1 +FLAGS (\\Frobnicated)")
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
    }

    @Test func copyToTheSelectedMailboxAnnouncesTheCopies() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        let reply = await client.command("a1 UID COPY 1 INBOX")
        #expect(reply == ["* 2 EXISTS", "* 1 RECENT", "a1 OK [COPYUID \(uidValidity()) 1 2] UID COPY completed"])
    }

    /// RFC 9051 §6.4.9: "n:*" includes the last message even when n is above every UID.
    @Test func uidRangeBeyondTheLastUIDIncludesTheLast() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        #expect(await client.command("a1 UID FETCH 10:* FLAGS") == ["* 2 FETCH (UID 2 FLAGS ())", "a1 OK UID FETCH completed"])
    }

    /// RFC 4315 §3: the source and destination sets pair UIDs by position.
    @Test func copyUIDOfScatteredMessages() async {
        for index in 1...4 { server.store.deliver(Messages.simple(subject: "m\(index)"), to: alice) }
        let client = await server.selected()
        _ = await client.command("a0 CREATE Saved")
        #expect(await client.command("a1 COPY 1,3:4 Saved") == ["a1 OK [COPYUID \(uidValidity("Saved")) 1,3:4 1:3] COPY completed"])
    }
}
