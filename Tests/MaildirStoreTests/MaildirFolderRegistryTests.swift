import DurableFiles
import Foundation
import MailCore
import MailStore
import Synchronization
import Testing
@testable import MaildirStore

/// One `MaildirFolder` per folder directory, also while RENAME moves directories and
/// sessions open, append to and refresh the folders involved.
@Suite("Maildir folder registry")
struct MaildirFolderRegistryTests {
    let alice = MailAddress("alice@example.test")!

    func message(_ subject: String) -> [UInt8] {
        Array("Subject: \(subject)\r\nFrom: bob@example.test\r\n\r\nHello \(subject)\r\n".utf8)
    }

    /// Set while the renames run.
    final class Running: Sendable {
        private let flag = Atomic(true)
        var isRunning: Bool { flag.load(ordering: .acquiring) }
        func stop() { flag.store(false, ordering: .releasing) }
    }

    /// What the sessions saw: problems that must not happen.
    final class Problems: Sendable {
        let list = Mutex<[String]>([])
        func note(_ problem: String) { list.withLock { $0.append(problem) } }
    }

    /// Opens `name` and works with it: append, refresh; `.notFound` is fine for the open
    /// and the append (the name may be elsewhere right now), anything else is a problem,
    /// as is any duplicate UID or a handle whose refresh fails.
    func session(_ store: MaildirMailboxStore, _ name: String, _ problems: Problems) async -> Int {
        var appended = 0
        let mailbox: any OpenMailbox
        do throws(StoreError) {
            mailbox = try await store.open(account: alice, mailbox: name)
        } catch {
            if error.kind != .notFound { problems.note("open \(name): \(error)") }
            return 0
        }
        do throws(StoreError) {
            let stored = try await store.append(account: alice, mailbox: name, messages: [NewMessage(bytes: message(name))])
            appended += stored.uids.count
        } catch {
            if error.kind != .notFound { problems.note("append \(name): \(error)") }
        }
        for _ in 0..<3 {
            do throws(StoreError) {
                let snapshot = try await mailbox.refresh()
                if Set(snapshot.messages.map(\.uid)).count != snapshot.messages.count {
                    problems.note("duplicate UIDs in \(name): \(snapshot.messages.map(\.uid))")
                }
            } catch {
                problems.note("refresh of an open \(name): \(error)")
            }
        }
        await mailbox.close()
        return appended
    }

