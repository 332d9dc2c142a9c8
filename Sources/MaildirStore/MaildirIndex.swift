import DurableFiles
import Foundation
import GRDB
public import MailCore
public import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The read side of the Maildir store: each account's mailboxes with a per-account
/// SQLite index (`<maildir>/tsubame-index.sqlite`, WAL, mode 0600) that holds UIDVALIDITY,
/// UIDNEXT, HIGHESTMODSEQ and, per message, UID, file name, size, INTERNALDATE, flags and
/// MODSEQ — the truth for those (DESIGN.md §4).
///
/// Opening a mailbox reconciles the index with the directory: files that appeared in
/// `new/` or `cur/` (our deliveries, which never touch the index, or another program's)
/// get the next UIDs in file-name order, which starts with the arrival time; files that
/// vanished are dropped from the index; files another program renamed (flags in the
/// `:2,` suffix) are followed. A Maildir that Dovecot kept is adopted with its
/// `dovecot-uidlist` (UIDVALIDITY and every UID), so POP3 UIDLs and IMAP UIDs survive a
/// move from Dovecot.
///
/// File and database work runs on a serial queue per opened mailbox, never on the
/// caller's thread.
public final class MaildirMailboxStore: MailboxStore {
    public let root: String
    let cache: MailboxStateCache

    /// - Parameters:
    ///   - root: the same root `MaildirDelivery` delivers into.
    ///   - cachedMessages: how many messages' index state may be kept in memory across
    ///     sessions, so that opening an unchanged mailbox costs two `stat` calls instead
    ///     of a directory scan and an index read (Dovecot checks `new/` and `cur/`
    ///     times the same way).
    public init(root: String, cachedMessages: Int = 200_000) {
        self.root = root
        self.cache = MailboxStateCache(limit: cachedMessages)
    }

    public func open(account: MailAddress, mailbox: String) async throws(StoreError) -> any OpenMailbox {
        // Other mailboxes (Maildir++ `.Name` folders) arrive with IMAP.
        guard mailbox.uppercased() == "INBOX" else { throw StoreError(.notFound, "no mailbox \(mailbox)") }
        let directory = MaildirLayout.maildir(root: root, address: account)
        return try await MaildirMailbox.open(directory: directory, name: "INBOX", cache: cache)
    }
}

/// One opened Maildir folder with its index.
final class MaildirMailbox: OpenMailbox, @unchecked Sendable {
    // @unchecked: `database`, `mailboxID` and `current` are touched only on `queue`.
    let directory: String
    private let queue: DispatchQueue
    /// The index connection, open only while it is used: an idle session (a POP3 client
    /// in TRANSACTION, a future IMAP IDLE) should not hold an SQLite connection and its
    /// page cache. Opened again for the next write.
    private var openDatabase: DatabaseQueue?
    private let mailboxID: Int64
    private var current: MailboxSnapshot
    /// uid → file path relative to `directory` (`new/…` or `cur/…:2,FLAGS`).
    private var files: [UInt32: String] = [:]
    private let cache: MailboxStateCache

