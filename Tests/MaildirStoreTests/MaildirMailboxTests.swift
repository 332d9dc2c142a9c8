import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

/// The read side: the index, reconciliation with the directory, flags and expunge.
@Suite("Maildir mailboxes and their index")
struct MaildirMailboxTests: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!


    @Test func emptyInboxForAnAccountWithoutMail() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let snapshot = await mailbox.snapshot()
        #expect(snapshot.messages.isEmpty)
        #expect(snapshot.uidNext == 1)
        #expect(snapshot.uidValidity > 0)
        await mailbox.close()
        // The index is private.
        let path = MaildirLayout.maildir(root: root.path, address: alice) + "/tsubame-index.sqlite"
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func deliveriesGetAscendingUIDsThatSurviveReopening() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        for subject in ["one", "two", "three"] { try await delivery.deliver(message(subject), to: [alice]) }
        let store = MaildirMailboxStore(root: root.path)
        let first = try await store.open(account: alice, mailbox: "INBOX")
        let snapshot = await first.snapshot()
        #expect(snapshot.messages.map(\.uid) == [1, 2, 3])
        #expect(snapshot.messages.map(\.size) == ["one", "two", "three"].map { message($0).count })
        #expect(try await first.content(uid: 2) == message("two"))
        await first.close()

        try await delivery.deliver(message("four"), to: [alice])
        let second = try await store.open(account: alice, mailbox: "inbox")
        let again = await second.snapshot()
        #expect(again.uidValidity == snapshot.uidValidity)
        #expect(again.messages.map(\.uid) == [1, 2, 3, 4])
        #expect(again.uidNext == 5)
        await second.close()
    }

    @Test func refreshSeesNewDeliveriesAndUIDsAreNeverReused() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx.example.test")
        try await delivery.deliver(message("one"), to: [alice])
        try await delivery.deliver(message("two"), to: [alice])
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        try await mailbox.expunge(uids: [2])
        try await delivery.deliver(message("three"), to: [alice])
        let snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [1, 3])
        await #expect(throws: StoreError.self) { try await mailbox.content(uid: 2) }
        await mailbox.close()
        let reopened = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        #expect(await reopened.snapshot().messages.map(\.uid) == [1, 3])
        await reopened.close()
    }

    /// Read-ahead: several messages in one trip, bounded by bytes, gaps skipped.
    @Test func contentsReadsAheadWithinTheByteLimit() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two", "three", "four"] { try await delivery.deliver(message(subject), to: [alice]) }
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let all = try await mailbox.contents(uids: [1, 2, 3, 4], byteLimit: 1 << 20)
        #expect(all.map(\.uid) == [1, 2, 3, 4])
        #expect(all.map(\.bytes) == ["one", "two", "three", "four"].map(message))
        // The first message always comes whole; the rest stop at the limit.
        let one = try await mailbox.contents(uids: [2, 3, 4], byteLimit: 1)
        #expect(one.map(\.uid) == [2])
        // An expunged message in the run is skipped; asking for it first is an error.
        try await mailbox.expunge(uids: [3])
        #expect(try await mailbox.contents(uids: [2, 3, 4], byteLimit: 1 << 20).map(\.uid) == [2, 4])
        await #expect(throws: StoreError.self) { try await mailbox.contents(uids: [3, 4], byteLimit: 1 << 20) }
        await mailbox.close()
    }

    @Test func flagsAreWrittenToTheNameAndTheIndex() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try await store.open(account: alice, mailbox: "INBOX")
        let before = await mailbox.snapshot()
        let changed = try await mailbox.setFlags(uids: [1], add: [.seen, .flagged], remove: [])
        #expect(changed.first?.flags == [.seen, .flagged])
        #expect((changed.first?.modificationSequence ?? 0) > before.highestModificationSequence)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        #expect(fileNames(in: maildir + "/new").isEmpty)
        #expect(fileNames(in: maildir + "/cur").first?.hasSuffix(":2,FS") == true)
        #expect(try await mailbox.content(uid: 1) == message("one"))
        await mailbox.close()
        let reopened = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await reopened.snapshot().messages.first?.flags == [.seen, .flagged])
        try await reopened.setFlags(uids: [1], add: [], remove: [.flagged])
        #expect(fileNames(in: maildir + "/cur").first?.hasSuffix(":2,S") == true)
        await reopened.close()
    }

    /// Another program (an MDA, a user's mutt) drops and renames files: the index follows.
    @Test func filesFromOtherProgramsAreReconciled() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try await store.open(account: alice, mailbox: "INBOX")
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        // Bare LF line ends and no ,W= in the name: the size is counted with CRLF.
        let foreign = Array("Subject: lf\n\nline one\nline two\n".utf8)
        try DiskIO.writeNewFile(maildir + "/new/1700000000.foreign.host", [foreign])
        try DiskIO.writeNewFile(maildir + "/cur/1700000001.seen.host:2,S", [message("seen")])
        var snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [1, 2])
        #expect(snapshot.messages[0].size == foreign.count + 4)
        #expect(snapshot.messages[1].flags == [.seen])
        // Renamed with a new flag, and the other one deleted, behind our back.
        try DiskIO.move(maildir + "/cur/1700000001.seen.host:2,S", maildir + "/cur/1700000001.seen.host:2,RS")
        DiskIO.removeFile(maildir + "/new/1700000000.foreign.host")
        snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [2])
        #expect(snapshot.messages[0].flags == [.seen, .answered])
        #expect(try await mailbox.content(uid: 2) == message("seen"))
        await mailbox.close()
    }

    @Test func readingFollowsARenameItHasNotSeenYet() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let name = try #require(fileNames(in: maildir + "/new").first)
        try DiskIO.move(maildir + "/new/" + name, maildir + "/cur/" + name + ":2,S")
        #expect(try await mailbox.content(uid: 1) == message("one"))
        await mailbox.close()
    }

    /// A Maildir Dovecot kept: its UIDVALIDITY and UIDs are adopted, so POP3 UIDLs and
    /// IMAP UIDs stay what clients know.
    @Test func dovecotUIDListIsAdopted() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P2.old,S=10,W=10:2,S", [message("a")])
        try DiskIO.writeNewFile(maildir + "/cur/1700000005.M3P4.old,S=10:2,", [message("b")])
        try DiskIO.writeNewFile(maildir + "/new/1700000009.M5P6.old", [message("c")])
        try DiskIO.writeNewFile(
            maildir + "/dovecot-uidlist",
            [Array("3 V1234567 N43 G0123456789abcdef\n7 :1700000000.M1P2.old,S=10,W=10\n41 W12 :1700000005.M3P4.old,S=10\n".utf8)])
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let snapshot = await mailbox.snapshot()
        #expect(snapshot.uidValidity == 1_234_567)
        #expect(snapshot.messages.map(\.uid) == [7, 41, 43])
        #expect(snapshot.uidNext == 44)
        await mailbox.close()
    }

    /// The adoption is committed with the mailbox row: a crash before the first scan
    /// (here: the row made, nothing scanned) still gets Dovecot's UIDs.
    @Test func adoptionSurvivesACrashBeforeTheFirstScan() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P2.old:2,S", [message("a")])
        try DiskIO.writeNewFile(maildir + "/dovecot-uidlist", [Array("3 V77 N10\n9 :1700000000.M1P2.old\n".utf8)])
        let database = try IndexDatabase.open(path: maildir + "/" + IndexDatabase.fileName)
        _ = try IndexDatabase.mailbox(named: "INBOX", in: database, adopting: maildir)
        try database.close()
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        let snapshot = await mailbox.snapshot()
        #expect(snapshot.uidValidity == 77)
        #expect(snapshot.messages.map(\.uid) == [9])
        #expect(snapshot.uidNext == 10)
        await mailbox.close()
    }

    /// Dovecot's UIDs count for the files the first scan finds: a file of the list that
    /// shows up later, or comes back after an expunge, gets UIDNEXT — never a UID below
    /// ones clients already know.
    @Test func adoptedUIDsAreHonouredOnlyByTheFirstScan() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P2.old:2,S", [message("a")])
        try DiskIO.writeNewFile(maildir + "/new/1700000009.M5P6.old", [message("c")])
        try DiskIO.writeNewFile(maildir + "/new/1700000010.M7P8.fresh", [message("d")])
        try DiskIO.writeNewFile(
            maildir + "/dovecot-uidlist",
            [Array("3 V1234567 N43\n7 :1700000000.M1P2.old\n20 :1700000005.M3P4.old\n41 :1700000009.M5P6.old\n".utf8)])
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.map(\.uid) == [7, 41, 43])
        let database = try IndexDatabase.open(path: maildir + "/" + IndexDatabase.fileName)
        #expect(try IndexDatabase.read(database) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM adopted_uids") } == 0)
        try database.close()
        // On the list, but not there at the first scan.
        try DiskIO.writeNewFile(maildir + "/new/1700000005.M3P4.old", [message("b")])
        #expect(try await mailbox.refresh().messages.map(\.uid) == [7, 41, 43, 44])
        // Expunged, then back again (restored by another program).
        try await mailbox.expunge(uids: [7])
        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P2.old:2,S", [message("a")])
        #expect(try await mailbox.refresh().messages.map(\.uid) == [41, 43, 44, 45])
        await mailbox.close()
        let reopened = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        #expect(await reopened.snapshot().messages.map(\.uid) == [41, 43, 44, 45])
        await reopened.close()
    }

    /// A hostile or corrupt uidlist cannot push UIDs to 2^32 - 1 (the next UID would
    /// not fit).
    @Test func hugeUIDsInAUIDListAreIgnored() {
        let parsed = DovecotUIDList.parse("3 V5 N4294967295\n4294967295 :a\n4294967294 :b\n7 :c\n")
        #expect(parsed?.uids == ["c": 7])
        #expect(parsed?.nextUID == UInt32.max - 1)
        #expect(DovecotUIDList.parse("3 V4294967295 N1\n") == nil)
    }

    /// Another program renamed a message (new/ → cur/) after we listed it; expunging it
    /// must remove it under its new name, or it comes back with a new UID.
    @Test func expungeFollowsARenameItHasNotSeen() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let store = MaildirMailboxStore(root: root.path)
        let mailbox = try await store.open(account: alice, mailbox: "INBOX")
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let name = try #require(fileNames(in: maildir + "/new").first)
        try DiskIO.move(maildir + "/new/" + name, maildir + "/cur/" + name + ":2,S")
        try await mailbox.expunge(uids: [1])
        #expect(fileNames(in: maildir + "/cur").isEmpty && fileNames(in: maildir + "/new").isEmpty)
        #expect(try await mailbox.refresh().messages.isEmpty)
        await mailbox.close()
    }

    /// A file without a final line end: POP3 adds CRLF, so the size counts it.
    @Test func sizeCountsTheLineEndPOP3Adds() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        try DiskIO.writeNewFile(maildir + "/new/1.x.host", [Array("Subject: x\n\nno final newline".utf8)])
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        // 10 + 2, 0 + 2, 16 + 2
        #expect(await mailbox.snapshot().messages.first?.size == 32)
        await mailbox.close()
    }

    @Test func dovecotUIDListParsing() {
        #expect(DovecotUIDList.parse("") == nil)
        #expect(DovecotUIDList.parse("1 2 3\n") == nil)  // version 1: not read
        #expect(DovecotUIDList.parse("3 N5\n1 :x\n") == nil)  // no UIDVALIDITY
        let parsed = DovecotUIDList.parse("3 V9 N3\n1 :a:2,S\nbad line\n2 W5 :b\n0 :zero\n")
        #expect(parsed == .init(uidValidity: 9, nextUID: 3, uids: ["a": 1, "b": 2]))
    }

    /// Names carry unpadded microseconds and counters: arrival order compares them as
    /// numbers (a bug found by the e2e suite: string order put …M152739… before …M20970…).
    @Test func arrivalOrderComparesNumbersAsNumbers() {
        let earlier = "1795943492.M20970P31633Q2.mx,S=439,W=439"
        let later = "1795943492.M152739P31633Q3.mx,S=439,W=439"
        #expect(MaildirFileName.arrivesBefore(earlier, later))
        #expect(!MaildirFileName.arrivesBefore(later, earlier))
        #expect(MaildirFileName.arrivesBefore("1.M5P1Q9.h", "1.M5P1Q10.h"))
        #expect(MaildirFileName.arrivesBefore("999.x", "1000.x"))
        #expect(MaildirFileName.arrivesBefore("a", "ab"))
        #expect(!MaildirFileName.arrivesBefore("x", "x"))
        #expect(MaildirFileName.arrivesBefore("007.a", "7.b") != MaildirFileName.arrivesBefore("7.b", "007.a"))
    }

    @Test func deliveriesWithinOneSecondKeepTheirOrder() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        try DiskIO.writeNewFile(maildir + "/new/1795943492.M152739P1Q3.mx", [message("second")])
        try DiskIO.writeNewFile(maildir + "/new/1795943492.M20970P1Q2.mx", [message("first")])
        let mailbox = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        #expect(try await mailbox.content(uid: 1) == message("first"))
        #expect(try await mailbox.content(uid: 2) == message("second"))
        await mailbox.close()
    }

    /// An unchanged mailbox is opened from memory; any change of new/ or cur/ (and any
    /// write of our own) makes the next open scan again; recent times are not trusted.
    @Test func unchangedMailboxesOpenFromTheCache() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("one"), to: [alice])
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        // Fixed times well in the past (a slow machine must not make them drift).
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        var mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.count == 1)
        await mailbox.close()

        // A file slipped in without changing the directory's time: the cache is used,
        // so the open does not see it (this is what the cache saves: the scan).
        try DiskIO.writeNewFile(maildir + "/new/1795943500.M1P1Q1.other", [message("two")])
        setTime(maildir + "/new", past)
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.count == 1)
        await mailbox.close()

        // The directory's time moved: scanned again.
        setTime(maildir + "/new", past + 1)
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.map(\.uid) == [1, 2])
        // Our own write: the next open scans (and the times are now too recent to trust).
        try await mailbox.setFlags(uids: [1], add: .seen, remove: [])
        await mailbox.close()
        try DiskIO.writeNewFile(maildir + "/new/1795943501.M1P1Q1.other", [message("three")])
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.map(\.uid) == [1, 2, 3])
        #expect(await mailbox.snapshot().messages.first?.flags == [.seen])
        await mailbox.close()
    }

    /// The name in `new/` of the message whose content is `bytes`.
    func fileInNew(_ maildir: String, holding bytes: [UInt8]) -> String? {
        fileNames(in: maildir + "/new").first { FileManager.default.contents(atPath: maildir + "/new/" + $0) == Data(bytes) }
    }

    /// A delivery into a loaded folder whose `cur/` is unchanged (and old enough to
    /// trust) costs a scan of `new/` only: files there get their UIDs, files gone from
    /// there are dropped, and `cur/` is not looked at — a file slipped into it without
    /// changing its time stays unseen until `cur/` changes.
    @Test func deliveriesIntoALoadedFolderScanOnlyNew() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        let mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.map(\.uid) == [1, 2])

        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P1.hidden:2,S", [message("hidden")])
        setTime(maildir + "/cur", past)
        for subject in ["three", "four"] { try await delivery.deliver(message(subject), to: [alice]) }
        var snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [1, 2, 3, 4])
        #expect(snapshot.messages.map(\.size) == ["one", "two", "three", "four"].map { message($0).count })
        #expect(snapshot.uidNext == 5)
        #expect(try await mailbox.content(uid: 4) == message("four"))

        // Removed from new/ by another program; a file with no name we can use.
        let one = try #require(fileInNew(maildir, holding: message("one")))
        #expect(unlink(maildir + "/new/" + one) == 0)
        try DiskIO.writeNewFile(maildir + "/new/.hidden-by-name", [message("dot")])
        snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [2, 3, 4])
        #expect(await kind { _ = try await mailbox.content(uid: 1) } == .expunged)

        // cur/ changed: a full scan, which finds the hidden file.
        setTime(maildir + "/cur", past + 1)
        snapshot = try await mailbox.refresh()
        #expect(snapshot.messages.map(\.uid) == [2, 3, 4, 5])
        await mailbox.close()
        // The index agrees with what the sessions saw.
        let fresh = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        #expect(await fresh.snapshot() == snapshot)
        await fresh.close()
    }

    /// The same from the state cache: a mailbox no session has open, opened again after
    /// a delivery, starts from the cached state and scans `new/` only.
    @Test func reopeningAfterADeliveryScansOnlyNew() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        try await delivery.deliver(message("one"), to: [alice])
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let past = time(nil) - 600
        setTime(maildir + "/new", past)
        setTime(maildir + "/cur", past)
        var mailbox = try await store.open(account: alice, mailbox: "INBOX")
        #expect(await mailbox.snapshot().messages.map(\.uid) == [1])
        await mailbox.close()
        #expect(store.folders.count == 0)

        try DiskIO.writeNewFile(maildir + "/cur/1700000000.M1P1.hidden:2,S", [message("hidden")])
        setTime(maildir + "/cur", past)
        try await delivery.deliver(message("two"), to: [alice])
        mailbox = try await store.open(account: alice, mailbox: "INBOX")
        let snapshot = await mailbox.snapshot()
        #expect(snapshot.messages.map(\.uid) == [1, 2])
        #expect(try await mailbox.content(uid: 2) == message("two"))
        await mailbox.close()
        let fresh = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        // A full scan: the hidden file too.
        #expect(await fresh.snapshot().messages.map(\.uid) == [1, 2, 3])
        #expect(Array(await fresh.snapshot().messages.prefix(2)) == snapshot.messages)
        await fresh.close()
    }

    /// SplitMix64: the same sequence on every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Random runs of deliveries, appends, flag changes, expunges, sessions that take the
    /// new messages (new/ → cur/), and other programs' renames and removals, with
    /// directory times now trusted and now not (so refreshes scan `new/` alone, both
    /// directories, or nothing): after every step, what sessions see is what a fresh
    /// store reads from the index and the directory.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func theStateAlwaysMatchesTheIndexAndTheDirectory(seed: UInt64) async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        var random = SeededGenerator(state: seed)
        let store = MaildirMailboxStore(root: root.path)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        try await delivery.deliver(message("first"), to: [alice])
        let mailbox = try #require(try await store.open(account: alice, mailbox: "INBOX") as? any IMAPMailbox)
        let past = time(nil) - 6000
        var counter = 0
        for step in 0..<80 {
            counter += 1
            let uids = await mailbox.snapshot().messages.map(\.uid)
            let files = fileNames(in: maildir + "/new").map { "new/" + $0 } + fileNames(in: maildir + "/cur").map { "cur/" + $0 }
            switch random.next() % 9 {
            case 0:
                for index in 0..<Int(random.next() % 3 + 1) {
                    try await delivery.deliver(message("d\(step).\(index)"), to: [alice])
                }
            case 1:
                _ = try await store.append(
                    account: alice, mailbox: "INBOX",
                    messages: [NewMessage(bytes: message("a\(step)"), flags: .seen, keywords: ["k\(step % 3)"])])
            case 2:
                if let uid = uids.randomElement(using: &random) {
                    let flags: SystemFlags = random.next() % 2 == 0 ? .flagged : .answered
                    _ = try await mailbox.changeFlags(uids: [uid], FlagChange(random.next() % 3 == 0 ? .remove : .add, flags: flags))
                }
            case 3:
                if let uid = uids.randomElement(using: &random) { try await mailbox.expunge(uids: [uid]) }
            case 4:
                if let file = files.randomElement(using: &random) { _ = unlink(maildir + "/" + file) }
            case 5:
                // Another program: new/ → cur/ with \Seen, or a flag changed in cur/.
                if let file = files.randomElement(using: &random) {
                    let base = MaildirFileName.base(of: file)
                    let target = "cur/" + base + (file.hasPrefix("new/") ? ":2,S" : ":2,DS")
                    _ = rename(maildir + "/" + file, maildir + "/" + target)
                }
            case 6:
                // Another program drops a file straight into cur/.
                try DiskIO.writeNewFile(maildir + "/cur/\(1_700_000_000 + counter).M\(counter)P9.other:2,F", [message("o\(step)")])
            case 7:
                // A session that takes the new messages (SELECT, POP3) comes and goes.
                let selected = try await store.open(account: alice, mailbox: "INBOX", takingNewMessages: true)
                await selected.close()
            default:
                setTime(maildir + "/new", past + counter)
                setTime(maildir + "/cur", past + counter)
            }
            let snapshot = try await mailbox.refresh()
            let seen = snapshot.messages.map(\.uid)
            #expect(seen == seen.sorted() && Set(seen).count == seen.count, "step \(step)")
            let fresh = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
            #expect(await fresh.snapshot() == snapshot, "step \(step)")
            for message in snapshot.messages where random.next() % 8 == 0 {
                #expect((try? await mailbox.content(uid: message.uid)) != nil, "step \(step): uid \(message.uid)")
            }
            await fresh.close()
        }
        await mailbox.close()
    }


    @Test func fileNameParsing() {
        let file = MaildirFileName(subdirectory: "cur", name: "1.M2P3.host,S=100,W=104:2,DFRST")
        #expect(file?.base == "1.M2P3.host,S=100,W=104")
        #expect(file?.flags == [.draft, .flagged, .answered, .seen, .deleted])
        #expect(file?.crlfSize == 104)
        #expect(MaildirFileName(subdirectory: "new", name: ".hidden") == nil)
        #expect(MaildirFileName(subdirectory: "new", name: "x,W=abc")?.crlfSize == nil)
        #expect(MaildirFileName(subdirectory: "new", name: "x,W=99999999999999999999")?.crlfSize == nil)
        #expect(MaildirFileName.curPath(base: "b", flags: [.seen, .draft]) == "cur/b:2,DS")
        #expect(MaildirFileName.base(of: "cur/b:2,DS") == "b")
    }

    @Test func unknownAndHostileMailboxesAreNotFound() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        for name in ["../../etc", "Nope", "a//b", ""] {
            do {
                _ = try await store.open(account: alice, mailbox: name)
                Issue.record("\(name) opened")
            } catch {
                #expect(error.kind == .notFound)
            }
        }
    }
}
