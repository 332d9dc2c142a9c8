import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#endif

/// The folder side for IMAP: Maildir++ folders, LIST/CREATE/DELETE/RENAME/SUBSCRIBE,
/// APPEND, COPY, keywords, shared state between sessions, and hostile names.
@Suite("Maildir folders")
struct MaildirFoldersTests: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!



    /// Every path under `directory`, relative to it, sorted.
    func tree(_ directory: String) -> [String] {
        ((FileManager.default.subpaths(atPath: directory)) ?? []).sorted()
    }

    // MARK: - LIST and the default mailboxes

    @Test func firstListMakesTheDefaultMailboxesOnce() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let list = try await store.mailboxes(account: alice)
        #expect(list.map(\.name) == ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"])
        #expect(list.allSatisfy { $0.isSubscribed })
        #expect(list.first { $0.name == "Sent" }?.specialUse == "\\Sent")
        #expect(list.first { $0.name == "INBOX" }?.specialUse == nil)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for entry in [".Sent/cur", ".Sent/new", ".Sent/tmp", ".Sent/maildirfolder", ".Trash/cur"] {
            #expect(FileManager.default.fileExists(atPath: maildir + "/" + entry), "\(entry)")
        }
        // A default mailbox the user deletes stays deleted, also after a restart.
        try await store.delete(account: alice, mailbox: "Junk")
        let again = try await MaildirMailboxStore(root: root.path).mailboxes(account: alice)
        #expect(again.filter(\.exists).map(\.name) == ["INBOX", "Archive", "Drafts", "Sent", "Trash"])
        // Still subscribed (RFC 9051 §6.3.9), so listed as not existing.
        #expect(again.first { $0.name == "Junk" } == MailboxInfo(name: "Junk", isSubscribed: true, exists: false))
    }

    @Test func foldersOfOtherProgramsAreListedAndOpened() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp", "/.Projekte.Entw&APw-rfe/cur", "/.Projekte.Entw&APw-rfe/new",
            "/.Projekte.Entw&APw-rfe/tmp", "/.not-a-folder", "/.bad&name/cur"]
        {
            try DiskIO.makeDirectory(maildir + subdirectory)
        }
        try DiskIO.writeNewFile(maildir + "/.Projekte.Entw&APw-rfe/cur/1700000000.M1P1.other:2,S", [message("draft")])
        let store = MaildirMailboxStore(root: root.path)
        let names = try await store.mailboxes(account: alice).map(\.name)
        // ".Projekte" does not exist itself (Maildir++ allows that); "&name" is not
        // modified UTF-7, so it is no mailbox of ours.
        #expect(names.contains("Projekte/Entwürfe"))
        #expect(try await store.mailboxes(account: alice).first { $0.name == "Projekte" }?.exists == false)
        #expect(!names.contains { $0.contains("bad") || $0.contains("not-a-folder") })
        let mailbox = try await store.open(account: alice, mailbox: "Projekte/Entwürfe")
        #expect(await mailbox.snapshot().messages.map(\.flags) == [[.seen]])
        #expect(try await mailbox.content(uid: 1) == message("draft"))
        await mailbox.close()
    }

    // MARK: - CREATE, DELETE, RENAME

    @Test func createMakesParentsAndRefusesWhatExists() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "a/b/c", specialUse: nil)
        try await store.create(account: alice, mailbox: "Mine", specialUse: "\\flagged")
        let list = try await store.mailboxes(account: alice)
        #expect(["a", "a/b", "a/b/c", "Mine"].allSatisfy { name in list.contains { $0.name == name } })
        #expect(list.first { $0.name == "Mine" }?.specialUse == "\\Flagged")
        #expect(!(list.first { $0.name == "a/b/c" }?.isSubscribed ?? true))
        #expect(await kind { try await store.create(account: alice, mailbox: "a/b", specialUse: nil) } == .alreadyExists)
        #expect(await kind { try await store.create(account: alice, mailbox: "inbox", specialUse: nil) } == .alreadyExists)
        #expect(
            await kind { try await store.create(account: alice, mailbox: "x", specialUse: "\\Important") }
                == .permissionDenied)
        // Children of INBOX are ordinary folders.
        try await store.create(account: alice, mailbox: "inbox/x", specialUse: nil)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        #expect(FileManager.default.fileExists(atPath: maildir + "/.INBOX.x/cur"))
        #expect(try await store.mailboxes(account: alice).contains { $0.name == "INBOX/x" })
        let opened = try await store.open(account: alice, mailbox: "INBOX/x")
        await opened.close()
    }

    @Test func deleteRefusesInboxMissingAndParents() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "a/b", specialUse: nil)
        _ = try await store.append(account: alice, mailbox: "a/b", messages: [NewMessage(bytes: message("x"))])
        try await store.setSubscribed(account: alice, mailbox: "a/b", subscribed: true)
        #expect(await kind { try await store.delete(account: alice, mailbox: "INBOX") } == .permissionDenied)
        #expect(await kind { try await store.delete(account: alice, mailbox: "nope") } == .notFound)
        #expect(await kind { try await store.delete(account: alice, mailbox: "a") } == .inUse)
        try await store.delete(account: alice, mailbox: "a/b")
        try await store.delete(account: alice, mailbox: "a")
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        #expect(tree(maildir).allSatisfy { !$0.hasPrefix(".a") && !$0.hasPrefix("..") })
        #expect(await kind { _ = try await store.open(account: alice, mailbox: "a/b") } == .notFound)
        // The subscription stays (RFC 9051 §6.3.9); the mailbox is listed as not existing.
        let database = try IndexDatabase.open(path: maildir + "/" + IndexDatabase.fileName)
        #expect(try IndexDatabase.read(database) { try IndexDatabase.subscriptions($0) }.contains("a/b"))
        #expect(try IndexDatabase.read(database) { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM messages") } == 0)
        try database.close()
        #expect(try await store.mailboxes(account: alice).filter { $0.name.hasPrefix("a") } == [
            MailboxInfo(name: "a/b", isSubscribed: true, exists: false)
        ])
    }

    /// Maildir++ lets `.a.b` exist without `.a`; LIST shows such a parent as not
    /// existing (IMAP: \NonExistent or \Noselect), and so are subscriptions of mailboxes
    /// that do not exist, in name order with the rest.
    @Test func missingParentsAndSubscriptionsAreListedAsNonexistent() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.mailboxes(account: alice)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["/.p.q.r/cur", "/.p.q.r/new", "/.p.q.r/tmp", "/.INBOX.x/cur", "/.INBOX.x/new", "/.INBOX.x/tmp"] {
            try DiskIO.makeDirectory(maildir + subdirectory)
        }
        try await store.setSubscribed(account: alice, mailbox: "p/q", subscribed: true)
        try await store.setSubscribed(account: alice, mailbox: "Gone", subscribed: true)
        try await store.setSubscribed(account: alice, mailbox: "Sent", subscribed: true)
        let list = try await store.mailboxes(account: alice)
        #expect(list.first?.name == "INBOX")
        #expect(list.map(\.name) == ["INBOX"] + list.dropFirst().map(\.name).sorted())
        #expect(Set(list.map(\.name)).count == list.count)
        #expect(list.first { $0.name == "p" } == MailboxInfo(name: "p", exists: false))
        #expect(list.first { $0.name == "p/q" } == MailboxInfo(name: "p/q", isSubscribed: true, exists: false))
        #expect(list.first { $0.name == "p/q/r" } == MailboxInfo(name: "p/q/r"))
        #expect(list.first { $0.name == "Gone" } == MailboxInfo(name: "Gone", isSubscribed: true, exists: false))
        #expect(list.first { $0.name == "INBOX/x" }?.exists == true)
        #expect(list.filter { !$0.exists }.map(\.name).sorted() == ["Gone", "p", "p/q"])
        #expect(list.first { $0.name == "Sent" }?.exists == true)
        // Opening a parent that does not exist is `.notFound`; creating it makes it exist.
        #expect(await kind { _ = try await store.open(account: alice, mailbox: "p") } == .notFound)
        try await store.create(account: alice, mailbox: "p", specialUse: nil)
        #expect(try await store.mailboxes(account: alice).first { $0.name == "p" }?.exists == true)
    }

    /// A name made again after a delete never repeats its UIDVALIDITY.
    @Test func uidValidityOfAMailboxMadeAgainIsHigher() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        var validities: [UInt32] = []
        for _ in 0..<3 {
            try await store.create(account: alice, mailbox: "again", specialUse: nil)
            let stored = try await store.append(account: alice, mailbox: "again", messages: [NewMessage(bytes: message("x"))])
            validities.append(stored.uidValidity)
            #expect(stored.uids == [1])
            try await store.delete(account: alice, mailbox: "again")
        }
        #expect(validities == validities.sorted() && Set(validities).count == 3)
    }

    @Test func renameMovesChildrenAndKeepsUIDs() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "a/b", specialUse: nil)
        try await store.create(account: alice, mailbox: "a.b", specialUse: "\\Archive")
        let stored = try await store.append(
            account: alice, mailbox: "a/b", messages: [NewMessage(bytes: message("one"), flags: .seen, keywords: ["Work"])])
        try await store.setSubscribed(account: alice, mailbox: "a/b", subscribed: true)
        let open = try imap(try await store.open(account: alice, mailbox: "a/b"))

        #expect(await kind { try await store.rename(account: alice, from: "nope", to: "z") } == .notFound)
        #expect(await kind { try await store.rename(account: alice, from: "a", to: "a.b") } == .alreadyExists)
        #expect(await kind { try await store.rename(account: alice, from: "a", to: "a/b/c") } == .permissionDenied)
        #expect(await kind { try await store.rename(account: alice, from: "a", to: "INBOX") } == .alreadyExists)

        try await store.rename(account: alice, from: "a", to: "x/y")
        let list = try await store.mailboxes(account: alice)
        let names = list.map(\.name)
        #expect(names.contains("x") && names.contains("x/y") && names.contains("x/y/b") && names.contains("a.b"))
        #expect(!names.contains("a") && !names.contains("a/b"))
        #expect(list.first { $0.name == "x/y/b" }?.isSubscribed == true)
        #expect(list.first { $0.name == "a.b" }?.specialUse == "\\Archive")

        // Same UIDVALIDITY and UIDs, flags and keywords; the open session follows.
        let renamed = try await store.open(account: alice, mailbox: "x/y/b")
        let snapshot = await renamed.snapshot()
        #expect(snapshot.uidValidity == stored.uidValidity)
        #expect(snapshot.messages.map(\.uid) == [1])
        #expect(snapshot.messages.first?.keywords == ["Work"])
        #expect(snapshot.messages.first?.flags == [.seen])
        #expect(try await open.refresh().messages.map(\.uid) == [1])
        #expect(try await open.content(uid: 1) == message("one"))
        _ = try await open.changeFlags(uids: [1], FlagChange(.add, flags: .flagged))
        #expect(try await renamed.refresh().messages.first?.flags == [.seen, .flagged])
        await open.close()
        await renamed.close()
        #expect(store.folders.count == 0)
    }

    @Test func renamingInboxMovesItsMessages() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        for subject in ["one", "two"] { try await delivery.deliver(message(subject), to: [alice]) }
        let store = MaildirMailboxStore(root: root.path)
        let inbox = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        let before = await inbox.snapshot()
        _ = try await inbox.changeFlags(uids: [2], FlagChange(.add, flags: .answered, keywords: ["$Forwarded"]))
        try await store.create(account: alice, mailbox: "INBOX/child", specialUse: nil)

        try await store.rename(account: alice, from: "inbox", to: "Old/Mail")
        #expect(try await inbox.refresh().messages.isEmpty)
        let old = try await store.open(account: alice, mailbox: "Old/Mail")
        let moved = await old.snapshot()
        #expect(moved.messages.map(\.uid) == [1, 2])
        #expect(moved.uidValidity != before.uidValidity)
        #expect(moved.messages.last?.keywords == ["$Forwarded"])
        #expect(moved.messages.last?.flags == [.answered])
        #expect(try await old.content(uid: 1) == message("one"))
        // INBOX stays, empty, with its children; new mail still arrives there.
        try await delivery.deliver(message("three"), to: [alice])
        let inboxNow = try await inbox.refresh()
        #expect(inboxNow.messages.map(\.uid) == [3])
        #expect(try await store.mailboxes(account: alice).map(\.name).contains("INBOX/child"))
        #expect(await kind { try await store.rename(account: alice, from: "INBOX", to: "Old/Mail") } == .alreadyExists)
        await inbox.close()
        await old.close()
    }

    // MARK: - Names

    @Test func namesRoundTripThroughTheirDirectories() async throws {
        let cases: [(String, String)] = [
            ("Entwürfe", ".Entw&APw-rfe"), ("v1.2", ".v1\\2e2"), ("A&B", ".A&-B"), ("with space", ".with space"),
            ("日本語/子", ".&ZeVnLIqe-.&W1A-"), ("back\\slash", ".back\\5cslash"), ("a/b", ".a.b"),
            ("...", ".\\2e\\2e\\2e"), (".hidden", ".\\2ehidden"), ("smile 😀", ".smile &2D3eAA-"), ("INBOX/x", ".INBOX.x"),
        ]
        for (name, directory) in cases {
            #expect(MaildirFolderName.directoryName(for: name) == directory, "\(name)")
            #expect(MaildirFolderName.mailboxName(forDirectory: directory) == name, "\(directory)")
        }
        // Not ours, or not canonical: never a mailbox.
        for directory in [".", "..", "...", "..deleted.x", ".a..b", ".a.", ".\\2e\\2e", ".\\2e", ".&", ".&Jjo", ".INBOX",
            ".inbox.x", ".a\\2Fb", ".a\\2", ".a\\zz", ".&AGE-", "plain", ".\\7ex", ".a\\2E"]
        {
            #expect(MaildirFolderName.mailboxName(forDirectory: directory) == nil, "\(directory)")
        }

        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let names = cases.map(\.0)
        for name in names { try await store.create(account: alice, mailbox: name, specialUse: nil) }
        let listed = Set(try await store.mailboxes(account: alice).map(\.name))
        #expect(Set(names).isSubset(of: listed))
        for name in names {
            let stored = try await store.append(account: alice, mailbox: name, messages: [NewMessage(bytes: message(name))])
            let mailbox = try await store.open(account: alice, mailbox: name)
            #expect(try await mailbox.content(uid: stored.uids[0]) == message(name))
            await mailbox.close()
        }
    }

    /// Names that differ only in Unicode normalization, or look like INBOX only to
    /// Unicode case mapping, are mailboxes of their own (Swift's `==` would say "equal").
    @Test func namesAreComparedOctetByOctet() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let composed = "caf\u{E9}"
        let decomposed = "cafe\u{301}"
        try await store.create(account: alice, mailbox: composed + "/x", specialUse: nil)
        try await store.create(account: alice, mailbox: decomposed + "/x", specialUse: nil)
        try await store.create(account: alice, mailbox: "\u{131}nbox", specialUse: nil)
        _ = try await store.append(account: alice, mailbox: decomposed + "/x", messages: [NewMessage(bytes: message("d"))])
        try await store.rename(account: alice, from: composed, to: "renamed")
        let names = try await store.mailboxes(account: alice).map { Array($0.name.utf8) }
        #expect(names.contains(Array((decomposed + "/x").utf8)))
        #expect(names.contains(Array(decomposed.utf8)))
        #expect(!names.contains(Array(composed.utf8)))
        #expect(names.contains(Array("renamed/x".utf8)))
        #expect(names.contains(Array("\u{131}nbox".utf8)))
        let mailbox = try await store.open(account: alice, mailbox: decomposed + "/x")
        #expect(await mailbox.snapshot().messages.count == 1)
        await mailbox.close()
    }

    /// Whatever a client sends as a name, nothing is made outside the account's Maildir,
    /// nothing collides with `cur`/`new`/`tmp` or the index, and nothing crashes.
    @Test func hostileNamesNeverLeaveTheAccount() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        try await store.create(account: alice, mailbox: "real", specialUse: nil)
        try await store.create(account: alice, mailbox: "scratch", specialUse: nil)
        let hostile = [
            "", ".", "..", "../x", "a/../b", "/abs", "abs/", "~x", "a/~b", "a//b", "a\u{0}b", "a\nb", "\u{7F}",
            String(repeating: "x", count: 2000), String(repeating: "a/", count: 20) + "a", "../../etc", "a/./b",
            String(repeating: ".", count: 200), String(repeating: "é", count: 100), "cur", "new", "tmp",
            "tsubame-index.sqlite", "real/..", "..deleted.x", "%2e%2e", "\\..", "a\\/b",
        ]
        for name in hostile {
            let names = [name, "real/" + name]
            for name in names {
                _ = await kind { try await store.create(account: alice, mailbox: name, specialUse: nil) }
                _ = await kind { try await store.setSubscribed(account: alice, mailbox: name, subscribed: true) }
                _ = await kind {
                    _ = try await store.append(account: alice, mailbox: name, messages: [NewMessage(bytes: message("h"))])
                }
                if await kind({ try await store.rename(account: alice, from: "scratch", to: name) }) == nil {
                    try await store.rename(account: alice, from: name, to: "scratch")
                }
                if await kind({ try await store.rename(account: alice, from: name, to: "elsewhere") }) == nil {
                    try await store.rename(account: alice, from: "elsewhere", to: name)
                }
                _ = await kind { let box = try await store.open(account: alice, mailbox: name); await box.close() }
            }
        }
        for name in ["", "..", "a/../b", "/abs", "a//b", "~x", "a\u{0}b", String(repeating: "x", count: 2000)] {
            #expect(await kind { try await store.create(account: alice, mailbox: name, specialUse: nil) } == .permissionDenied)
            #expect(await kind { _ = try await store.open(account: alice, mailbox: name) } == .notFound)
            #expect(await kind { try await store.delete(account: alice, mailbox: name) } == .notFound)
        }
        // A level of 200 dots is a valid name, but 600 characters on disk.
        #expect(
            await kind { try await store.create(account: alice, mailbox: String(repeating: ".", count: 200), specialUse: nil) }
                == .limitExceeded)
        // Only the account's directory, and in it only Maildir entries and "." folders.
        #expect(tree(root.path).allSatisfy { $0 == "example.test" || $0.hasPrefix("example.test/alice") })
        let top = fileNames(in: maildir)
        #expect(top.allSatisfy { ["cur", "new", "tmp"].contains($0) || $0.hasPrefix(IndexDatabase.fileName) || $0.hasPrefix(".") })
        #expect(!top.contains { $0.hasPrefix("..") })
        for entry in top where entry.hasPrefix(".") {
            // Each folder decodes to a valid name: listing and opening agree.
            let name = try #require(MaildirFolderName.mailboxName(forDirectory: entry), "\(entry)")
            #expect(MailboxNaming.problem(with: name) == nil)
        }
        // Names that are valid but look like paths stay inside as folders.
        let list = try await store.mailboxes(account: alice).map(\.name)
        for name in ["cur", "tmp", "real/new", "%2e%2e", "\\..", "..deleted.x", "tsubame-index.sqlite", "scratch"] {
            #expect(list.contains(name), "\(name)")
        }
    }

    // MARK: - APPEND

    @Test func appendedMessagesSurviveARestart() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "Saved", specialUse: nil)
        let lf = Array("Subject: lf\n\nbare line ends\n".utf8)
        let stored = try await store.append(
            account: alice, mailbox: "Saved",
            messages: [
                NewMessage(bytes: message("one"), flags: [.seen, .draft], keywords: ["$Label1", "work", "WORK"],
                    internalDate: 1_600_000_000),
                NewMessage(bytes: message("two")),
                NewMessage(bytes: lf, flags: .flagged),
            ])
        #expect(stored.uids == [1, 2, 3])
        #expect(stored.sourceUIDs.isEmpty)

        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let names = fileNames(in: maildir + "/.Saved/cur")
        #expect(names.count == 3 && fileNames(in: maildir + "/.Saved/new").isEmpty)
        #expect(fileNames(in: maildir + "/.Saved/tmp").isEmpty)
        #expect(names.allSatisfy { $0.contains(",S=") && $0.contains(",W=") && $0.contains(":2,") })
        #expect(names.contains { $0.hasSuffix(":2,DS") } && names.contains { $0.hasSuffix(":2,F") })
        #expect(names.contains { $0.hasSuffix(":2,") })
        let first = try #require(names.first { $0.hasSuffix(":2,DS") })
        let status = try #require(fileStatus(maildir + "/.Saved/cur/" + first))
        #expect(status.st_mtim.tv_sec == 1_600_000_000)
        #expect(status.st_mode & 0o777 == 0o600)

        let reopened = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "Saved")
        let snapshot = await reopened.snapshot()
        #expect(snapshot.uidValidity == stored.uidValidity)
        #expect(snapshot.uidNext == 4)
        #expect(snapshot.messages.map(\.uid) == [1, 2, 3])
        #expect(snapshot.messages[0].flags == [.seen, .draft])
        #expect(snapshot.messages[0].keywords == ["$Label1", "work"])
        #expect(snapshot.messages[0].internalDate == 1_600_000_000)
        #expect(snapshot.messages[0].size == message("one").count)
        #expect(snapshot.messages[2].size == lf.count + 3)
        #expect(abs(snapshot.messages[1].internalDate - Int64(Date().timeIntervalSince1970)) < 60)
        #expect(try await reopened.content(uid: 3) == lf)
        await reopened.close()

        #expect(await kind { _ = try await store.append(account: alice, mailbox: "Nope", messages: [NewMessage(bytes: lf)]) } == .notFound)
        #expect(try await store.append(account: alice, mailbox: "Saved", messages: []).uids.isEmpty)
        #expect(
            await kind {
                _ = try await store.append(account: alice, mailbox: "Saved", messages: [NewMessage(bytes: lf, keywords: ["a b"])])
            } == .permissionDenied)
        // Appending to INBOX of an account that never had mail works too.
        let bob = try address("bob@example.test")
        #expect(try await store.append(account: bob, mailbox: "INBOX", messages: [NewMessage(bytes: lf)]).uids == [1])
    }

    /// All or nothing: when the index refuses (here: UIDs exhausted), no file stays.
    @Test func aFailedAppendLeavesNothingBehind() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "Full", specialUse: nil)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let database = try IndexDatabase.open(path: maildir + "/" + IndexDatabase.fileName)
        try IndexDatabase.write(database) {
            try $0.execute(sql: "UPDATE mailboxes SET uidnext = ? WHERE name = 'Full'", arguments: [Int64(UInt32.max) - 1])
        }
        try database.close()
        let result = await kind {
            _ = try await store.append(
                account: alice, mailbox: "Full", messages: [NewMessage(bytes: message("a")), NewMessage(bytes: message("b"))])
        }
        #expect(result == .limitExceeded)
        #expect(fileNames(in: maildir + "/.Full/cur").isEmpty)
        #expect(fileNames(in: maildir + "/.Full/tmp").isEmpty)
        let mailbox = try await store.open(account: alice, mailbox: "Full")
        #expect(await mailbox.snapshot().messages.isEmpty)
        await mailbox.close()
    }

    // MARK: - COPY

    @Test func copyKeepsFlagsKeywordsAndDatesAndGivesCOPYUID() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "Archive", specialUse: nil)
        _ = try await store.append(
            account: alice, mailbox: "INBOX",
            messages: [
                NewMessage(bytes: message("one"), flags: .seen, keywords: ["Work"], internalDate: 1_500_000_000),
                NewMessage(bytes: message("two")),
                NewMessage(bytes: message("three"), flags: [.answered, .flagged], internalDate: 1_500_000_300),
            ])
        let inbox = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        try await inbox.expunge(uids: [2])
        let copied = try await inbox.copy(uids: [3, 1, 2, 99], to: "Archive")
        #expect(copied.sourceUIDs == [1, 3])
        #expect(copied.uids == [1, 2])
        let archive = try await store.open(account: alice, mailbox: "Archive")
        let snapshot = await archive.snapshot()
        #expect(copied.uidValidity == snapshot.uidValidity)
        #expect(snapshot.messages.map(\.flags) == [[.seen], [.answered, .flagged]])
        #expect(snapshot.messages.map(\.keywords) == [["Work"], []])
        #expect(snapshot.messages.map(\.internalDate) == [1_500_000_000, 1_500_000_300])
        #expect(try await archive.content(uid: 2) == message("three"))
        // Hard links: one inode for both copies.
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let name = try #require(fileNames(in: maildir + "/.Archive/cur").first)
        #expect(fileStatus(maildir + "/.Archive/cur/" + name)?.st_nlink == 2)

        // Into the same mailbox.
        let same = try await inbox.copy(uids: [1], to: "INBOX")
        #expect(same.uids == [4] && same.sourceUIDs == [1])
        #expect(try await inbox.refresh().messages.map(\.uid) == [1, 3, 4])
        #expect(try await inbox.content(uid: 4) == message("one"))
        #expect(await kind { _ = try await inbox.copy(uids: [1], to: "Nope") } == .notFound)
        #expect(await kind { _ = try await inbox.copy(uids: [1], to: "../x") } == .notFound)
        await inbox.close()
        await archive.close()
    }

    // MARK: - Flags and keywords

    @Test func keywordsChangeCaseInsensitivelyWithoutRenaming() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: message("k"))])
        let mailbox = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let before = fileNames(in: maildir + "/cur")
        var modseq = await mailbox.snapshot().highestModificationSequence

        var result = try await mailbox.changeFlags(uids: [1, 7], FlagChange(.add, flags: [], keywords: ["Work", "$Label1"]))
        #expect(result.map(\.uid) == [1])
        #expect(result.first?.keywords == ["Work", "$Label1"])
        #expect(fileNames(in: maildir + "/cur") == before)
        #expect((result.first?.modificationSequence ?? 0) > modseq)
        modseq = result.first?.modificationSequence ?? 0

        // Adding again in another case changes nothing (and bumps no MODSEQ).
        result = try await mailbox.changeFlags(uids: [1], FlagChange(.add, flags: [], keywords: ["WORK"]))
        #expect(result.first?.keywords == ["Work", "$Label1"])
        #expect(result.first?.modificationSequence == modseq)

        result = try await mailbox.changeFlags(uids: [1], FlagChange(.remove, flags: [], keywords: ["work"]))
        #expect(result.first?.keywords == ["$Label1"])
        result = try await mailbox.changeFlags(uids: [1], FlagChange(.replace, flags: .seen, keywords: ["a", "A", "b"]))
        #expect(result.first?.keywords == ["a", "b"])
        #expect(result.first?.flags == [.seen])
        #expect(fileNames(in: maildir + "/cur").first?.hasSuffix(":2,S") == true)
        #expect(await mailbox.snapshot().messages.first?.keywords == ["a", "b"])

        #expect(await kind { _ = try await mailbox.changeFlags(uids: [1], FlagChange(.add, flags: [], keywords: ["x y"])) } == .permissionDenied)
        #expect(await kind { _ = try await mailbox.changeFlags(uids: [1], FlagChange(.add, flags: [], keywords: [""])) } == .permissionDenied)
        await mailbox.close()
        let reopened = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        #expect(await reopened.snapshot().messages.first?.keywords == ["a", "b"])
        await reopened.close()
    }

    // MARK: - Sessions sharing a folder

    @Test func handlesOfOneFolderShareItsState() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let a = try imap(try await store.open(account: alice, mailbox: "INBOX"))
        let b = try imap(try await store.open(account: alice, mailbox: "inbox"))
        #expect(store.folders.count == 1)
        _ = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: message("one"))])
        // What sessions of this process do shows in every snapshot at once, without a
        // look at the disk.
        #expect(await a.snapshot().messages.map(\.uid) == [1])
        #expect(try await a.refresh().messages.map(\.uid) == [1])
        _ = try await a.changeFlags(uids: [1], FlagChange(.add, flags: .seen, keywords: ["Seen-By-A"]))
        let seen = await b.snapshot().messages
        #expect(seen.map(\.flags) == [[.seen]])
        #expect(seen.map(\.keywords) == [["Seen-By-A"]])
        #expect(try await b.refresh().messages == seen)
        try await b.expunge(uids: [1])
        #expect(await a.snapshot().messages.isEmpty)
        #expect(try await a.refresh().messages.isEmpty)
        // Deliveries need a refresh (a look at the disk).
        try await MaildirDelivery(root: root.path, hostname: "mx").deliver(message("two"), to: [alice])
        #expect(await b.snapshot().messages.isEmpty)
        #expect(try await b.refresh().messages.map(\.uid) == [2])
        #expect(await a.snapshot().messages.map(\.uid) == [2])
        await a.close()
        await a.close()  // idempotent
        #expect(store.folders.count == 1)
        await b.close()
        #expect(store.folders.count == 0)
        #expect(await kind { _ = try await b.refresh() } == .internal)
    }

    /// APPEND from one session while another refreshes in a loop: every message gets
    /// exactly one UID, the one APPEND returned.
    @Test func concurrentAppendsAndRefreshesNeverDuplicateAUID() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx")
        let watcher = try await store.open(account: alice, mailbox: "INBOX")
        let count = 40
        let appended = try await withThrowingTaskGroup(of: [UInt32].self) { group in
            group.addTask {
                var uids: [UInt32] = []
                for index in 0..<count {
                    let stored = try await store.append(
                        account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: self.message("a\(index)"))])
                    uids += stored.uids
                }
                return uids
            }
            group.addTask {
                for index in 0..<10 { try await delivery.deliver(self.message("d\(index)"), to: [alice]) }
                return []
            }
            group.addTask {
                for _ in 0..<200 {
                    let snapshot = try await watcher.refresh()
                    #expect(Set(snapshot.messages.map(\.uid)).count == snapshot.messages.count)
                    await Task.yield()
                }
                return []
            }
            var all: [UInt32] = []
            for try await uids in group { all += uids }
            return all
        }
        let final = try await watcher.refresh()
        #expect(appended.count == count)
        #expect(Set(appended).count == count)
        #expect(final.messages.count == count + 10)
        #expect(Set(final.messages.map(\.uid)).count == count + 10)
        #expect(Set(appended).isSubset(of: Set(final.messages.map(\.uid))))
        for (index, uid) in appended.enumerated() where index % 10 == 0 {
            #expect(try await watcher.content(uid: uid) == message("a\(index)"))
        }
        await watcher.close()
    }

    @Test func sessionsOfADeletedFolderSeeItEmpty() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "gone", specialUse: nil)
        _ = try await store.append(account: alice, mailbox: "gone", messages: [NewMessage(bytes: message("x"))])
        let open = try imap(try await store.open(account: alice, mailbox: "gone"))
        try await store.delete(account: alice, mailbox: "gone")
        #expect(try await open.refresh().messages.isEmpty)
        #expect(await kind { _ = try await open.content(uid: 1) } == .expunged)
        #expect(try await open.changeFlags(uids: [1], FlagChange(.add, flags: .seen)).isEmpty)
        try await open.expunge(uids: [1])
        #expect(await kind { _ = try await open.copy(uids: [1], to: "INBOX") } == nil)
        // A new mailbox of that name is a new one.
        try await store.create(account: alice, mailbox: "gone", specialUse: nil)
        let again = try await store.open(account: alice, mailbox: "gone")
        #expect(await again.snapshot().messages.isEmpty)
        #expect(try await open.refresh().messages.isEmpty)
        await open.close()
        await again.close()
    }

    // MARK: - Subscriptions and notifications

    @Test func subscriptionsNeedNoMailbox() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.mailboxes(account: alice)
        try await store.setSubscribed(account: alice, mailbox: "Not/There", subscribed: true)
        try await store.setSubscribed(account: alice, mailbox: "Sent", subscribed: false)
        try await store.setSubscribed(account: alice, mailbox: "Sent", subscribed: false)
        let list = try await store.mailboxes(account: alice)
        #expect(list.first { $0.name == "Sent" }?.isSubscribed == false)
        // Listed as subscribed but not existing (IMAP: \NonExistent), its parent not at all.
        #expect(list.filter { $0.name.hasPrefix("Not") } == [MailboxInfo(name: "Not/There", isSubscribed: true, exists: false)])
        #expect(list.filter { !$0.exists }.count == 1)
        #expect(await kind { try await store.setSubscribed(account: alice, mailbox: "a//b", subscribed: true) } == .permissionDenied)
    }

    @Test func appendsCopiesFlagsAndDeliveriesWakeWaiters() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let notifier = MailboxChangeNotifier()
        let store = MaildirMailboxStore(root: root.path, notifier: notifier)
        let delivery = MaildirDelivery(root: root.path, hostname: "mx", notifier: notifier)
        let mailbox = try imap(try await store.open(account: alice, mailbox: "INBOX"))

        func wakes(_ action: () async throws -> Void) async throws -> Bool {
            let clock = ContinuousClock()
            let start = clock.now
            let waiter = Task { await notifier.wait(account: "alice@example.test", timeout: .seconds(20)) }
            while notifier.waiterCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            try await action()
            await waiter.value
            return clock.now - start < .seconds(10)
        }
        #expect(try await wakes { _ = try await store.append(account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: message("a"))]) })
        _ = try await mailbox.refresh()
        #expect(try await wakes { _ = try await mailbox.changeFlags(uids: [1], FlagChange(.add, flags: .seen)) })
        #expect(try await wakes { _ = try await mailbox.copy(uids: [1], to: "INBOX") })
        #expect(try await wakes { try await delivery.deliver(message("b"), to: [try address("Alice@example.test")]) })
        #expect(try await wakes { try await mailbox.expunge(uids: [1]) })
        await mailbox.close()
    }
}