    private init(
        directory: String, queue: DispatchQueue, database: DatabaseQueue, mailboxID: Int64, cache: MailboxStateCache
    ) {
        self.cache = cache
        self.directory = directory
        self.queue = queue
        self.openDatabase = database
        self.mailboxID = mailboxID
        self.current = MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: [])
    }

    static func open(directory: String, name: String, cache: MailboxStateCache) async throws(StoreError) -> MaildirMailbox {
        let queue = DispatchQueue(label: "tsubame.maildir-mailbox", qos: .userInitiated)
        return try await onQueue(queue) { () throws(StoreError) -> MaildirMailbox in
            do throws(DiskIOError) {
                for subdirectory in ["", "/cur", "/new", "/tmp"] {
                    try DiskIO.makeDirectory(directory + subdirectory)
                }
            } catch {
                throw MaildirDelivery.storeError(error)
            }
            let database = try IndexDatabase.open(path: directory + "/" + IndexDatabase.fileName)
            let (mailboxID, uidValidity) = try IndexDatabase.mailbox(named: name, in: database, adopting: directory)
            let mailbox = MaildirMailbox(
                directory: directory, queue: queue, database: database, mailboxID: mailboxID, cache: cache)
            if let state = cache.state(for: directory, mailboxID: mailboxID, uidValidity: uidValidity) {
                (mailbox.current, mailbox.files) = (state.snapshot, state.files)
            } else {
                try mailbox.reconcile()
            }
            mailbox.releaseDatabase()
            return mailbox
        }
    }

    // MARK: - OpenMailbox

    func snapshot() async -> MailboxSnapshot {
        (try? await onQueue(queue) { () throws(StoreError) -> MailboxSnapshot in self.current }) ?? current
    }

    func refresh() async throws(StoreError) -> MailboxSnapshot {
        try await onQueue(queue) { () throws(StoreError) -> MailboxSnapshot in
            try self.reconcile()
            return self.current
        }
    }

    func content(uid: UInt32) async throws(StoreError) -> [UInt8] {
        try await onQueue(queue) { () throws(StoreError) -> [UInt8] in try self.readNow(uid) }
    }

    /// The file of `uid`, following a rename by another program. On `queue`.
    private func readNow(_ uid: UInt32) throws(StoreError) -> [UInt8] {
        guard let file = files[uid] else { throw StoreError(.expunged, "uid \(uid) is not in the mailbox") }
        do throws(DiskIOError) {
            return try DiskIO.readWholeFile(directory + "/" + file)
        } catch where error.code == ENOENT {
            // Renamed by another program since: look again.
            try reconcile()
            guard let moved = files[uid] else { throw StoreError(.expunged, "uid \(uid) was removed") }
            do throws(DiskIOError) {
                return try DiskIO.readWholeFile(directory + "/" + moved)
            } catch {
                throw MaildirDelivery.storeError(error)
            }
        } catch {
            throw MaildirDelivery.storeError(error)
        }
    }

    func contents(uids: [UInt32], byteLimit: Int) async throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] {
        // One hop to the queue for the lot; only the first message must be readable.
        try await onQueue(queue) { () throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] in
            var result: [(uid: UInt32, bytes: [UInt8])] = []
            var total = 0
            for uid in uids {
                guard result.isEmpty || total < byteLimit else { break }
                if result.isEmpty {
                    result.append((uid, try self.readNow(uid)))
                } else if let file = self.files[uid], let bytes = try? DiskIO.readWholeFile(self.directory + "/" + file) {
                    result.append((uid, bytes))
                } else {
                    continue  // gone or renamed: read it when it is asked for
                }
                total += result[result.count - 1].bytes.count
            }
            return result
        }
    }

    @discardableResult
    func setFlags(uids: [UInt32], add: SystemFlags, remove: SystemFlags) async throws(StoreError) -> [MessageSummary] {
        try await onQueue(queue) { () throws(StoreError) -> [MessageSummary] in try self.applyFlags(uids, add, remove) }
    }

    func expunge(uids: [UInt32]) async throws(StoreError) {
        try await onQueue(queue) { () throws(StoreError) in try self.remove(uids) }
    }

    func close() async {
        _ = try? await onQueue(queue) { () throws(StoreError) in self.releaseDatabase() }
    }

    // MARK: - Work on `queue`

    /// The index connection, opened when needed.
    private var database: DatabaseQueue {
        get throws(StoreError) {
            if let openDatabase { return openDatabase }
            let database = try IndexDatabase.open(path: directory + "/" + IndexDatabase.fileName)
            openDatabase = database
            return database
        }
    }

    private func releaseDatabase() {
        try? openDatabase?.close()
        openDatabase = nil
    }

    /// Brings the index and `current` up to date with the directory.
    private func reconcile() throws(StoreError) {
        // Taken before the scan: a file added during it changes the times again, so the
        // cached state is never trusted past a change it has not seen.
        let times = MailboxStateCache.directoryTimes(directory)
        let onDisk: [String: MaildirFileName]
        do throws(DiskIOError) {
            onDisk = try MaildirFileName.scan(directory)
        } catch {
            throw MaildirDelivery.storeError(error)
        }
        let directory = self.directory
        let mailboxID = self.mailboxID
        let snapshot: (MailboxSnapshot, [UInt32: String]) = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            var known: [String: IndexDatabase.MessageRow] = [:]
            for row in try IndexDatabase.MessageRow.fetchAll(db, mailbox: mailboxID) { known[row.base] = row }
            var changed = false
            // Gone from disk: expunged by someone else.
            for (base, row) in known where onDisk[base] == nil {
                try IndexDatabase.MessageRow.delete(db, mailbox: mailboxID, uid: row.uid)
                known[base] = nil
                changed = true
            }
            // Renamed by someone else (flags in the name, or new/ → cur/).
            for (base, row) in known {
                guard let file = onDisk[base], file.relativePath != row.file else { continue }
                var updated = row
                updated.file = file.relativePath
                updated.flags = file.flags.rawValue
                state.highestModificationSequence += 1
                updated.modificationSequence = Int64(state.highestModificationSequence)
                try updated.update(db)
                known[base] = updated
                changed = true
            }
            // New files: the next UIDs, in arrival order — the order of their names with
            // numbers compared as numbers (`…M36820…` before `…M962416…`, `Q9` before `Q10`).
            let fresh = onDisk.values.filter { known[$0.base] == nil }.sorted {
                MaildirFileName.arrivesBefore($0.base, $1.base)
            }
            for file in fresh {
                // Gone since the scan (another program's expunge): the next scan agrees.
                guard let size = try file.crlfSize ?? Self.crlfSize(of: directory + "/" + file.relativePath) else {
                    continue
                }
                // An adopted Dovecot UID, if it is still free; else the next one.
                let adopted = try IndexDatabase.adoptedUID(db, mailbox: mailboxID, base: file.base)
                guard adopted != nil || state.uidNext < UInt32.max else {
                    // RFC 9051 §2.3.1.1: UIDs are 32 bits; only a new UIDVALIDITY (a new
                    // index) starts again.
                    throw StoreError(.limitExceeded, "\(directory): UIDs exhausted; move the index away to renumber")
                }
                let uid = adopted ?? state.uidNext
                state.highestModificationSequence += 1
                let row = IndexDatabase.MessageRow(
                    mailbox: mailboxID, uid: uid, base: file.base, file: file.relativePath, size: Int64(size),
                    internalDate: file.internalDate ?? Self.modificationTime(directory + "/" + file.relativePath),
                    flags: file.flags.rawValue, keywords: "", modificationSequence: Int64(state.highestModificationSequence))
                try row.insert(db)
                state.uidNext = max(state.uidNext, uid < UInt32.max ? uid + 1 : uid)
                known[file.base] = row
                changed = true
            }
            if changed { try state.update(db) }
            let rows = known.values.sorted { $0.uid < $1.uid }
            let messages = rows.map {
                MessageSummary(
                    uid: $0.uid, size: Int($0.size), internalDate: $0.internalDate, flags: SystemFlags(rawValue: $0.flags),
                    keywords: $0.keywords.isEmpty ? [] : $0.keywords.split(separator: " ").map(String.init),
                    modificationSequence: UInt64($0.modificationSequence))
            }
            var files: [UInt32: String] = [:]
            for row in rows { files[row.uid] = row.file }
            return (
                MailboxSnapshot(
                    uidValidity: state.uidValidity, uidNext: state.uidNext,
                    highestModificationSequence: state.highestModificationSequence, messages: messages),
                files
            )
        }
        (current, files) = snapshot
        cache.store(directory, mailboxID: mailboxID, times: times, snapshot: current, files: files)
    }

    private func applyFlags(_ uids: [UInt32], _ add: SystemFlags, _ remove: SystemFlags) throws(StoreError) -> [MessageSummary] {
        // Our own renames change the directory times: the next open scans again.
        cache.forget(directory)
        var renamed: [(from: String, to: String)] = []
        var changes: [(uid: UInt32, file: String, flags: SystemFlags)] = []
        let wanted = Set(uids)
        for index in current.messages.indices where wanted.contains(current.messages[index].uid) {
            let message = current.messages[index]
            let flags = message.flags.union(add).subtracting(remove)
            guard flags != message.flags, let file = files[message.uid] else { continue }
            let target = MaildirFileName.curPath(base: MaildirFileName.base(of: file), flags: flags)
            do throws(DiskIOError) {
                try DiskIO.move(directory + "/" + file, directory + "/" + target)
            } catch where error.code == ENOENT {
                continue  // expunged or renamed meanwhile: the next refresh sees it
            } catch {
                throw MaildirDelivery.storeError(error)
            }
            renamed.append((file, target))
            changes.append((message.uid, target, flags))
        }
        guard !changes.isEmpty else { return current.messages.filter { wanted.contains($0.uid) } }
        do throws(DiskIOError) {
            try DiskIO.syncDirectory(directory + "/cur")
            if renamed.contains(where: { $0.from.hasPrefix("new/") }) { try DiskIO.syncDirectory(directory + "/new") }
        } catch {
            throw MaildirDelivery.storeError(error)
        }
        let mailboxID = self.mailboxID
        let highest: UInt64 = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            for change in changes {
                state.highestModificationSequence += 1
                try db.execute(
                    sql: "UPDATE messages SET file = ?, flags = ?, modseq = ? WHERE mailbox = ? AND uid = ?",
                    arguments: [
                        change.file, change.flags.rawValue, Int64(state.highestModificationSequence), mailboxID,
                        Int64(change.uid),
                    ])
            }
            try state.update(db)
            return state.highestModificationSequence
        }
        var sequence = highest - UInt64(changes.count)
        for change in changes {
            sequence += 1
            files[change.uid] = change.file
            if let index = current.messages.firstIndex(where: { $0.uid == change.uid }) {
                current.messages[index].flags = change.flags
                current.messages[index].modificationSequence = sequence
            }
        }
        current.highestModificationSequence = highest
        return current.messages.filter { wanted.contains($0.uid) }
    }

    private func remove(_ uids: [UInt32]) throws(StoreError) {
        let targets = uids.compactMap { uid in files[uid].map { (uid, $0) } }
        guard !targets.isEmpty else { return }
        cache.forget(directory)
        // Files first: a crash before the index is updated leaves rows whose files are
        // gone, which the next reconciliation drops. The other order would bring
        // deleted messages back under new UIDs.
        var directories = Set<String>()
        var renamedElsewhere: [String: MaildirFileName]?
        for (_, file) in targets {
            var path = file
            if unlink(directory + "/" + path) != 0 {
                guard errno == ENOENT else {
                    throw MaildirDelivery.storeError(DiskIOError("unlink", directory + "/" + path, errno))
                }
                // Renamed by another program since we looked (new/ → cur/, a flag
                // change): remove it under its current name, or it would come back as
                // a new message at the next scan.
                if renamedElsewhere == nil {
                    do throws(DiskIOError) {
                        renamedElsewhere = try MaildirFileName.scan(directory)
                    } catch {
                        throw MaildirDelivery.storeError(error)
                    }
                }
                guard let current = renamedElsewhere?[MaildirFileName.base(of: file)] else { continue }
                path = current.relativePath
                if unlink(directory + "/" + path) != 0 && errno != ENOENT {
                    throw MaildirDelivery.storeError(DiskIOError("unlink", directory + "/" + path, errno))
                }
            }
            directories.insert(String(path.prefix(3)))
        }
        do throws(DiskIOError) {
            for subdirectory in directories.sorted() { try DiskIO.syncDirectory(directory + "/" + subdirectory) }
        } catch {
            throw MaildirDelivery.storeError(error)
        }
        let mailboxID = self.mailboxID
        let highest: UInt64 = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            for (uid, _) in targets { try IndexDatabase.MessageRow.delete(db, mailbox: mailboxID, uid: uid) }
            state.highestModificationSequence += 1
            try state.update(db)
            return state.highestModificationSequence
        }
        let removed = Set(targets.map(\.0))
        current.messages.removeAll { removed.contains($0.uid) }
        for uid in removed { files[uid] = nil }
        current.highestModificationSequence = highest
    }

    /// The size with CRLF line ends of a file whose name does not say (`,W=`), as POP3
    /// sends it (a missing final line end is added); nil when the file is gone.
    private static func crlfSize(of path: String) throws(StoreError) -> Int? {
        let bytes: [UInt8]
        do throws(DiskIOError) {
            bytes = try DiskIO.readWholeFile(path)
        } catch where error.code == ENOENT {
            return nil
        } catch {
            throw MaildirDelivery.storeError(error)
        }
        var size = bytes.count
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { size += 1 }
            previous = byte
        }
        if let last = bytes.last, last != 0x0A { size += 2 }
        return size
    }

    private static func modificationTime(_ path: String) -> Int64 {
        var information = stat()
        guard stat(path, &information) == 0 else { return Int64(Date().timeIntervalSince1970) }
        return Int64(information.st_mtim.tv_sec)
    }
}

