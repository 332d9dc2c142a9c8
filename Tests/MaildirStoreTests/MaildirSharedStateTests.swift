import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#endif

/// What makes cheap commands cheap: one index connection per account shared by its
/// folders and LIST (`IndexConnections`), LIST's index state kept until a structure
/// change (`AccountStructureCache`), and a refresh of an unchanged folder answered
/// without a trip to its queue (`MaildirFolder.unchangedSnapshot`) — each without
/// hiding a change.
struct MaildirSharedStateTests: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!
    let bob = MailAddress("bob@example.test")!

    // MARK: - IndexConnections

    @Test func anAccountsIndexIsOpenedOnceAndClosedWhenIdle() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let connections = IndexConnections(linger: 0.05)
        let aliceDirectory = root.path + "/alice"
        let bobDirectory = root.path + "/bob"
        for directory in [aliceDirectory, bobDirectory] { try DiskIO.makeDirectory(directory) }
        let first = try connections.acquire(aliceDirectory)
        let second = try connections.acquire(aliceDirectory)
        #expect(first === second)
        let other = try connections.acquire(bobDirectory)
        #expect(other !== first)
        #expect(connections.openCount == 2)
        connections.release(aliceDirectory, first)
        connections.release(bobDirectory, other)
        // One user left: alice's stays open past the linger; bob's closes.
        #expect(await eventually { connections.openCount == 1 })
        try #expect(IndexDatabase.read(first) { db in try IndexDatabase.isInitialised(db) } == false)
        connections.release(aliceDirectory, second)
        #expect(await eventually { connections.openCount == 0 })
        // Opened again on demand, with what was written before.
        try connections.with(aliceDirectory) { database throws(StoreError) in
            try IndexDatabase.write(database) { db in try IndexDatabase.markInitialised(db) }
        }
        #expect(await eventually { connections.openCount == 0 })
        try connections.with(aliceDirectory) { database throws(StoreError) in
            #expect(try IndexDatabase.read(database) { db in try IndexDatabase.isInitialised(db) })
        }
    }

    /// An index moved away (or replaced) while its connection is open is not written
    /// through that connection again: the file at the index's path is opened, and the old
    /// connection closes when its last user lets go. LIST reads the new index too.
    @Test func anIndexReplacedBehindOurBackIsOpenedAgain() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.setSubscribed(account: alice, mailbox: "Old", subscribed: true)
        #expect(try await store.mailboxes(account: alice).contains { $0.name == "Old" })
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let path = maildir + "/" + IndexDatabase.fileName
        let held = try store.indexes.acquire(maildir)
        // An operator moves the index away; a fresh one takes its place.
        try DiskIO.move(path, maildir + "/moved-away.sqlite")
        let fresh = try store.indexes.acquire(maildir)
        #expect(fresh !== held)
        #expect(store.indexes.openCount == 2)
        store.indexes.release(maildir, held)
        store.indexes.release(maildir, fresh)
        #expect(await eventually { store.indexes.openCount == 0 })
        // LIST: the new index has no subscription to "Old".
        #expect(try await !store.mailboxes(account: alice).contains { $0.name == "Old" })
    }

    @Test func foldersAndListOfAnAccountShareOneConnection() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.mailboxes(account: alice)
        let inbox = try await store.open(account: alice, mailbox: "INBOX")
        let sent = try await store.open(account: alice, mailbox: "Sent")
        _ = try await store.mailboxes(account: alice)
        _ = try await store.append(account: alice, mailbox: "Sent", messages: [NewMessage(bytes: message("sent"))])
        #expect(store.indexes.openCount == 1)
        let other = try await store.open(account: bob, mailbox: "INBOX")
        #expect(store.indexes.openCount == 2)
        for mailbox in [inbox, sent, other] { await mailbox.close() }
        // Nobody uses them: both close after the linger.
        #expect(await eventually(seconds: 10) { store.indexes.openCount == 0 })
        let reopened = try await store.open(account: alice, mailbox: "Sent")
        #expect(await reopened.snapshot().messages.count == 1)
        await reopened.close()
    }

    // MARK: - AccountStructureCache

    @Test func listSeesEveryStructureChangeOfItsOwnProcess() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        func listed() async throws -> [String: MailboxInfo] {
            Dictionary(uniqueKeysWithValues: try await store.mailboxes(account: alice).map { ($0.name, $0) })
        }
        var mailboxes = try await listed()
        #expect(mailboxes["Trash"]?.specialUse == "\\Trash")
        #expect(store.structures.count == 1)

        try await store.setSubscribed(account: alice, mailbox: "Later", subscribed: true)
        mailboxes = try await listed()
        #expect(mailboxes["Later"]?.isSubscribed == true)
        #expect(mailboxes["Later"]?.exists == false)

        try await store.create(account: alice, mailbox: "Old", specialUse: "\\Archive")
        try await store.setSubscribed(account: alice, mailbox: "Old", subscribed: true)
        mailboxes = try await listed()
        #expect(mailboxes["Old"]?.specialUse == "\\Archive")

        try await store.rename(account: alice, from: "Old", to: "Older")
        mailboxes = try await listed()
        #expect(mailboxes["Old"]?.isSubscribed != true)
        #expect(mailboxes["Older"]?.specialUse == "\\Archive")
        #expect(mailboxes["Older"]?.isSubscribed == true)

        try await store.delete(account: alice, mailbox: "Older")
        try await store.setSubscribed(account: alice, mailbox: "Later", subscribed: false)
        mailboxes = try await listed()
        #expect(mailboxes["Older"]?.exists != true)
        #expect(mailboxes["Older"]?.specialUse == nil)
        #expect(mailboxes["Later"] == nil)

        // A folder another program makes needs no index change: LIST reads the directory.
        try DiskIO.makeDirectory(MaildirLayout.maildir(root: root.path, address: alice) + "/.Elsewhere")
        try DiskIO.makeDirectory(MaildirLayout.maildir(root: root.path, address: alice) + "/.Elsewhere/cur")
        #expect(try await listed()["Elsewhere"]?.exists == true)
        // And what LIST shows is what a fresh process reads from the index.
        let fresh = try await MaildirMailboxStore(root: root.path).mailboxes(account: alice)
        #expect(fresh == (try await store.mailboxes(account: alice)))
    }

    /// LIST reuses what it found in the folders while the account directory's `.`
    /// entries are the same, looks again at a `.Name` that was no folder yet (no `cur/`)
    /// every time, and follows other programs' folders and our own changes.
    @Test func listFollowsTheAccountDirectory() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        func names() async throws -> [String] { try await store.mailboxes(account: alice).map(\.name) }
        _ = try await names()
        try DiskIO.makeDirectory(maildir + "/.Half")  // another program, half-way
        #expect(try await !names().contains("Half"))
        #expect(store.structures.count == 1)

        // Its cur/ appears (the entries do not change): listed.
        try DiskIO.makeDirectory(maildir + "/.Half/cur")
        #expect(try await names().contains("Half"))
        // A new folder, and one removed, by another program.
        try DiskIO.makeDirectory(maildir + "/.Other")
        try DiskIO.makeDirectory(maildir + "/.Other/cur")
        #expect(try await names().contains("Other"))
        MaildirMailboxStore.removeTree(maildir + "/.Other")
        #expect(try await !names().contains("Other"))
        // The index's -wal and -shm coming and going change nothing.
        for name in ["tsubame-index.sqlite-wal", "tsubame-index.sqlite-shm", "tsubame-index.sqlite-journal"] {
            _ = unlink(maildir + "/" + name)
        }
        #expect(try await names().contains("Half"))
        // While the directory's time is old enough to trust and unchanged, it is not
        // read at all: a folder slipped in without moving the time stays unseen (what the
        // cache saves is that read), and is found once the time moves.
        let past = time(nil) - 600
        setTime(maildir, past)
        _ = try await names()
        _ = try await names()
        try DiskIO.makeDirectory(maildir + "/.Sneaky")
        try DiskIO.makeDirectory(maildir + "/.Sneaky/cur")
        setTime(maildir, past)
        #expect(try await !names().contains("Sneaky"))
        setTime(maildir, past + 1)
        #expect(try await names().contains("Sneaky"))
        // Our own changes.
        try await store.create(account: alice, mailbox: "Mine", specialUse: nil)
        #expect(try await names().contains("Mine"))
        try await store.delete(account: alice, mailbox: "Mine")
        #expect(try await !names().contains("Mine"))
    }

    /// The LIST cache is bounded: past `limit` accounts it starts again.
    @Test func theListCacheIsBounded() throws {
        let cache = AccountStructureCache(limit: 2)
        for account in ["/a", "/b", "/c"] {
            _ = try cache.state(of: account) { () throws(StoreError) in
                AccountStructureCache.State(specialUses: [:], subscriptions: [])
            }
        }
        #expect(cache.count == 1)
    }

    // MARK: - Refresh without a trip to the queue

    @Test func anUnchangedFolderRefreshesWithoutItsQueue() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let past = time(nil) - 600
        let mailbox = try imap(try await store.open(account: alice, mailbox: "INBOX", takingNewMessages: true))
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        // The times are old enough to trust once a refresh has seen them.
        _ = try await mailbox.refresh()
        let folder = store.acquireFolder(account: alice, name: "INBOX")
        defer { store.release(folder) }
        #expect(folder.unchangedSnapshot()?.messages.map(\.uid) == [1, 2])

        // With the folder's queue busy, the refresh is still answered.
        let gate = DispatchSemaphore(value: 0)
        folder.queue.async { gate.wait() }
        let answered = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await mailbox.refresh()) != nil }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return false
            }
            let first = await group.next() ?? false
            gate.signal()
            group.cancelAll()
            return first
        }
        #expect(answered)

        // Another session's flag change is published by the change itself.
        let other = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        try await other.setFlags(uids: [1], add: .flagged, remove: [])
        #expect(try await mailbox.refresh().messages.first?.flags == [.flagged])
        await other.close()

        // Another program's delivery moves new/'s time: found.
        setTime(maildir + "/cur", past)
        _ = try await mailbox.refresh()
        try await delivery.deliver(message("three"), to: [alice])
        #expect(folder.unchangedSnapshot() == nil)
        #expect(try await mailbox.refresh().messages.map(\.uid) == [1, 2, 3])
        // Another program's flag change renames a file in cur/: found.
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        _ = try await mailbox.refresh()
        let name = try #require(fileNames(in: maildir + "/cur").first { $0.hasSuffix(":2,") })
        try DiskIO.move(maildir + "/cur/" + name, maildir + "/cur/" + name + "S")
        #expect(try await mailbox.refresh().messages.contains { $0.flags.contains(.seen) })
        await mailbox.close()
    }

    // MARK: - Derived fields

    /// Kept with the index rows: read back by a fresh store (a restart), never for a UID
    /// that is gone, gone with an expunged message, moved along with a renamed INBOX's
    /// messages.
    @Test func derivedFieldsGoWithTheirMessages() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two", "three"] { try await delivery.deliver(message(subject), to: [alice]) }
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try imap(try await store.open(account: alice, mailbox: "INBOX", takingNewMessages: true))
        let fields: [UInt32: [String: [UInt8]]] = [
            1: ["envelope": Array("(one)".utf8), "bodystructure": Array("(\"text\")".utf8)],
            2: ["envelope": Array("(two)".utf8)],
            3: ["envelope": Array("(three)".utf8)],
            99: ["envelope": Array("(none)".utf8)],
        ]
        mailbox.keepDerivedFields(fields)
        // Written after the call returns.
        var kept: [UInt32: [String: [UInt8]]] = [:]
        for _ in 0..<250 where kept.count < 3 {
            kept = await mailbox.derivedFields(uids: [1, 2, 3, 99])
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(kept == fields.filter { $0.key != 99 })
        #expect(await mailbox.derivedFields(uids: [2]) == [2: ["envelope": Array("(two)".utf8)]])
        // Bounded per message: names past the limit are not kept; a kept one can change.
        var many: [String: [UInt8]] = ["envelope": Array("(2)".utf8)]
        for index in 0..<(IndexDatabase.maximumDerivedFields + 5) { many["extra \(index)"] = [UInt8(index)] }
        mailbox.keepDerivedFields([2: many])
        var two: [String: [UInt8]] = [:]
        for _ in 0..<250 where two.count < IndexDatabase.maximumDerivedFields {
            two = await mailbox.derivedFields(uids: [2])[2] ?? [:]
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(two.count == IndexDatabase.maximumDerivedFields)
        #expect(two["envelope"] == Array("(2)".utf8))

        try await mailbox.setFlags(uids: [1], add: .deleted, remove: [])
        #expect(try await mailbox.expungeDeleted(among: nil) == [1])
        await mailbox.close()

        let restarted = MaildirMailboxStore(root: root.path)
        var reopened = try imap(try await restarted.open(account: alice, mailbox: "INBOX"))
        #expect(await reopened.derivedFields(uids: [1, 2, 3]).keys.sorted() == [2, 3])
        await reopened.close()

        // RENAME INBOX: the messages (and what was derived from them) move; INBOX is empty.
        try await restarted.rename(account: alice, from: "INBOX", to: "Moved")
        reopened = try imap(try await restarted.open(account: alice, mailbox: "Moved"))
        #expect(await reopened.derivedFields(uids: [2, 3])[3] == fields[3])
        #expect(await reopened.derivedFields(uids: [2, 3])[2]?.count == IndexDatabase.maximumDerivedFields)
        await reopened.close()
        let inbox = try imap(try await restarted.open(account: alice, mailbox: "INBOX"))
        #expect(await inbox.derivedFields(uids: [1, 2, 3]).isEmpty)
        await inbox.close()
    }

    /// The \Recent boundary: 1 for a mailbox the index has just met (its messages are
    /// news), raised and never lowered, kept across a restart.
    @Test func recentBoundaryIsKeptAndOnlyRaised() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        #expect(await mailbox.recentBoundary() == 1)
        mailbox.keepRecentBoundary(2)
        mailbox.keepRecentBoundary(1)
        var kept: UInt32? = nil
        for _ in 0..<250 where kept != 2 {
            kept = await mailbox.recentBoundary()
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(kept == 2)
        await mailbox.close()
        try await Task.sleep(for: .milliseconds(100))
        let restarted = try imap(try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX"))
        #expect(await restarted.recentBoundary() == 2)
        await restarted.close()
    }

    /// Polls `condition` until it holds or `seconds` pass.
    func eventually(seconds: Double = 5, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }
}
