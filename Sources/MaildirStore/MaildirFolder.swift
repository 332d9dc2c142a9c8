import DurableFiles
import Foundation
import GRDB
import MailCore
import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One Maildir folder — INBOX or a Maildir++ `.Name` folder — as every session of this
/// process sees it: one serial queue, one in-memory state (the index rows as of the last
/// reconciliation, and where each message's file is), one index connection that is open
/// only while used.
///
/// `MaildirMailboxStore` keeps exactly one per folder directory (`MaildirFolderRegistry`),
/// and everything that touches the folder's files or index rows runs on its queue:
/// reconciliation, flag changes, expunges, and the last steps of APPEND and COPY (the
/// rename into `cur/` and the inserted rows). So no reconciliation can see an appended
/// file before its row exists and give it a second UID. `MaildirDelivery` writes into
/// `new/` without the queue; reconciliation picks those files up, as it does files of
/// other programs.
///
/// A structure change of the account (`rename`, `delete`) holds the queue while it moves
/// the directory, then relocates the folder (`relocate`) or marks it deleted
/// (`markDeleted`), so sessions that have it open follow it or see it empty.
final class MaildirFolder: @unchecked Sendable {
    // @unchecked: every `var` below is read and written only on `queue`. `place` is
    // behind its own Mutex (COPY reads the directory from another folder's queue) and
    // changes only while a structure change holds `queue`.

    /// Where the folder is and what it is called.
    struct Place: Sendable, Equatable {
        var directory: String
        var name: String
    }

    /// A message file just placed in `cur/`, waiting for its index row.
    struct NewFile {
        var base: String
        var relativePath: String
        var size: Int
        var internalDate: Int64
        var flags: SystemFlags
        var keywords: [String]
    }

    /// A message to copy, as the source folder knows it.
    struct CopySource: Sendable {
        var relativePath: String
        var summary: MessageSummary
    }

    /// How long the index connection stays open after the last use: a burst of
    /// commands reuses it, an idle session holds none.
    static let databaseLinger = 1.0