/// Runs blocking store work on `queue`.
func onQueue<T: Sendable>(
    _ queue: DispatchQueue, _ body: @escaping @Sendable () throws(StoreError) -> T
) async throws(StoreError) -> T {
    let result: Result<T, StoreError> = await withCheckedContinuation { continuation in
        queue.async { continuation.resume(returning: Result { () throws(StoreError) -> T in try body() }) }
    }
    return try result.get()
}

/// The index state of recently opened mailboxes, valid while the modification times of
/// their `new/` and `cur/` are unchanged. Bounded by the number of messages held.
final class MailboxStateCache: Sendable {
    struct Times: Equatable {
        var new: timespec
        var cur: timespec

        static func == (a: Times, b: Times) -> Bool {
            a.new.tv_sec == b.new.tv_sec && a.new.tv_nsec == b.new.tv_nsec && a.cur.tv_sec == b.cur.tv_sec
                && a.cur.tv_nsec == b.cur.tv_nsec
        }
    }

    struct State {
        var mailboxID: Int64
        var times: Times
        var snapshot: MailboxSnapshot
        var files: [UInt32: String]
    }

    private struct Contents {
        var states: [String: State] = [:]
        var messages = 0
    }

    private let limit: Int
    private let contents = Mutex(Contents())

    init(limit: Int) {
        self.limit = limit
    }

