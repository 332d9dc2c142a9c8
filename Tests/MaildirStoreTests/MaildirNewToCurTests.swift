import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#endif

/// A session that takes the new messages (IMAP SELECT, POP3) moves them from `new/` to
/// `cur/<base>:2,<flags>`, as Dovecot does: same UIDs, flags and keywords; read-only
/// opens leave them; crashes and other programs in the middle lose nothing.
@Suite("Maildir: new/ → cur/ when a session takes the new messages")
struct MaildirNewToCurTests: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!

    func maildir(_ root: TemporaryRoot) -> String {
        MaildirLayout.maildir(root: root.path, address: alice)
    }

    /// Opens INBOX as IMAP SELECT does.
    func select(_ store: MaildirMailboxStore) async throws -> any IMAPMailbox {
        let mailbox = try await store.open(account: alice, mailbox: "INBOX", takingNewMessages: true)
        return try #require(mailbox as? any IMAPMailbox)
    }

    /// The `file` column of every message row, in UID order.
    func indexedFiles(_ maildir: String) throws -> [String] {
        let database = try IndexDatabase.open(path: maildir + "/" + IndexDatabase.fileName)
        defer { try? database.close() }
        return try IndexDatabase.read(database) { db in
            try String.fetchAll(db, sql: "SELECT file FROM messages ORDER BY uid")
        }
    }

    /// What a store that starts from nothing (a restart) reads from the index and the disk.
    func freshSnapshot(_ root: TemporaryRoot) async throws -> MailboxSnapshot {
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let snapshot = await mailbox.snapshot()
        await mailbox.close()
        return snapshot
    }

    /// The name in `new/` of the message whose content is `bytes` (names sort by
    /// arrival only when compared as `MaildirFileName.arrivesBefore` does).
    func fileInNew(_ maildir: String, holding bytes: [UInt8]) -> String? {
        fileNames(in: maildir + "/new").first { name in
            FileManager.default.contents(atPath: maildir + "/new/" + name) == Data(bytes)
        }
    }

    /// Puts the exact (nanosecond) times back on `new/` and `cur/`: a change made within
    /// one tick of a coarse file-system clock.
    func restore(_ maildir: String, _ times: MailboxStateCache.Times) {
        for (path, time) in [(maildir + "/new", times.new), (maildir + "/cur", times.cur)] {
            var both = [time, time]
            _ = utimensat(AT_FDCWD, path, &both, 0)
        }
    }

    @Test func selectMovesNewMessagesToCurWithTheirUIDsAndFlags() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = maildir(root)
        // Another program's file whose name already carries flags (letters out of order).
        try DiskIO.writeNewFile(maildir + "/new/1999999999.M1P1Q1.other:2,SF", [message("three")])
        let store = MaildirMailboxStore(root: root.path)
        let examined = try #require(try await store.open(account: alice, mailbox: "INBOX") as? any IMAPMailbox)
        _ = try await examined.changeFlags(uids: [2], FlagChange(.add, flags: [], keywords: ["$Label1"]))
        let before = await examined.snapshot()
        #expect(before.messages.map(\.uid) == [1, 2, 3])
        #expect(fileNames(in: maildir + "/new").count == 3)
        await examined.close()

        let selected = try await select(store)
        #expect(await selected.snapshot() == before)
        #expect(fileNames(in: maildir + "/new").isEmpty)
        let names = fileNames(in: maildir + "/cur")
        #expect(names.count == 3)
        #expect(names.filter { $0.hasSuffix(":2,") }.count == 2)
        #expect(names.contains("1999999999.M1P1Q1.other:2,FS"))
        // The index has the new names: no scan has to find them.
        #expect(try indexedFiles(maildir).allSatisfy { $0.hasPrefix("cur/") && $0.contains(":2,") })
        for (uid, subject) in zip([1, 2, 3] as [UInt32], ["one", "two", "three"]) {
            #expect(try await selected.content(uid: uid) == message(subject))
        }
        #expect(try await selected.refresh() == before)
        await selected.close()
        #expect(try await freshSnapshot(root) == before)
    }

    /// EXAMINE, STATUS and a POP3 session that leaves flags alone open without taking.
    @Test func readOnlyOpensLeaveNewAlone() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let plain = try await store.open(account: alice, mailbox: "INBOX")
        let notTaking = try await store.open(account: alice, mailbox: "INBOX", takingNewMessages: false)
        #expect(await notTaking.snapshot().messages.map(\.uid) == [1])
        await plain.close()
        await notTaking.close()
        #expect(fileNames(in: maildir(root) + "/new").count == 1)
        #expect(fileNames(in: maildir(root) + "/cur").isEmpty)
        #expect(try indexedFiles(maildir(root)).allSatisfy { $0.hasPrefix("new/") })
    }

    @Test func flagsSetAfterTheMoveRenameTheMovedFile() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try await select(store)
        let moved = try #require(fileNames(in: maildir(root) + "/cur").first)
        #expect(moved.hasSuffix(":2,"))
        try await mailbox.setFlags(uids: [1], add: [.seen, .answered], remove: [])
        #expect(fileNames(in: maildir(root) + "/cur") == [String(moved.dropLast(3)) + ":2,RS"])
        #expect(fileNames(in: maildir(root) + "/new").isEmpty)
        #expect(try await mailbox.content(uid: 1) == message("one"))
        let snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.flags) == [[.seen, .answered]])
        await mailbox.close()
        #expect(try await freshSnapshot(root) == snapshot)
    }

    /// Between the refresh and the move, another program moves one message to cur/ with
    /// \Seen and deletes another: the rename fails with ENOENT, the message keeps its UID
    /// and takes the other program's flags at the next refresh; the deleted one goes.
    @Test func messagesAnotherProgramTookFirstAreLeftToTheNextReconciliation() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two", "three"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = maildir(root)
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        let store = MaildirMailboxStore(root: root.path)
        // Loaded, with both times trusted: the next refresh looks at nothing.
        let examined = try await store.open(account: alice, mailbox: "INBOX")
        let names = fileNames(in: maildir + "/new")
        #expect(names.count == 3)
        let one = try #require(fileInNew(maildir, holding: message("one")))
        let two = try #require(fileInNew(maildir, holding: message("two")))
        try DiskIO.move(maildir + "/new/" + one, maildir + "/cur/" + one + ":2,S")
        #expect(unlink(maildir + "/new/" + two) == 0)
        // Behind the refresh's back: the times are what it trusts.
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)

        let selected = try await select(store)
        // The refresh did not see it; the move could not find them.
        #expect(await selected.snapshot().messages.map(\.uid) == [1, 2, 3])
        #expect(fileNames(in: maildir + "/new").isEmpty)
        // The next refresh scans both directories (the move forgot the trusted times).
        let snapshot = try await selected.refresh()
        #expect(snapshot.messages.map(\.uid) == [1, 3])
        #expect(snapshot.messages.map(\.flags) == [[.seen], []])
        #expect(try await selected.content(uid: 1) == message("one"))
        #expect(try await selected.content(uid: 3) == message("three"))
        await selected.close()
        await examined.close()
        #expect(try await freshSnapshot(root) == snapshot)
    }

    /// A crash after the renames, before the index recorded them (the fsyncs done or
    /// not): the files are in cur/, the rows say new/. A restart follows them — same
    /// UIDs, flags, keywords and MODSEQs, nothing twice — and the index learns the names.
    @Test func aCrashAfterTheRenamesIsReconciled() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two", "three"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = maildir(root)
        let mailbox = try #require(
            try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX") as? any IMAPMailbox)
        _ = try await mailbox.changeFlags(uids: [3], FlagChange(.add, flags: [], keywords: ["$Label2"]))
        let before = await mailbox.snapshot()
        await mailbox.close()
        // Two of the three renames happened; the index was not written.
        for name in fileNames(in: maildir + "/new").prefix(2) {
            try DiskIO.move(maildir + "/new/" + name, maildir + "/cur/" + name + ":2,")
        }
        #expect(try indexedFiles(maildir).allSatisfy { $0.hasPrefix("new/") })

        #expect(try await freshSnapshot(root) == before)
        #expect(try indexedFiles(maildir).filter { $0.hasPrefix("cur/") }.count == 2)
        // The next session that takes the new messages moves the last one.
        let selected = try await select(MaildirMailboxStore(root: root.path))
        #expect(await selected.snapshot() == before)
        #expect(fileNames(in: maildir + "/new").isEmpty)
        #expect(fileNames(in: maildir + "/cur").count == 3)
        for (uid, subject) in zip([1, 2, 3] as [UInt32], ["one", "two", "three"]) {
            #expect(try await selected.content(uid: uid) == message(subject))
        }
        await selected.close()
        #expect(try indexedFiles(maildir).allSatisfy { $0.hasPrefix("cur/") })
    }

    /// A message in both new/ and cur/ (another program's link-then-unlink move, cut
    /// short by a crash): one message, its UID, taken where cur/ has it.
    @Test func aMessageInBothNewAndCurKeepsItsUID() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = maildir(root)
        let before = try await freshSnapshot(root)
        let name = try #require(fileInNew(maildir, holding: message("one")))
        try DiskIO.hardLink(maildir + "/new/" + name, maildir + "/cur/" + name + ":2,S")

        let selected = try await select(MaildirMailboxStore(root: root.path))
        let snapshot = await selected.snapshot()
        #expect(snapshot.messages.map(\.uid) == before.messages.map(\.uid))
        #expect(snapshot.messages.map(\.flags) == [[.seen], []])
        // The other message was moved; the one cur/ has was not moved again.
        #expect(fileNames(in: maildir + "/cur").count == 2)
        #expect(fileNames(in: maildir + "/cur").contains(name + ":2,S"))
        #expect(try await selected.content(uid: 1) == message("one"))
        #expect(try await selected.content(uid: 2) == message("two"))
        await selected.close()
        #expect(try await freshSnapshot(root) == snapshot)
        #expect(try indexedFiles(maildir).allSatisfy { $0.hasPrefix("cur/") })
    }

    /// Were the index ever ahead of the disk (it says cur/, the rename did not survive),
    /// the file is followed back to new/ and moved again.
    @Test func anIndexAheadOfTheDiskFollowsTheFileBack() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let maildir = maildir(root)
        let selected = try await select(MaildirMailboxStore(root: root.path))
        let before = await selected.snapshot()
        await selected.close()
        let moved = try #require(fileNames(in: maildir + "/cur").first)
        try DiskIO.move(maildir + "/cur/" + moved, maildir + "/new/" + String(moved.dropLast(3)))

        #expect(try await freshSnapshot(root) == before)
        #expect(try indexedFiles(maildir).allSatisfy { $0.hasPrefix("new/") })
        let again = try await select(MaildirMailboxStore(root: root.path))
        #expect(await again.snapshot() == before)
        #expect(try await again.content(uid: 1) == message("one"))
        await again.close()
        #expect(fileNames(in: maildir + "/cur") == [moved])
    }

    /// A delivery right after the move — in the same tick of the file system's clock,
    /// so that the directory times read after the move do not change — is seen by the
    /// next refresh: times read right after our own change are never trusted.
    @Test func aDeliveryRightAfterTheMoveIsSeen() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        try await delivery.deliver(message("one"), to: [alice])
        let maildir = maildir(root)
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        let store = MaildirMailboxStore(root: root.path)
        let selected = try await select(store)
        let afterMove = try #require(MailboxStateCache.directoryTimes(maildir))
        try await delivery.deliver(message("two"), to: [alice])
        restore(maildir, afterMove)

        var snapshot = try await selected.refresh()
        #expect(snapshot.messages.map(\.uid) == [1, 2])
        #expect(try await selected.content(uid: 2) == message("two"))
        // The same through the cache: the last user lets go right after the move.
        await selected.close()
        let second = try await select(store)
        let afterSecondMove = try #require(MailboxStateCache.directoryTimes(maildir))
        await second.close()
        try await delivery.deliver(message("three"), to: [alice])
        restore(maildir, afterSecondMove)
        let third = try await store.open(account: alice, mailbox: "INBOX")
        snapshot = await third.snapshot()
        #expect(snapshot.messages.map(\.uid) == [1, 2, 3])
        await third.close()
        #expect(try await freshSnapshot(root) == snapshot)
    }

    /// Once the times have settled, a scan trusts them again, and refreshes after a
    /// delivery scan only new/ (which the move emptied) — the point of the move.
    @Test func refreshesAreCheapAgainOnceTheTimesSettle() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = maildir(root)
        let store = MaildirMailboxStore(root: root.path)
        let selected = try await select(store)
        #expect(fileNames(in: maildir + "/new").isEmpty)
        // As if the move were long ago: the next refresh scans both and trusts the times.
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        #expect(try await selected.refresh().messages.map(\.uid) == [1, 2])

        // A file slipped into cur/ without changing its time stays unseen: cur/ is not
        // listed any more, only new/, where the delivery is.
        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P1.hidden:2,S", [message("hidden")])
        setTime(maildir + "/cur", past)
        try await delivery.deliver(message("three"), to: [alice])
        #expect(try await selected.refresh().messages.map(\.uid) == [1, 2, 3])
        await selected.close()
        // A full scan finds it.
        #expect(try await freshSnapshot(root).messages.map(\.uid) == [1, 2, 3, 4])
    }

    /// The last user lets go right after the move, while the times are too recent to
    /// trust: the state is kept all the same, so the next open scans both directories
    /// against it instead of reading every row of the index too.
    @Test func theStateIsParkedRightAfterTheMove() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let selected = try await select(store)
        let snapshot = await selected.snapshot()
        await selected.close()
        let parked = store.cache.take(maildir(root), mailboxID: 1, uidValidity: snapshot.uidValidity)
        #expect(parked?.snapshot == snapshot)
        #expect(parked?.trustedTimes.cur == nil)
        #expect(parked?.paths.count == 1 && parked?.paths.first?.hasPrefix("cur/") == true)
    }

    /// POP3 and SELECT on a folder with nothing in new/ change nothing (no rename, the
    /// trusted times stay).
    @Test func nothingInNewMovesNothing() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: message("one"))])
        let maildir = maildir(root)
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        let before = fileNames(in: maildir + "/cur")
        let selected = try await select(store)
        #expect(await selected.snapshot().messages.map(\.uid) == [1])
        await selected.close()
        #expect(fileNames(in: maildir + "/cur") == before)
        #expect(MailboxStateCache.directoryTimes(maildir)?.cur.tv_sec == past)
    }
}
