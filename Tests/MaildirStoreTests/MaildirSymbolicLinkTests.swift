import DurableFiles
import Foundation
import MailCore
import MailStore
import Testing
@testable import MaildirStore

#if canImport(Glibc)
import Glibc
#endif

/// Symbolic links planted in an account's Maildir (by a user with shell access, another
/// program, a restored backup) are never followed: a linked folder is no mailbox, DELETE
/// and the clean-up of `..deleted.` trees unlink links instead of emptying their targets,
/// and a message file that is a link is never read.
@Suite("Maildir symbolic links")
struct MaildirSymbolicLinkTests: MaildirTestHelpers {
    let alice = MailAddress("alice@example.test")!



    /// Every path under `directory` with its contents (nil for directories and links).
    func snapshot(_ directory: String) -> [String: Data?] {
        var result: [String: Data?] = [:]
        for path in (FileManager.default.subpaths(atPath: directory) ?? []) {
            var information = stat()
            guard lstat(directory + "/" + path, &information) == 0 else { continue }
            result[path] = (information.st_mode & S_IFMT) == S_IFREG
                ? FileManager.default.contents(atPath: directory + "/" + path) : nil
        }
        return result
    }

    /// A Maildir outside the account (with a message) and a secret file.
    func makeVictim(_ victim: TemporaryRoot) throws -> [UInt8] {
        for subdirectory in ["/box/cur", "/box/new", "/box/tmp"] { try DiskIO.makeDirectory(victim.path + subdirectory) }
        let secret = message("secret")
        try DiskIO.writeNewFile(victim.path + "/box/cur/1700000000.M1P1.victim:2,S", [secret])
        try DiskIO.writeNewFile(victim.path + "/box/new/1700000001.M2P1.victim", [secret])
        try DiskIO.writeNewFile(victim.path + "/secret.txt", [secret])
        return secret
    }

    @Test func linkedFoldersAreNoMailboxes() async throws {
        let root = try TemporaryRoot()
        let victim = try TemporaryRoot()
        defer {
            root.remove()
            victim.remove()
        }
        _ = try makeVictim(victim)
        let before = snapshot(victim.path)
        let store = MaildirMailboxStore(root: root.path)
        _ = try await store.mailboxes(account: alice)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        // A folder that is a link, and a folder whose cur/ is a link.
        #expect(symlink(victim.path + "/box", maildir + "/.Evil") == 0)
        try DiskIO.makeDirectory(maildir + "/.Half/new")
        try DiskIO.makeDirectory(maildir + "/.Half/tmp")
        #expect(symlink(victim.path + "/box/cur", maildir + "/.Half/cur") == 0)

        let names = try await store.mailboxes(account: alice).map(\.name)
        #expect(!names.contains("Evil") && !names.contains("Half"))
        for name in ["Evil", "Half"] {
            #expect(await kind { _ = try await store.open(account: alice, mailbox: name) } == .notFound)
            #expect(await kind { try await store.delete(account: alice, mailbox: name) } == .notFound)
            #expect(await kind { try await store.rename(account: alice, from: name, to: "Mine") } == .notFound)
            #expect(
                await kind {
                    _ = try await store.append(account: alice, mailbox: name, messages: [NewMessage(bytes: message("x"))])
                } == .notFound)
            // CREATE does not make (or finish) a folder through the link.
            #expect(await kind { try await store.create(account: alice, mailbox: name, specialUse: nil) } != nil)
            #expect(await kind { try await store.create(account: alice, mailbox: name + "/child", specialUse: nil) } != nil)
        }
        // A DELETE removes `..deleted.` leftovers: a planted link is unlinked, its target stays.
        #expect(symlink(victim.path + "/box", maildir + "/" + MaildirFolderName.deletedPrefix + "planted") == 0)
        try await store.create(account: alice, mailbox: "scratch", specialUse: nil)
        #expect(symlink(victim.path + "/box/cur", maildir + "/.scratch/new/linked-directory") == 0)
        try await store.delete(account: alice, mailbox: "scratch")
        #expect(fileStatus(maildir + "/" + MaildirFolderName.deletedPrefix + "planted") == nil)
        #expect(fileNames(in: maildir).allSatisfy { !$0.hasPrefix("..") })
        // A rename moves the links of child folders as links.
        try await store.create(account: alice, mailbox: "parent", specialUse: nil)
        #expect(symlink(victim.path + "/box", maildir + "/.parent.linked") == 0)
        try await store.rename(account: alice, from: "parent", to: "moved")
        #expect(await kind { _ = try await store.open(account: alice, mailbox: "moved/linked") } == .notFound)
        #expect(snapshot(victim.path) == before)
    }

    @Test func linkedMessageFilesAreNeverRead() async throws {
        let root = try TemporaryRoot()
        let victim = try TemporaryRoot()
        defer {
            root.remove()
            victim.remove()
        }
        let secret = try makeVictim(victim)
        let before = snapshot(victim.path)
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "Archive", specialUse: nil)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        let stored = try await store.append(
            account: alice, mailbox: "INBOX", messages: [NewMessage(bytes: message("one")), NewMessage(bytes: message("two"))])
        let mailbox = try #require(try await store.open(account: alice, mailbox: "INBOX") as? any IMAPMailbox)
        #expect(await mailbox.snapshot().messages.count == 2)
        // Links dropped in: never given a UID.
        #expect(symlink(victim.path + "/secret.txt", maildir + "/cur/1700000001.M2P2.link:2,S") == 0)
        #expect(symlink(victim.path + "/secret.txt", maildir + "/new/1700000002.M3P3.link") == 0)
        #expect(symlink(victim.path + "/box/cur", maildir + "/new/1700000003.M4P4.dirlink") == 0)
        // A known message file replaced by a link: unreadable, neither read nor copied.
        let names = fileNames(in: maildir + "/cur").filter { !$0.contains("link") }
        #expect(names.count == 2)
        for name in names {
            #expect(unlink(maildir + "/cur/" + name) == 0)
            #expect(symlink(victim.path + "/secret.txt", maildir + "/cur/" + name) == 0)
        }
        for uid in stored.uids {
            #expect((try? await mailbox.content(uid: uid)) != secret)
        }
        let readAhead = (try? await mailbox.contents(uids: stored.uids, byteLimit: 1 << 20)) ?? []
        #expect(readAhead.allSatisfy { $0.bytes != secret })
        let copied = try await mailbox.copy(uids: stored.uids, to: "Archive")
        #expect(copied.uids.isEmpty)
        let archive = try await store.open(account: alice, mailbox: "Archive")
        #expect(await archive.snapshot().messages.isEmpty)
        await archive.close()
        // A fresh scan gives none of the links a UID.
        let fresh = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "INBOX")
        for message in await fresh.snapshot().messages {
            #expect((try? await fresh.content(uid: message.uid)) != secret)
        }
        #expect(await fresh.snapshot().messages.isEmpty)
        await fresh.close()
        await mailbox.close()
        #expect(snapshot(victim.path) == before)
    }
}