    @Test func foldersOpenedDuringRenamesStayUsable() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "a/child", specialUse: nil)
        let initial = try await store.append(
            account: alice, mailbox: "a", messages: (0..<5).map { NewMessage(bytes: message("m\($0)")) })
        let problems = Problems()
        let renaming = Running()
        let appended = try await withThrowingTaskGroup(of: Int.self) { group in
            group.addTask {
                defer { renaming.stop() }
                for _ in 0..<60 {
                    try await store.rename(account: alice, from: "a", to: "b")
                    try await store.rename(account: alice, from: "b", to: "a")
                }
                return 0
            }
            for worker in 0..<3 {
                group.addTask {
                    var appended = 0
                    var round = 0
                    while renaming.isRunning {
                        let names = ["a", "b", "a/child", "b/child"]
                        appended += await self.session(store, names[(round + worker) % names.count], problems)
                        round += 1
                    }
                    return appended
                }
            }
            var total = 0
            for try await count in group { total += count }
            return total
        }
        #expect(problems.list.withLock { $0 }.isEmpty, "\(problems.list.withLock { $0 }.prefix(5))")
        #expect(store.folders.count == 0)
        let final = try await store.open(account: alice, mailbox: "a")
        let uids = await final.snapshot().messages.map(\.uid)
        let child = try await store.open(account: alice, mailbox: "a/child")
        let childCount = await child.snapshot().messages.count
        #expect(Set(uids).count == uids.count)
        #expect(uids.count + childCount == initial.uids.count + appended)
        await final.close()
        await child.close()
        let fresh = try await MaildirMailboxStore(root: root.path).open(account: alice, mailbox: "a")
        #expect(await fresh.snapshot().messages.map(\.uid) == uids)
        await fresh.close()
    }

    /// An open of the new name while a RENAME is under way waits for it and gets the
    /// folder that moved there — the same folder, with its queue, not a second one; a
    /// folder that stood for the new name before (no directory) is marked deleted.
    @Test func anOpenOfTheNewNameDuringARenameWaitsForIt() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        try await store.create(account: alice, mailbox: "a", specialUse: nil)
        _ = try await store.append(account: alice, mailbox: "a", messages: [NewMessage(bytes: message("one"))])
        let source = store.acquireFolder(account: alice, name: "a")
        // A folder for "b" (which does not exist), busy until the gate opens: the rename
        // waits for it after it has taken the name.
        let stale = store.acquireFolder(account: alice, name: "b")
        let gate = DispatchSemaphore(value: 0)
        stale.queue.async { gate.wait() }
        let rename = Task { try await store.rename(account: alice, from: "a", to: "b") }
        var isTaken = false
        for _ in 0..<500 where !isTaken {
            let found = store.acquireFolder(account: alice, name: "b")
            isTaken = found === source
            store.release(found)
            if !isTaken { try await Task.sleep(for: .milliseconds(4)) }
        }
        #expect(isTaken, "the rename did not register the moving folder under the new name")
        let opening = Task { () async throws -> any OpenMailbox in try await store.open(account: alice, mailbox: "b") }
        try await Task.sleep(for: .milliseconds(50))
        gate.signal()
        try await rename.value
        let mailbox = try await opening.value
        #expect(await mailbox.snapshot().messages.count == 1)
        #expect((mailbox as? MaildirMailbox)?.folder === source)
        #expect(try await onQueue(stale.queue) { () throws(StoreError) -> Bool in stale.isDeleted })
        await mailbox.close()
        store.release(source)
        store.release(stale)
        #expect(store.folders.count == 0)
    }

    /// RENAME INBOX makes the target and moves INBOX's files into it; sessions that open
    /// the target meanwhile end up with it, messages and all — never with a mailbox row
    /// the rename replaced (`.notFound` for good) or an emptied folder.
    @Test func targetsOfAnInboxRenameOpenedMeanwhileFollowIt() async throws {
        let root = try TemporaryRoot()
        defer { root.remove() }
        let store = MaildirMailboxStore(root: root.path)
        let maildir = MaildirLayout.maildir(root: root.path, address: alice)
        for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(maildir + subdirectory) }
        let problems = Problems()
        for round in 0..<8 {
            let count = 150
            for index in 0..<count {
                try DiskIO.writeNewFile(maildir + "/new/\(1_700_000_000 + round * 1000 + index).M\(index)P1.other", [message("\(index)")])
            }
            let target = "Old/\(round)"
            let renaming = Running()
            let handles = try await withThrowingTaskGroup(of: [any OpenMailbox].self) { group in
                group.addTask {
                    defer { renaming.stop() }
                    try await store.rename(account: alice, from: "INBOX", to: target)
                    return []
                }
                for _ in 0..<2 {
                    group.addTask {
                        var handles: [any OpenMailbox] = []
                        while renaming.isRunning {
                            do throws(StoreError) {
                                handles.append(try await store.open(account: alice, mailbox: target))
                            } catch {
                                if error.kind != .notFound { problems.note("open \(target): \(error)") }
                            }
                        }
                        return handles
                    }
                }
                var all: [any OpenMailbox] = []
                for try await handles in group { all += handles }
                return all
            }
            for handle in handles {
                do throws(StoreError) {
                    let snapshot = try await handle.refresh()
                    if snapshot.messages.count != count {
                        problems.note("\(target) opened during the rename shows \(snapshot.messages.count) messages")
                    }
                } catch {
                    problems.note("refresh of \(target) opened during the rename: \(error)")
                }
                await handle.close()
            }
            let after = try await store.open(account: alice, mailbox: target)
            #expect(await after.snapshot().messages.count == count)
            await after.close()
        }
        #expect(problems.list.withLock { $0 }.isEmpty, "\(problems.list.withLock { $0 }.prefix(5))")
        #expect(store.folders.count == 0)
    }
}
