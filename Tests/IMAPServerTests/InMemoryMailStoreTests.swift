import MailCore
import MailStore
import Testing

/// The test double keeps the rules of `Mailbox.swift`, or the session tests prove nothing.
@Suite("In-memory mailbox store (test double)")
struct InMemoryMailStoreTests {
    let store = InMemoryMailStore()
    let alice = MailAddress("alice@example.test")!

    @Test func defaultMailboxesOnFirstList() async throws {
        let names = try await store.mailboxes(account: alice).map(\.name)
        #expect(names == ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"])
        let infos = try await store.mailboxes(account: alice)
        #expect(infos.allSatisfy { $0.isSubscribed })
        #expect(infos.first { $0.name == "Sent" }?.specialUse == "\\Sent")
    }

    @Test func uidsAscendAndAreNeverReused() async throws {
        let first = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: [65])])
        let handle = try await store.open(account: alice, mailbox: "INBOX")
        try await handle.expunge(uids: first.uids)
        let second = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: [66])])
        #expect(first.uids == [1])
        #expect(second.uids == [2])
        #expect(second.uidValidity == first.uidValidity)
    }

    @Test func everyMailboxHasItsOwnUIDValidity() async throws {
        try await store.create(account: alice, mailbox: "Work", specialUse: nil)
        let inbox = try await store.open(account: alice, mailbox: "INBOX").snapshot().uidValidity
        let work = try await store.open(account: alice, mailbox: "Work").snapshot().uidValidity
        #expect(inbox != work)
    }

    @Test func handlesShareState() async throws {
        let one = try await store.open(account: alice, mailbox: "INBOX")
        let two = try await store.open(account: alice, mailbox: "INBOX")
        _ = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: [65])])
        _ = try await one.setFlags(uids: [1], add: .seen, remove: [])
        #expect(await two.snapshot().messages.map(\.flags) == [.seen])
    }

    @Test func errorsFollowTheProtocol() async throws {
        try await store.create(account: alice, mailbox: "a/b", specialUse: nil)
        await #expect(throws: StoreError.self) { try await store.create(account: alice, mailbox: "a", specialUse: nil) }
        do {
            try await store.delete(account: alice, mailbox: "a")
            Issue.record("deleted a mailbox with children")
        } catch {
            #expect(error.kind == .inUse)
        }
        do {
            try await store.delete(account: alice, mailbox: "INBOX")
            Issue.record("deleted INBOX")
        } catch {
            #expect(error.kind == .permissionDenied)
        }
        do {
            _ = try await store.open(account: alice, mailbox: "nothing")
            Issue.record("opened a missing mailbox")
        } catch {
            #expect(error.kind == .notFound)
        }
        do {
            try await store.rename(account: alice, from: "a", to: "a/b")
            Issue.record("renamed onto an existing mailbox")
        } catch {
            #expect(error.kind == .alreadyExists)
        }
    }
}
