import IMAPProtocol
import MailStore
import Testing

@testable import IMAPServer

@Suite("IMAP authenticated state: SELECT, mailboxes, LIST, STATUS, APPEND")
struct IMAPMailboxCommandTests {
    let server = IMAPTestServer()
    let alice = TestAccounts.alice

    func uidValidity(_ mailbox: String = "INBOX") -> UInt32 {
        server.store.contents(of: mailbox, account: alice)?.uidValidity ?? 0
    }

    // MARK: - SELECT, EXAMINE

    /// RFC 3501 §6.3.1's example answer, for an IMAP4rev1 client.
    @Test func selectInboxForIMAP4rev1() async {
        server.store.deliver(Messages.simple(), to: alice, flags: [.seen])
        server.store.deliver(Messages.simple(), to: alice, keywords: ["$Forwarded"])
        let client = await server.loggedIn()
        let reply = await client.command("A142 SELECT INBOX")
        #expect(
            reply == [
                "* 2 EXISTS",
                "* 0 RECENT",
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded)",
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Forwarded \\*)] Flags permitted",
                "* OK [UIDVALIDITY \(uidValidity())] UIDs valid",
                "* OK [UIDNEXT 3] Predicted next UID",
                "* OK [UNSEEN 2] First unseen",
                "A142 OK [READ-WRITE] SELECT completed",
            ])
    }

    /// RFC 9051 §6.3.2: no RECENT, no UNSEEN, and a LIST response for the mailbox.
    @Test func selectInboxForIMAP4rev2() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        #expect(await client.command("e1 ENABLE IMAP4rev2") == ["* ENABLED IMAP4rev2", "e1 OK ENABLE completed"])
        let reply = await client.command("A142 SELECT INBOX")
        #expect(
            reply == [
                "* 1 EXISTS",
                "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)",
                "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted",
                "* OK [UIDVALIDITY \(uidValidity())] UIDs valid",
                "* OK [UIDNEXT 2] Predicted next UID",
                "* LIST () \"/\" INBOX",
                "A142 OK [READ-WRITE] SELECT completed",
            ])
    }

    @Test func selectIsCaseInsensitiveForInboxOnly() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 SELECT inbox").last == "a1 OK [READ-WRITE] SELECT completed")
        _ = await client.command("a2 CREATE Work")
        #expect(await client.command("a3 SELECT work").last == "a3 NO [NONEXISTENT] Mailbox does not exist")
    }

    @Test func examineIsReadOnly() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        let reply = await client.command("A932 EXAMINE INBOX")
        #expect(reply.contains("* OK [PERMANENTFLAGS ()] Read-only mailbox"))
        #expect(reply.last == "A932 OK [READ-ONLY] EXAMINE completed")
        #expect(await client.command("a2 STORE 1 +FLAGS (\\Deleted)") == ["a2 NO [READ-ONLY] Mailbox is read-only"])
        #expect(await client.command("a3 EXPUNGE") == ["a3 NO [READ-ONLY] Mailbox is read-only"])
    }

    /// SELECT takes the new messages (Maildir moves them to cur/, as Dovecot does);
    /// EXAMINE and STATUS leave them where they are.
    @Test func onlySelectTakesTheNewMessages() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 STATUS INBOX (MESSAGES)")
        _ = await client.command("a2 SELECT INBOX")
        _ = await client.command("a3 UNSELECT")
        server.store.deliver(Messages.simple(), to: alice)
        _ = await client.command("a4 EXAMINE INBOX")
        _ = await client.command("a5 UNSELECT")
        // \Recent is the sessions' own business, whatever the store does with the new
        // messages: EXAMINE did not claim the message, this SELECT does.
        #expect(await client.command("a6 SELECT INBOX").contains("* 1 RECENT"))
        _ = await client.command("a7 UNSELECT")
        #expect(await client.command("a8 SELECT INBOX").contains("* 0 RECENT"))
        #expect(server.store.opensTakingNewMessages.withLock { $0 } == [false, true, false, true, true])
    }

    /// RFC 9051 §6.3.3: EXAMINE never sets \Seen, not even for BODY[].
    @Test func fetchBodyInExamineDoesNotSetSeen() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        _ = await client.command("a1 EXAMINE INBOX")
        let reply = await client.command("a2 FETCH 1 BODY[]")
        #expect(!reply.contains { $0.contains("\\Seen") })
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.first?.flags == [])
    }

    @Test func selectMissingMailboxIsNonexistent() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 SELECT Nowhere") == ["a1 NO [NONEXISTENT] Mailbox does not exist"])
        // Not in selected state.
        #expect(await client.command("a2 FETCH 1 FLAGS") == ["a2 BAD No mailbox selected"])
    }

    /// RFC 9051 §7.1: `OK [CLOSED]` before the new mailbox's responses.
    @Test func selectingAnotherMailboxClosesThePrevious() async {
        let client = await server.selected()
        _ = await client.command("a1 CREATE Work")
        let reply = await client.command("a2 SELECT Work")
        #expect(reply.first == "* OK [CLOSED] Previous mailbox closed")
        #expect(reply.last == "a2 OK [READ-WRITE] SELECT completed")
        #expect(server.store.openHandles == 1)
    }

    @Test func enableAfterSelectIsRefused() async {
        let client = await server.selected()
        let reply = await client.command("a1 ENABLE IMAP4rev2")
        #expect(reply == ["a1 BAD [CLIENTBUG] ENABLE is only allowed before a mailbox is selected"])
    }

    @Test func enableUnknownCapabilityEnablesNothing() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 ENABLE CONDSTORE") == ["* ENABLED", "a1 OK ENABLE completed"])
    }

    @Test func namespace() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 NAMESPACE") == ["* NAMESPACE ((\"\" \"/\")) NIL NIL", "a1 OK NAMESPACE completed"])
    }

    // MARK: - CREATE, DELETE, RENAME

    @Test func createThenList() async {
        let client = await server.loggedIn()
        #expect(await client.command("A003 CREATE owatagusiam/") == ["A003 OK CREATE completed"])
        #expect(await client.command("A004 CREATE owatagusiam/blurdybloop") == ["A004 OK CREATE completed"])
        let reply = await client.command("A005 LIST \"\" owatagusiam*")
        #expect(
            reply == [
                "* LIST (\\HasChildren) \"/\" owatagusiam",
                "* LIST (\\HasNoChildren) \"/\" owatagusiam/blurdybloop",
                "A005 OK LIST completed",
            ])
    }

    @Test func createMakesMissingParents() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 CREATE a/b/c") == ["a1 OK CREATE completed"])
        let reply = await client.command("a2 LIST \"\" a*")
        #expect(reply.count == 4)
        #expect(reply[0] == "* LIST (\\HasChildren) \"/\" a")
        #expect(reply[1] == "* LIST (\\HasChildren) \"/\" a/b")
        #expect(reply[2] == "* LIST (\\HasNoChildren) \"/\" a/b/c")
    }

    @Test func createExistingIsAlreadyExists() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE Work")
        #expect(await client.command("a2 CREATE Work") == ["a2 NO [ALREADYEXISTS] Mailbox already exists"])
        #expect(await client.command("a3 CREATE inbox") == ["a3 NO [ALREADYEXISTS] Mailbox already exists"])
    }

    /// RFC 6154 §5.2: CREATE with USE.
    @Test func createWithSpecialUse() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 CREATE Everything (USE (\\All))") == ["a1 OK CREATE completed"])
        #expect(
            await client.command("a2 LIST \"\" Everything")
                == ["* LIST (\\HasNoChildren \\All) \"/\" Everything", "a2 OK LIST completed"])
        let unsupported = await client.command("a3 CREATE Imp (USE (\\Important))")
        #expect(unsupported == ["a3 NO [USEATTR] Unsupported special use \\Important"])
    }

    @Test func deleteMailbox() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE Work")
        #expect(await client.command("a2 DELETE Work") == ["a2 OK DELETE completed"])
        #expect(await client.command("a3 LIST \"\" Work") == ["a3 OK LIST completed"])
        #expect(await client.command("a4 DELETE Work") == ["a4 NO [NONEXISTENT] Mailbox does not exist"])
    }

    @Test func deleteWithChildrenIsHasChildren() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE Work/Projects")
        #expect(await client.command("a2 DELETE Work") == ["a2 NO [HASCHILDREN] Mailbox has children, delete them first"])
        #expect(await client.command("a3 DELETE Work/Projects") == ["a3 OK DELETE completed"])
        #expect(await client.command("a4 DELETE Work") == ["a4 OK DELETE completed"])
    }

    @Test func deleteInboxIsRefused() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 DELETE INBOX") == ["a1 NO [CANNOT] INBOX cannot be deleted"])
        #expect(await client.command("a2 DELETE inbox") == ["a2 NO [CANNOT] INBOX cannot be deleted"])
    }

    @Test func deleteTheSelectedMailboxLeavesSelectedState() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE Work")
        _ = await client.command("a2 SELECT Work")
        #expect(await client.command("a3 DELETE Work") == ["a3 OK DELETE completed"])
        #expect(await client.command("a4 FETCH 1 FLAGS") == ["a4 BAD No mailbox selected"])
        #expect(server.store.openHandles == 0)
    }

    /// RFC 9051 §6.3.6: the children are renamed too.
    @Test func renameWithChildren() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE foo/bar")
        #expect(await client.command("a2 RENAME foo zowie") == ["a2 OK RENAME completed"])
        let reply = await client.command("a3 LIST \"\" zowie*")
        #expect(
            reply == [
                "* LIST (\\HasChildren) \"/\" zowie",
                "* LIST (\\HasNoChildren) \"/\" zowie/bar",
                "a3 OK LIST completed",
            ])
        #expect(await client.command("a4 LIST \"\" foo*") == ["a4 OK LIST completed"])
    }

    @Test func renameErrors() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE one")
        _ = await client.command("a2 CREATE two")
        #expect(await client.command("a3 RENAME one two") == ["a3 NO [ALREADYEXISTS] Mailbox already exists"])
        #expect(await client.command("a4 RENAME nothing three") == ["a4 NO [NONEXISTENT] Mailbox does not exist"])
        #expect(await client.command("a5 RENAME one INBOX") == ["a5 NO [ALREADYEXISTS] Mailbox already exists"])
    }

    /// RFC 9051 §6.3.6: renaming INBOX moves its messages and leaves it empty.
    @Test func renameInboxMovesItsMessages() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        #expect(await client.command("a1 RENAME INBOX old-mail") == ["a1 OK RENAME completed"])
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.count == 0)
        #expect(server.store.contents(of: "old-mail", account: alice)?.messages.count == 1)
    }

    // MARK: - Mailbox names

    /// RFC 3501 §5.1.3: IMAP4rev1 clients name mailboxes in modified UTF-7; the store
    /// keeps UTF-8.
    @Test func modifiedUTF7NamesForIMAP4rev1() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 CREATE \"&ZeVnLIqe-\"") == ["a1 OK CREATE completed"])
        #expect(server.store.contents(of: "日本語", account: alice) != nil)
        #expect(
            await client.command("a2 LIST \"\" \"&ZeVnLIqe-\"")
                == ["* LIST (\\HasNoChildren) \"/\" &ZeVnLIqe-", "a2 OK LIST completed"])
        #expect(await client.command("a3 SELECT &ZeVnLIqe-").last == "a3 OK [READ-WRITE] SELECT completed")
    }

    /// RFC 6855 §3: after ENABLE UTF8=ACCEPT, names are UTF-8 (quoted strings).
    @Test func utf8NamesAfterEnable() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE \"&ZeVnLIqe-\"")
        #expect(await client.command("a2 ENABLE UTF8=ACCEPT") == ["* ENABLED UTF8=ACCEPT", "a2 OK ENABLE completed"])
        let reply = await client.command("a3 LIST \"\" \"*\"")
        #expect(reply.contains("* LIST (\\HasNoChildren) \"/\" \"日本語\""))
        #expect(await client.command("a4 STATUS \"日本語\" (MESSAGES)") == [
            "* STATUS \"日本語\" (MESSAGES 0)", "a4 OK STATUS completed",
        ])
    }

    @Test func invalidModifiedUTF7IsRefused() async {
        let client = await server.loggedIn()
        let reply = await client.command("a1 CREATE \"&Jjo!\"")
        #expect(reply == ["a1 NO [CANNOT] Mailbox name is not valid modified UTF-7"])
    }

    /// Names that could reach outside the account's directory never get to the store.
    @Test(arguments: ["\"../x\"", "\"a//b\"", "\"~root\"", "\"x/../../y\"", "\".\"", "\"a/./b\""])
    func hostileNamesAreRefused(name: String) async {
        let client = await server.loggedIn()
        let create = await client.command("a1 CREATE \(name)")
        #expect(create.count == 1)
        #expect(create.first?.hasPrefix("a1 NO [CANNOT] Invalid mailbox name") == true, "\(create)")
        let select = await client.command("a2 SELECT \(name)")
        #expect(select.first?.hasPrefix("a2 NO") == true)
        let rename = await client.command("a3 RENAME Drafts \(name)")
        #expect(rename.first?.hasPrefix("a3 NO") == true)
    }

    // MARK: - LIST, LSUB

    /// The default mailboxes, with their RFC 6154 special-use attributes; INBOX first.
    @Test func listAllWithSpecialUse() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work/Projects")
        let reply = await client.command("a1 LIST \"\" \"*\"")
        #expect(
            reply == [
                "* LIST (\\HasNoChildren) \"/\" INBOX",
                "* LIST (\\HasNoChildren \\Archive) \"/\" Archive",
                "* LIST (\\HasNoChildren \\Drafts) \"/\" Drafts",
                "* LIST (\\HasNoChildren \\Junk) \"/\" Junk",
                "* LIST (\\HasNoChildren \\Sent) \"/\" Sent",
                "* LIST (\\HasNoChildren \\Trash) \"/\" Trash",
                "* LIST (\\HasChildren) \"/\" Work",
                "* LIST (\\HasNoChildren) \"/\" Work/Projects",
                "a1 OK LIST completed",
            ])
    }

    @Test func listPercentStopsAtTheSeparator() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work/Projects")
        let reply = await client.command("a1 LIST \"\" W%")
        #expect(reply == ["* LIST (\\HasChildren) \"/\" Work", "a1 OK LIST completed"])
        let children = await client.command("a2 LIST Work/ %")
        #expect(children == ["* LIST (\\HasNoChildren) \"/\" Work/Projects", "a2 OK LIST completed"])
    }

    /// RFC 9051 §6.3.9: LIST "" "" gives the separator and the root.
    @Test func listEmptyPatternGivesTheSeparator() async {
        let client = await server.loggedIn()
        #expect(await client.command("A101 LIST \"\" \"\"") == ["* LIST (\\Noselect) \"/\" \"\"", "A101 OK LIST completed"])
    }

    /// RFC 5258 §3.1: (SUBSCRIBED) lists only subscribed mailboxes, with \Subscribed.
    @Test func listSubscribed() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work")
        _ = await client.command("l0 LIST \"\" \"*\"")
        #expect(await client.command("a1 UNSUBSCRIBE Junk") == ["a1 OK UNSUBSCRIBE completed"])
        let reply = await client.command("a2 LIST (SUBSCRIBED) \"\" \"*\"")
        #expect(
            reply == [
                "* LIST (\\HasNoChildren \\Subscribed) \"/\" INBOX",
                "* LIST (\\HasNoChildren \\Subscribed \\Archive) \"/\" Archive",
                "* LIST (\\HasNoChildren \\Subscribed \\Drafts) \"/\" Drafts",
                "* LIST (\\HasNoChildren \\Subscribed \\Sent) \"/\" Sent",
                "* LIST (\\HasNoChildren \\Subscribed \\Trash) \"/\" Trash",
                "a2 OK LIST completed",
            ])
        #expect(await client.command("a3 SUBSCRIBE Work") == ["a3 OK SUBSCRIBE completed"])
        let work = await client.command("a4 LIST \"\" Work RETURN (SUBSCRIBED)")
        #expect(work == ["* LIST (\\HasNoChildren \\Subscribed) \"/\" Work", "a4 OK LIST completed"])
    }

    /// RFC 5819: LIST … RETURN (STATUS (MESSAGES)).
    @Test func listReturnStatus() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work")
        let reply = await client.command("a1 LIST \"\" (INBOX Work) RETURN (STATUS (MESSAGES UNSEEN))")
        #expect(
            reply == [
                "* LIST (\\HasNoChildren) \"/\" INBOX",
                "* STATUS INBOX (MESSAGES 2 UNSEEN 2)",
                "* LIST (\\HasNoChildren) \"/\" Work",
                "* STATUS Work (MESSAGES 0 UNSEEN 0)",
                "a1 OK LIST completed",
            ])
    }

    @Test func listSpecialUseSelection() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work")
        let reply = await client.command("a1 LIST (SPECIAL-USE) \"\" \"*\"")
        #expect(reply.count == 6)
        #expect(!reply.contains { $0.contains("Work") || $0.contains("INBOX") })
    }

    @Test func lsubListsSubscribedMailboxes() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 LIST \"\" \"*\"")
        _ = await client.command("a1 CREATE Work")
        _ = await client.command("a2 SUBSCRIBE Work")
        _ = await client.command("a3 UNSUBSCRIBE Junk")
        let reply = await client.command("a4 LSUB \"\" \"*\"")
        #expect(
            reply == [
                "* LSUB () \"/\" INBOX",
                "* LSUB () \"/\" Archive",
                "* LSUB () \"/\" Drafts",
                "* LSUB () \"/\" Sent",
                "* LSUB () \"/\" Trash",
                "* LSUB () \"/\" Work",
                "a4 OK LSUB completed",
            ])
    }

    // MARK: - STATUS

    @Test func statusReportsEveryItem() async {
        let sizes = [Messages.simple(), Messages.rfcExample, Messages.append].map(\.utf8.count)
        server.store.deliver(Messages.simple(), to: alice, flags: [.seen])
        server.store.deliver(Messages.rfcExample, to: alice, flags: [.deleted])
        server.store.deliver(Messages.append, to: alice)
        let client = await server.loggedIn()
        let reply = await client.command("A042 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE DELETED)")
        #expect(
            reply == [
                "* STATUS INBOX (MESSAGES 3 UIDNEXT 4 UIDVALIDITY \(uidValidity()) UNSEEN 2 SIZE \(sizes.reduce(0, +)) DELETED 1)",
                "A042 OK STATUS completed",
            ])
    }

    @Test func statusOfMissingMailbox() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 STATUS Nowhere (MESSAGES)") == ["a1 NO [NONEXISTENT] Mailbox does not exist"])
    }

    @Test func statusOfTheSelectedMailboxSeesItsChanges() async {
        server.store.deliver(Messages.simple(), to: alice)
        let client = await server.selected()
        _ = await client.command("a1 STORE 1 +FLAGS (\\Seen)")
        #expect(await client.command("a2 STATUS INBOX (UNSEEN)") == ["* STATUS INBOX (UNSEEN 0)", "a2 OK STATUS completed"])
    }

    // MARK: - APPEND

    /// RFC 9051 §6.3.12 and RFC 4315 §3 (APPENDUID).
    @Test func appendWithLiteralFlagsAndDate() async throws {
        let client = await server.loggedIn()
        let message = Messages.append
        await client.send("A003 APPEND INBOX (\\Seen $Work) \"05-Oct-2023 12:34:56 +0200\" {\(message.utf8.count)}\r\n")
        #expect(client.takeLines() == ["+ Ready for literal data"])
        let reply = await client.command(message)
        #expect(reply == ["A003 OK [APPENDUID \(uidValidity()) 1] APPEND completed"])
        let stored = try #require(server.store.contents(of: "INBOX", account: alice)?.messages.first)
        #expect(stored.flags == [.seen])
        #expect(stored.keywords == ["$Work"])
        #expect(stored.internalDate == 1_696_502_096)
        #expect(stored.size == message.utf8.count)
        #expect(server.store.messageBytes("INBOX", account: alice, uid: 1) == Array(message.utf8))
    }

    @Test func appendToMissingMailboxIsTryCreate() async {
        let client = await server.loggedIn()
        let message = Messages.simple()
        await client.send("a1 APPEND Nowhere {\(message.utf8.count)}\r\n")
        #expect(client.takeLines() == ["+ Ready for literal data"])
        #expect(await client.command(message) == ["a1 NO [TRYCREATE] Mailbox does not exist"])
    }

    /// RFC 7888: `{n+}` is sent without waiting for "+".
    @Test func appendWithNonSynchronizingLiteral() async {
        let client = await server.loggedIn()
        let message = Messages.simple()
        let reply = await client.command("a1 APPEND INBOX {\(message.utf8.count)+}\r\n" + message)
        #expect(reply == ["a1 OK [APPENDUID \(uidValidity()) 1] APPEND completed"])
    }

    /// RFC 3502: several messages in one APPEND, all or none.
    @Test func multiappend() async {
        let client = await server.loggedIn()
        let one = Messages.simple(subject: "one")
        let two = Messages.simple(subject: "two")
        let reply = await client.command(
            "a1 APPEND INBOX (\\Flagged) {\(one.utf8.count)+}\r\n\(one) {\(two.utf8.count)+}\r\n\(two)")
        #expect(reply == ["a1 OK [APPENDUID \(uidValidity()) 1:2] APPEND completed"])
        let messages = server.store.contents(of: "INBOX", account: alice)?.messages ?? []
        #expect(messages.map(\.flags) == [[.flagged], []])
    }

    @Test func appendRecentFlagIsRefused() async {
        let client = await server.loggedIn()
        let message = Messages.simple()
        let reply = await client.command("a1 APPEND INBOX (\\Recent) {\(message.utf8.count)+}\r\n" + message)
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
        #expect(server.store.contents(of: "INBOX", account: alice)?.messages.isEmpty == true)
    }

    /// Appending to the selected mailbox: the new message is announced before the OK.
    @Test func appendToTheSelectedMailboxAnnouncesIt() async {
        let client = await server.selected()
        let message = Messages.simple()
        let reply = await client.command("a1 APPEND INBOX {\(message.utf8.count)+}\r\n" + message)
        #expect(reply == ["* 1 EXISTS", "* 1 RECENT", "a1 OK [APPENDUID \(uidValidity()) 1] APPEND completed"])
    }

    @Test func appendAfterLiteralKeepsTheStreamInStep() async {
        let client = await server.loggedIn()
        let message = Messages.simple()
        await client.send("a1 APPEND INBOX {\(message.utf8.count)+}\r\n\(message)\r\na2 NOOP\r\n")
        let lines = client.takeLines()
        #expect(lines == ["a1 OK [APPENDUID \(uidValidity()) 1] APPEND completed", "a2 OK NOOP completed"])
    }

    @Test func listInboxIsCaseInsensitive() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 LIST \"\" inbox") == ["* LIST (\\HasNoChildren) \"/\" INBOX", "a1 OK LIST completed"])
    }

    @Test func listTopLevelWithPercent() async {
        let client = await server.loggedIn()
        _ = await client.command("a0 CREATE Work/Projects")
        let reply = await client.command("a1 LIST \"\" %")
        #expect(reply.count == 8)
        #expect(!reply.contains { $0.contains("Work/Projects") })
    }

    /// RFC 3501 §5.1.3: "&" is "&-" in modified UTF-7.
    @Test func ampersandInNames() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 CREATE \"A&-B\"") == ["a1 OK CREATE completed"])
        #expect(server.store.contents(of: "A&B", account: alice) != nil)
        #expect(await client.command("a2 LIST \"\" \"A&-B\"") == ["* LIST (\\HasNoChildren) \"/\" A&-B", "a2 OK LIST completed"])
    }

    @Test func trailingSeparatorIsDropped() async {
        let client = await server.loggedIn()
        _ = await client.command("a1 CREATE Work")
        #expect(await client.command("a2 SELECT Work/").last == "a2 OK [READ-WRITE] SELECT completed")
    }

    /// UIDs are never reused, not even the last one after it was expunged.
    @Test func uidsAreNotReusedAfterExpunge() async {
        server.store.deliver(Messages.simple(), to: alice)
        server.store.deliver(Messages.simple(), to: alice, flags: [.deleted])
        let client = await server.selected()
        _ = await client.command("a1 EXPUNGE")
        let message = Messages.simple()
        let reply = await client.command("a2 APPEND INBOX {\(message.utf8.count)+}\r\n" + message)
        #expect(reply.last == "a2 OK [APPENDUID \(uidValidity()) 3] APPEND completed")
        let select = await client.command("a3 SELECT INBOX")
        #expect(select.contains("* OK [UIDNEXT 4] Predicted next UID"))
    }

    @Test func appendEmptyMessageIsRefused() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 APPEND INBOX {0+}\r\n") == ["a1 NO Cannot save an empty message"])
    }

    /// RFC 3516 §4.4: a binary message with NUL cannot be stored as it is.
    @Test func appendBinaryWithNulIsRefused() async {
        let client = await server.loggedIn()
        let reply = await client.command("a1 APPEND INBOX ~{5+}\r\nab\u{0}cd")
        #expect(reply == ["a1 NO [UNKNOWN-CTE] Messages with NUL octets cannot be stored"])
    }

    /// RFC 3501 §2.3.2: \Recent goes to the first session that is told about a message.
    @Test func recentOnlyForTheFirstSession() async {
        let first = await server.selected()
        server.store.deliver(Messages.simple(), to: alice)
        #expect(await first.command("n1 NOOP") == ["* 1 EXISTS", "* 1 RECENT", "n1 OK NOOP completed"])
        _ = await first.command("z1 LOGOUT")
        let second = await server.loggedIn()
        #expect(await second.command("s1 SELECT INBOX").contains("* 0 RECENT"))
    }

    @Test func enableIsCaseInsensitive() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 ENABLE utf8=accept") == ["* ENABLED UTF8=ACCEPT", "a1 OK ENABLE completed"])
        #expect(await client.command("a2 ENABLE UTF8=ACCEPT") == ["* ENABLED", "a2 OK ENABLE completed"])
    }

    /// A name the store could never hold: refused (the response code is not checked).
    @Test func appendToAnInvalidNameIsRefused() async {
        let client = await server.loggedIn()
        let message = Messages.simple()
        let reply = await client.command("a1 APPEND \"../x\" {\(message.utf8.count)+}\r\n" + message)
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 NO") == true)
    }
}