    let queue: DispatchQueue
    let accountDirectory: String
    private let placeLock: Mutex<Place>
    /// `current` as of the end of the last operation, for `snapshot()` without a trip to
    /// the queue.
    private let published = Mutex(MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: []))
    private let cache: MailboxStateCache

    private var openDatabase: DatabaseQueue?
    private var lastUse = DispatchTime.now()
    private var isReleaseScheduled = false
    /// The `mailboxes` row, once known.
    private var mailboxID: Int64?
    /// `current` and `files` hold a reconciled state.
    private var isLoaded = false
    private(set) var isDeleted = false
    private(set) var current = MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: [])
    /// uid → file path relative to the directory (`new/…` or `cur/…:2,FLAGS`).
    private var files: [UInt32: String] = [:]
    /// The times of `new/` and `cur/` the last scan saw, when they were old enough to
    /// trust (`MailboxStateCache.settleSeconds`): while they are unchanged, a refresh
    /// need not scan again.
    private var scannedTimes: MailboxStateCache.Times?

    init(accountDirectory: String, directory: String, name: String, cache: MailboxStateCache) {
        self.accountDirectory = accountDirectory
        self.placeLock = Mutex(Place(directory: directory, name: name))
        self.cache = cache
        self.queue = DispatchQueue(label: "tsubame.maildir-folder", qos: .userInitiated)
    }

    var place: Place { placeLock.withLock { $0 } }
    var directory: String { place.directory }

    /// The folder's state as every session shares it: as of the last operation on the
    /// queue (a refresh by any session, an append, a flag change, …).
    var snapshot: MailboxSnapshot { published.withLock { $0 } }

    /// Runs `body` on the queue, then publishes `current`; the index connection is let go
    /// once it has been idle for `databaseLinger`.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        try await onQueue(queue) { () throws(StoreError) -> T in
            defer {
                self.publish()
                self.scheduleRelease()
            }
            return try body()
        }
    }

    /// Makes `current` what `snapshot` returns. On the queue.
    private func publish() {
        published.withLock { $0 = current }
    }

    // MARK: - The index connection (on `queue`)

    private var database: DatabaseQueue {
        get throws(StoreError) {
            if let openDatabase { return openDatabase }
            let database = try IndexDatabase.open(path: accountDirectory + "/" + IndexDatabase.fileName)
            openDatabase = database
            return database
        }
    }

    func releaseDatabase() {
        try? openDatabase?.close()
        openDatabase = nil
    }

    private func scheduleRelease() {
        lastUse = .now()
        guard openDatabase != nil, !isReleaseScheduled else { return }
        isReleaseScheduled = true
        queue.asyncAfter(deadline: .now() + Self.databaseLinger) { self.releaseIfIdle() }
    }

    private func releaseIfIdle() {
        isReleaseScheduled = false
        guard openDatabase != nil else { return }
        let idle = Double(DispatchTime.now().uptimeNanoseconds - lastUse.uptimeNanoseconds) / 1e9
        if idle >= Self.databaseLinger {
            releaseDatabase()
        } else {
            isReleaseScheduled = true
            queue.asyncAfter(deadline: .now() + (Self.databaseLinger - idle)) { self.releaseIfIdle() }
        }
    }

    // MARK: - Loading and reconciliation (on `queue`)

    /// The folder's index row, made on first use. INBOX always exists (an account that
    /// never received mail gets an empty one); any other folder must have its `cur/`.
    @discardableResult
    func ensureRow() throws(StoreError) -> Int64 {
        let place = self.place
        guard !isDeleted else { throw StoreError(.notFound, "mailbox \(place.name) was deleted") }
        if let mailboxID { return mailboxID }
        let isInbox = place.name == "INBOX"
        guard isInbox || Self.isFolder(place.directory) else {
            throw StoreError(.notFound, "no mailbox \(place.name) (\(place.directory))")
        }
        try disk { () throws(DiskIOError) in
            for subdirectory in isInbox ? ["", "/cur", "/new", "/tmp"] : ["/new", "/tmp"] {
                try DiskIO.makeDirectory(place.directory + subdirectory)
            }
        }
        let row = try IndexDatabase.mailbox(named: place.name, in: database, adopting: place.directory)
        mailboxID = row.id
        current.uidValidity = row.uidValidity
        return row.id
    }

    /// Brings `current` up to date: from the cache or a scan the first time, then only
    /// when `new/` or `cur/` changed (or their times are too recent to trust).
    func refresh() throws(StoreError) {
        let mailboxID = try ensureRow()
        if isLoaded {
            if let scannedTimes, MailboxStateCache.directoryTimes(directory) == scannedTimes { return }
            return try reconcile()
        }
        if let state = cache.state(for: directory, mailboxID: mailboxID, uidValidity: current.uidValidity) {
            (current, files, scannedTimes) = (state.snapshot, state.files, state.times)
        } else {
            try reconcile()
        }
        isLoaded = true
    }

    /// Reconciles now if the folder was ever loaded (after a structure change moved files
    /// in or out behind the state's back).
    func reconcileIfLoaded() throws(StoreError) {
        scannedTimes = nil
        guard isLoaded, !isDeleted else { return }
        try reconcile()
        publish()
    }

    /// Brings the index and `current` up to date with the directory.
    private func reconcile() throws(StoreError) {
        let mailboxID = try ensureRow()
        let directory = self.directory
        // Taken before the scan: a file added during it changes the times again, so the
        // cached state is never trusted past a change it has not seen.
        let times = MailboxStateCache.directoryTimes(directory)
        let onDisk = try disk { () throws(DiskIOError) in try MaildirFileName.scan(directory) }
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
                if updated.flags != file.flags.rawValue {
                    updated.flags = file.flags.rawValue
                    state.highestModificationSequence += 1
                    updated.modificationSequence = Int64(state.highestModificationSequence)
                }
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
            var files: [UInt32: String] = [:]
            for row in rows { files[row.uid] = row.file }
            return (
                MailboxSnapshot(
                    uidValidity: state.uidValidity, uidNext: state.uidNext,
                    highestModificationSequence: state.highestModificationSequence, messages: rows.map(\.summary)),
                files
            )
        }
        (current, files) = snapshot
        scannedTimes = times.flatMap { MailboxStateCache.isSettled($0) ? $0 : nil }
        cache.store(directory, mailboxID: mailboxID, times: times, snapshot: current, files: files)
    }

    // MARK: - Reading (on `queue`)

    /// The file of `uid`, following a rename by another program.
    func read(_ uid: UInt32) throws(StoreError) -> [UInt8] {
        guard !isDeleted, let file = files[uid] else { throw StoreError(.expunged, "uid \(uid) is not in the mailbox") }
        let directory = self.directory
        do throws(DiskIOError) {
            return try DiskIO.readWholeFile(directory + "/" + file)
        } catch where error.code == ENOENT {
            // Renamed by another program since: look again.
            try reconcile()
            guard let moved = files[uid] else { throw StoreError(.expunged, "uid \(uid) was removed") }
            return try disk { () throws(DiskIOError) in try DiskIO.readWholeFile(directory + "/" + moved) }
        } catch {
            throw MaildirDelivery.storeError(error)
        }
    }

    /// Several messages in one go; only the first must be readable (`OpenMailbox.contents`).
    func read(_ uids: [UInt32], byteLimit: Int) throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] {
        var result: [(uid: UInt32, bytes: [UInt8])] = []
        var total = 0
        let directory = self.directory
        for uid in uids {
            guard result.isEmpty || total < byteLimit else { break }
            if result.isEmpty {
                result.append((uid, try read(uid)))
            } else if let file = files[uid], let bytes = try? DiskIO.readWholeFile(directory + "/" + file) {
                result.append((uid, bytes))
            } else {
                continue  // gone or renamed: read it when it is asked for
            }
            total += result[result.count - 1].bytes.count
        }
        return result
    }

    /// What COPY needs of the messages `uids` (in UID order, expunged ones left out).
    func copySources(_ uids: [UInt32]) -> (directory: String, sources: [CopySource]) {
        guard !isDeleted else { return (directory, []) }
        let wanted = Set(uids)
        let sources = current.messages.compactMap { message -> CopySource? in
            guard wanted.contains(message.uid), let file = files[message.uid] else { return nil }
            return CopySource(relativePath: file, summary: message)
        }
        return (directory, sources)
    }

    // MARK: - Changes (on `queue`)

    /// Applies `change` to the flags and keywords of `uids`; returns the summaries of the
    /// asked messages that exist, in UID order, and whether anything changed. System
    /// flags live in the file name (renamed in `cur/`), keywords only in the index; every
    /// changed message gets a new MODSEQ (RFC 7162 §3.1.3).
    func changeFlags(
        _ uids: [UInt32], _ change: (SystemFlags, [String]) -> (SystemFlags, [String])
    ) throws(StoreError) -> (summaries: [MessageSummary], changed: Bool) {
        guard !isDeleted else { return ([], false) }
        let mailboxID = try ensureRow()
        let directory = self.directory
        let wanted = Set(uids)
        // What changes, decided (and checked) before any file is touched.
        var planned: [(uid: UInt32, file: String, flags: SystemFlags, keywords: [String], isRename: Bool)] = []
        for message in current.messages where wanted.contains(message.uid) {
            let (flags, keywords) = change(message.flags, message.keywords)
            guard flags != message.flags || keywords != message.keywords, let file = files[message.uid] else { continue }
            guard keywords.count <= MaildirMailboxStore.maximumKeywords else {
                throw StoreError(.limitExceeded, "more than \(MaildirMailboxStore.maximumKeywords) keywords")
            }
            planned.append((message.uid, file, flags, keywords, flags != message.flags))
        }
        guard !planned.isEmpty else { return (current.messages.filter { wanted.contains($0.uid) }, false) }
        // Our own renames change the directory times: the next open scans again.
        cache.forget(directory)
        scannedTimes = nil
        var changes: [(uid: UInt32, file: String, flags: SystemFlags, keywords: [String])] = []
        var renamedFromNew = false
        for plan in planned {
            var target = plan.file
            if plan.isRename {
                target = MaildirFileName.curPath(base: MaildirFileName.base(of: plan.file), flags: plan.flags)
                do throws(DiskIOError) {
                    try DiskIO.move(directory + "/" + plan.file, directory + "/" + target)
                } catch where error.code == ENOENT {
                    continue  // expunged or renamed meanwhile: the next refresh sees it
                } catch {
                    // Renames done so far are followed by the next reconciliation.
                    throw MaildirDelivery.storeError(error)
                }
                if plan.file.hasPrefix("new/") { renamedFromNew = true }
            }
            changes.append((plan.uid, target, plan.flags, plan.keywords))
        }
        guard !changes.isEmpty else { return (current.messages.filter { wanted.contains($0.uid) }, false) }
        if changes.contains(where: { files[$0.uid] != $0.file }) {
            try disk { () throws(DiskIOError) in
                try DiskIO.syncDirectory(directory + "/cur")
                if renamedFromNew { try DiskIO.syncDirectory(directory + "/new") }
            }
        }
        let highest: UInt64 = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            for change in changes {
                state.highestModificationSequence += 1
                try db.execute(
                    sql: "UPDATE messages SET file = ?, flags = ?, keywords = ?, modseq = ? WHERE mailbox = ? AND uid = ?",
                    arguments: [
                        change.file, change.flags.rawValue, change.keywords.joined(separator: " "),
                        Int64(state.highestModificationSequence), mailboxID, Int64(change.uid),
                    ])
            }
            try state.update(db)
            return state.highestModificationSequence
        }
        var sequence = highest - UInt64(changes.count)
        var indexByUID: [UInt32: Int] = [:]
        for (index, message) in current.messages.enumerated() where wanted.contains(message.uid) {
            indexByUID[message.uid] = index
        }
        for change in changes {
            sequence += 1
            files[change.uid] = change.file
            if let index = indexByUID[change.uid] {
                current.messages[index].flags = change.flags
                current.messages[index].keywords = change.keywords
                current.messages[index].modificationSequence = sequence
            }
        }
        current.highestModificationSequence = highest
        return (current.messages.filter { wanted.contains($0.uid) }, true)
    }

    /// Removes the messages `uids` for good; returns whether any was there.
    func expunge(_ uids: [UInt32]) throws(StoreError) -> Bool {
        guard !isDeleted else { return false }
        let targets = uids.compactMap { uid in files[uid].map { (uid, $0) } }
        guard !targets.isEmpty else { return false }
        let mailboxID = try ensureRow()
        let directory = self.directory
        cache.forget(directory)
        scannedTimes = nil
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
                    renamedElsewhere = try disk { () throws(DiskIOError) in try MaildirFileName.scan(directory) }
                }
                guard let current = renamedElsewhere?[MaildirFileName.base(of: file)] else { continue }
                path = current.relativePath
                if unlink(directory + "/" + path) != 0 && errno != ENOENT {
                    throw MaildirDelivery.storeError(DiskIOError("unlink", directory + "/" + path, errno))
                }
            }
            directories.insert(String(path.prefix(3)))
        }
        try disk { () throws(DiskIOError) in
            for subdirectory in directories.sorted() { try DiskIO.syncDirectory(directory + "/" + subdirectory) }
        }
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
        return true
    }

    /// APPEND: each message into `tmp/` (O_EXCL, 0600, fsync, its INTERNALDATE as the
    /// file time), renamed into `cur/` with its flags (as Dovecot saves), `cur/` fsynced,
    /// then one index transaction with the next UIDs. All or nothing: on failure every
    /// file written is removed again.
    func append(_ messages: [NewMessage], host: String, processID: Int32) throws(StoreError) -> StoredUIDs {
        let mailboxID = try ensureRow()
        guard !messages.isEmpty else { return StoredUIDs(uidValidity: current.uidValidity, uids: []) }
        let directory = self.directory
        let now = Int64(Date().timeIntervalSince1970)
        var placed: [String] = []
        do throws(StoreError) {
            var newFiles: [NewFile] = []
            for message in messages {
                // As scanned files are counted (and IMAP and POP3 send them): a missing
                // final line end is added.
                let crlfSize = MaildirFileName.crlfSize(of: message.bytes)
                    + (message.bytes.last.map { $0 != 0x0A } ?? false ? 2 : 0)
                let internalDate = message.internalDate ?? now
                let base = try disk { () throws(DiskIOError) -> String in
                    var attempt = 1
                    while true {
                        let base = MaildirFileName.uniqueBase(
                            host: host, processID: processID, size: message.bytes.count, crlfSize: crlfSize)
                        do throws(DiskIOError) {
                            try Self.writeMessage(message.bytes, to: directory + "/tmp/" + base, time: internalDate)
                            return base
                        } catch {
                            guard error.code == EEXIST, attempt < MaildirDelivery.maximumNameAttempts else { throw error }
                            attempt += 1
                        }
                    }
                }
                placed.append(directory + "/tmp/" + base)
                newFiles.append(
                    NewFile(
                        base: base, relativePath: MaildirFileName.curPath(base: base, flags: message.flags),
                        size: crlfSize, internalDate: internalDate, flags: message.flags,
                        keywords: FlagChange(.replace, flags: [], keywords: message.keywords).applied(to: [], keywords: []).1))
            }
            let uids = try commit(newFiles, placed: &placed, mailboxID: mailboxID)
            return StoredUIDs(uidValidity: current.uidValidity, uids: uids)
        } catch {
            Self.remove(placed, syncing: directory + "/cur")
            throw error
        }
    }

    /// COPY into this folder: each source file hard-linked (or, across file systems,
    /// copied) into `tmp/` under a fresh name, renamed into `cur/` with the source's
    /// flags, `cur/` fsynced, then one index transaction with the next UIDs and the
    /// source's flags, keywords and INTERNALDATE. Sources gone meanwhile are skipped.
    func insertCopies(
        _ sources: [CopySource], from sourceDirectory: String, host: String, processID: Int32
    ) throws(StoreError) -> StoredUIDs {
        let mailboxID = try ensureRow()
        let directory = self.directory
        var placed: [String] = []
        var copied: [UInt32] = []
        do throws(StoreError) {
            var newFiles: [NewFile] = []
            var rescanned: [String: MaildirFileName]?
            for source in sources {
                var sourcePath = sourceDirectory + "/" + source.relativePath
                var information = stat()
                if lstat(sourcePath, &information) != 0 {
                    // Renamed (or expunged) by another program since the source looked.
                    if rescanned == nil { rescanned = (try? MaildirFileName.scan(sourceDirectory)) ?? [:] }
                    guard let moved = rescanned?[MaildirFileName.base(of: source.relativePath)] else { continue }
                    sourcePath = sourceDirectory + "/" + moved.relativePath
                    guard lstat(sourcePath, &information) == 0 else { continue }
                }
                let base = MaildirFileName.uniqueBase(
                    host: host, processID: processID, size: Int(information.st_size), crlfSize: source.summary.size)
                let temporary = directory + "/tmp/" + base
                let isPlaced = try disk { () throws(DiskIOError) -> Bool in
                    do throws(DiskIOError) {
                        try DiskIO.hardLink(sourcePath, temporary)
                    } catch where error.code == ENOENT {
                        return false  // gone between the stat and the link
                    } catch where [EXDEV, EPERM, EMLINK, EOPNOTSUPP].contains(error.code) {
                        // Another file system, no hard links there, or the link count is
                        // full: a copy of our own.
                        let bytes = try DiskIO.readWholeFile(sourcePath)
                        try Self.writeMessage(bytes, to: temporary, time: source.summary.internalDate)
                    }
                    return true
                }
                guard isPlaced else { continue }
                placed.append(temporary)
                copied.append(source.summary.uid)
                newFiles.append(
                    NewFile(
                        base: base, relativePath: MaildirFileName.curPath(base: base, flags: source.summary.flags),
                        size: source.summary.size, internalDate: source.summary.internalDate,
                        flags: source.summary.flags, keywords: source.summary.keywords))
            }
            let uids = try commit(newFiles, placed: &placed, mailboxID: mailboxID)
            return StoredUIDs(uidValidity: current.uidValidity, uids: uids, sourceUIDs: copied)
        } catch {
            Self.remove(placed, syncing: directory + "/cur")
            throw error
        }
    }

    /// Renames the files written to `tmp/` (`placed`, in the order of `newFiles`) into
    /// `cur/`, fsyncs `cur/`, and inserts their rows with the next UIDs in one
    /// transaction. `placed` follows each file, for the caller's clean-up.
    private func commit(_ newFiles: [NewFile], placed: inout [String], mailboxID: Int64) throws(StoreError) -> [UInt32] {
        guard !newFiles.isEmpty else { return [] }
        let directory = self.directory
        cache.forget(directory)
        scannedTimes = nil
        for (index, file) in newFiles.enumerated() {
            let target = directory + "/" + file.relativePath
            try disk { () throws(DiskIOError) in try DiskIO.move(placed[index], target) }
            placed[index] = target
        }
        try disk { () throws(DiskIOError) in try DiskIO.syncDirectory(directory + "/cur") }
        let inserted: (rows: [IndexDatabase.MessageRow], state: IndexDatabase.MailboxRow) = try IndexDatabase.write(
            database
        ) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            guard UInt64(state.uidNext) + UInt64(newFiles.count) <= UInt64(UInt32.max) else {
                throw StoreError(.limitExceeded, "\(directory): UIDs exhausted; move the index away to renumber")
            }
            var rows: [IndexDatabase.MessageRow] = []
            for file in newFiles {
                state.highestModificationSequence += 1
                let row = IndexDatabase.MessageRow(
                    mailbox: mailboxID, uid: state.uidNext, base: file.base, file: file.relativePath,
                    size: Int64(file.size), internalDate: file.internalDate, flags: file.flags.rawValue,
                    keywords: file.keywords.joined(separator: " "),
                    modificationSequence: Int64(state.highestModificationSequence))
                try row.insert(db)
                rows.append(row)
                state.uidNext += 1
            }
            try state.update(db)
            return (rows, state)
        }
        if isLoaded {
            for row in inserted.rows {
                current.messages.append(row.summary)
                files[row.uid] = row.file
            }
            current.uidNext = inserted.state.uidNext
            current.highestModificationSequence = inserted.state.highestModificationSequence
        }
        return inserted.rows.map(\.uid)
    }

    // MARK: - Structure changes (on `queue`, held by `MaildirMailboxStore`)

    /// The folder was deleted: every session that has it open sees it empty from now on.
    func markDeleted() {
        isDeleted = true
        mailboxID = nil
        current.messages = []
        files = [:]
        scannedTimes = nil
        releaseDatabase()
        publish()
    }

    /// The folder was renamed: same index row, same UIDs, new directory and name.
    func relocate(to place: Place) {
        placeLock.withLock { $0 = place }
        scannedTimes = nil
    }

    // MARK: - Helpers

    /// Whether `directory` is a Maildir folder: it has `cur/`.
    static func isFolder(_ directory: String) -> Bool {
        var information = stat()
        return stat(directory + "/cur", &information) == 0 && (information.st_mode & S_IFMT) == S_IFDIR
    }

    /// Writes a new message file (O_EXCL, 0600) with `time` as its modification time —
    /// where Dovecot keeps INTERNALDATE, and where a rebuilt index finds it — then
    /// fsyncs and closes it. On failure the file is removed.
    static func writeMessage(_ bytes: [UInt8], to path: String, time: Int64) throws(DiskIOError) {
        let descriptor = try DiskIO.createExclusive(path)
        do throws(DiskIOError) {
            try DiskIO.writeAll(descriptor, bytes, path: path)
            let seconds = Int(clamping: time)
            var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
            // Best effort: the index has INTERNALDATE; the time only matters for a rebuild.
            _ = futimens(descriptor, &times)
            try DiskIO.syncFile(descriptor, path: path)
        } catch {
            _ = close(descriptor)
            DiskIO.removeFile(path)
            throw error
        }
        if close(descriptor) != 0 {
            let code = errno
            DiskIO.removeFile(path)
            throw DiskIOError("close", path, code)
        }
    }

    /// Removes files after a failure, best effort.
    private static func remove(_ paths: [String], syncing directory: String) {
        guard !paths.isEmpty else { return }
        for path in paths { DiskIO.removeFile(path) }
        _ = try? DiskIO.syncDirectory(directory)
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
        var size = MaildirFileName.crlfSize(of: bytes)
        if let last = bytes.last, last != 0x0A { size += 2 }
        return size
    }

    private static func modificationTime(_ path: String) -> Int64 {
        var information = stat()
        guard stat(path, &information) == 0 else { return Int64(Date().timeIntervalSince1970) }
        return Int64(information.st_mtim.tv_sec)
    }
}

/// Runs file work, mapping a failed system call to the store's errors.
func disk<T>(_ body: () throws(DiskIOError) -> T) throws(StoreError) -> T {
    do throws(DiskIOError) {
        return try body()
    } catch {
        throw MaildirDelivery.storeError(error)
    }
}

extension IndexDatabase.MessageRow {
    /// The row as sessions see it.
    var summary: MessageSummary {
        MessageSummary(
            uid: uid, size: Int(size), internalDate: internalDate, flags: SystemFlags(rawValue: flags),
            keywords: keywords.isEmpty ? [] : keywords.split(separator: " ").map(String.init),
            modificationSequence: UInt64(modificationSequence))
    }
}