    /// The times of `new/` and `cur/`, or nil when either cannot be read.
    static func directoryTimes(_ directory: String) -> Times? {
        var new = stat()
        var cur = stat()
        guard stat(directory + "/new", &new) == 0, stat(directory + "/cur", &cur) == 0 else { return nil }
        return Times(new: new.st_mtim, cur: cur.st_mtim)
    }

    /// The cached state, if the directory times and the index's identity (a rebuilt
    /// index starts again at mailbox 1, with a new UIDVALIDITY) are unchanged.
    func state(for directory: String, mailboxID: Int64, uidValidity: UInt32) -> State? {
        guard let times = Self.directoryTimes(directory) else { return nil }
        return contents.withLock { contents in
            guard let state = contents.states[directory], state.mailboxID == mailboxID, state.times == times,
                state.snapshot.uidValidity == uidValidity
            else {
                return nil
            }
            return state
        }
    }

    /// File times come from a coarse clock (a few milliseconds): a change right after a
    /// scan can leave a directory's time as it was. Times this recent are not trusted
    /// (Dovecot's maildir sync makes the same allowance).
    static let settleSeconds = 2

    func store(_ directory: String, mailboxID: Int64, times: Times?, snapshot: MailboxSnapshot, files: [UInt32: String]) {
        let settled = Int(time(nil)) - Self.settleSeconds
        guard let times, snapshot.messages.count <= limit, times.new.tv_sec < settled, times.cur.tv_sec < settled else {
            return forget(directory)
        }
        contents.withLock { contents in
            if let old = contents.states.removeValue(forKey: directory) { contents.messages -= old.snapshot.messages.count }
            // Over the bound: start again rather than track recency (a cache miss only
            // costs one scan).
            if contents.messages + snapshot.messages.count > limit { contents = Contents() }
            contents.states[directory] = State(mailboxID: mailboxID, times: times, snapshot: snapshot, files: files)
            contents.messages += snapshot.messages.count
        }
    }

    func forget(_ directory: String) {
        contents.withLock { contents in
            if let old = contents.states.removeValue(forKey: directory) { contents.messages -= old.snapshot.messages.count }
        }
    }
}
