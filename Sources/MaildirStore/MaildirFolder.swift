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
/// reconciliation, and where each message's file is), and the account's shared index
/// connection while a piece of work uses it.
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
/// the directory, then relocates the folder (`relocate`), marks it deleted
/// (`markDeleted`) or makes it start again (`reset`), so sessions that have it open follow
/// it, see it empty, or load it afresh.
///
/// Loading is incremental, as in Dovecot: while `cur/`'s time is what the last full scan
/// saw (and old enough to trust), only `new/` changed — deliveries — and only `new/` is
/// scanned and compared with the state in memory; just the new files' rows are written.
/// Anything else (`cur/` changed, no state yet, times too recent) scans both
/// directories. A scan is compared with the state in memory while that agrees with the
/// index's counters (UIDNEXT, HIGHESTMODSEQ), else with the index's rows. A session that
/// takes the new messages (IMAP SELECT, POP3) moves `new/` into `cur/` after its refresh
/// (`moveNewMessagesToCur`), so that `new/` stays small.
final class MaildirFolder: @unchecked Sendable {
    // @unchecked: every `var` below is read and written only on `queue`. `place` is
    // behind its own Mutex (COPY reads the directory from another folder's queue) and
    // changes only while a structure change holds `queue`.

    /// Where the folder is and what it is called.
    struct Place: Sendable, Equatable {
        var directory: String
        var name: String
    }

    /// What `publish` leaves for readers off the queue: the state, and the directory
    /// times it is known to match.
    private struct Published {
        var snapshot: MailboxSnapshot
        var times: TrustedTimes
        var isLoaded: Bool
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

    /// The times of `new/` and `cur/` as the last scan of each saw them, each kept only
    /// when it was old enough to trust (`MailboxStateCache.settleSeconds`): while `cur/`'s
    /// is unchanged a refresh scans only `new/`, while both are it scans nothing.
    struct TrustedTimes: Sendable {
        var new: timespec?
        var cur: timespec?
    }

    let queue: DispatchQueue
    let accountDirectory: String
    private let placeLock: Mutex<Place>
    /// `current` as of the end of the last operation, for `snapshot()` without a trip to
    /// the queue.
    private let published = Mutex(
        Published(
            snapshot: MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: []),
            times: TrustedTimes(), isLoaded: false))
    private let cache: MailboxStateCache
    private let indexes: IndexConnections

    /// The account's index while a piece of work on the queue uses it (the lingering is
    /// `IndexConnections`'s).
    private var openDatabase: DatabaseQueue?
    /// The `mailboxes` row, once known.
    private var mailboxID: Int64?
    /// `current`, `paths` and `bases` hold a reconciled state.
    private var isLoaded = false
    private(set) var isDeleted = false
    /// The messages in UID order.
    private(set) var current = MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: [])
    /// The file of each message, at its index in `current.messages`, relative to the
    /// directory (`new/…` or `cur/…:2,FLAGS`).
    private var paths: [String] = []
    /// The index of each message in `current.messages` by its base.
    private var bases = MessageBaseIndex()
    private var trustedTimes = TrustedTimes()

    init(
        accountDirectory: String, directory: String, name: String, cache: MailboxStateCache, indexes: IndexConnections
    ) {
        self.accountDirectory = accountDirectory
        self.placeLock = Mutex(Place(directory: directory, name: name))
        self.cache = cache
        self.indexes = indexes
        self.queue = DispatchQueue(label: "tsubame.maildir-folder", qos: .userInitiated)
    }

    var place: Place { placeLock.withLock { $0 } }
    var directory: String { place.directory }

    /// The folder's state as every session shares it: as of the last operation on the
    /// queue (a refresh by any session, an append, a flag change, …).
    var snapshot: MailboxSnapshot { published.withLock { $0.snapshot } }

    /// `snapshot`, when a refresh would find nothing new: the folder is loaded and the
    /// times of `new/` and `cur/` are the trusted ones its state was published with
    /// (two `lstat` calls, no trip to the queue — IMAP NOOP and IDLE's checks). Changes
    /// made through this process are published by the operation that made them; a change
    /// by another program moves a directory's time. Nil: refresh on the queue.
    func unchangedSnapshot() -> MailboxSnapshot? {
        let state = published.withLock { $0 }
        guard state.isLoaded, let trustedNew = state.times.new, let trustedCur = state.times.cur,
            let times = MailboxStateCache.directoryTimes(directory),
            MailboxStateCache.Times.same(times.new, trustedNew), MailboxStateCache.Times.same(times.cur, trustedCur)
        else { return nil }
        return state.snapshot
    }

    /// Runs `body` on the queue, then publishes `current` and gives the index back to
    /// `IndexConnections` (which keeps it open a moment for the next command).
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(StoreError) -> T) async throws(StoreError) -> T {
        try await onQueue(queue) { () throws(StoreError) -> T in
            defer {
                self.publish()
                self.releaseDatabase()
            }
            return try body()
        }
    }

    /// For work put on the queue directly rather than through `run` (nobody waits for
    /// it): gives the index back, as `run` does.
    func afterDetachedWork() {
        releaseDatabase()
    }

    /// Makes `current` what `snapshot` returns. On the queue.
    private func publish() {
        published.withLock { $0 = Published(snapshot: current, times: trustedTimes, isLoaded: isLoaded && !isDeleted) }
    }

    // MARK: - The index connection (on `queue`)

    private var database: DatabaseQueue {
        get throws(StoreError) {
            if let openDatabase { return openDatabase }
            let database = try indexes.acquire(accountDirectory)
            openDatabase = database
            return database
        }
    }

    /// Lets go of the account's index (`IndexConnections` closes it once no folder or
    /// structure change of the account has used it for a moment).
    func releaseDatabase() {
        guard let database = openDatabase else { return }
        openDatabase = nil
        indexes.release(accountDirectory, database)
    }


    // MARK: - Loading and reconciliation (on `queue`)

    /// The folder's index row, made on first use. INBOX always exists (an account that
    /// never received mail gets an empty one); any other folder must have its `cur/`.
    /// Symbolic links are never taken for a folder or its `cur/ new/ tmp/`.
    @discardableResult
    func ensureRow() throws(StoreError) -> Int64 {
        let place = self.place
        guard !isDeleted else { throw StoreError(.notFound, "mailbox \(place.name) was deleted") }
        if let mailboxID { return mailboxID }
        if place.name == "INBOX" {
            try disk { () throws(DiskIOError) in
                for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(place.directory + subdirectory) }
            }
            guard Self.hasMaildirSubdirectories(place.directory) else {
                throw StoreError(.temporary, "\(place.directory): cur/, new/ or tmp/ is not a directory")
            }
        } else {
            guard Self.isFolder(place.directory) else {
                throw StoreError(.notFound, "no mailbox \(place.name) (\(place.directory))")
            }
            try disk { () throws(DiskIOError) in
                for subdirectory in ["/new", "/tmp"] { try DiskIO.makeDirectory(place.directory + subdirectory) }
            }
        }
        let row = try IndexDatabase.mailbox(named: place.name, in: database, adopting: place.directory)
        mailboxID = row.id
        current.uidValidity = row.uidValidity
        return row.id
    }

    /// Brings `current` up to date: from the cache or a full scan the first time; then
    /// a scan of `new/` alone while `cur/` is unchanged, nothing while both are, a full
    /// scan otherwise.
    func refresh() throws(StoreError) {
        let mailboxID = try ensureRow()
        if !isLoaded { try loadCachedState(mailboxID) }
        guard isLoaded, let trustedCur = trustedTimes.cur, let times = MailboxStateCache.directoryTimes(directory),
            MailboxStateCache.Times.same(times.cur, trustedCur)
        else { return try reconcile() }
        if let trustedNew = trustedTimes.new, MailboxStateCache.Times.same(times.new, trustedNew) { return }
        try reconcile(scanningCur: false)
    }

    /// Takes the cache's state of this folder, if it is still the index's.
    private func loadCachedState(_ mailboxID: Int64) throws(StoreError) {
        guard let state = cache.take(directory, mailboxID: mailboxID, uidValidity: current.uidValidity) else { return }
        // Another writer since (a replaced index, a stale state parked late): not ours.
        let row = try IndexDatabase.read(database) { db in try IndexDatabase.MailboxRow.fetch(db, id: mailboxID) }
        guard row.uidNext == state.snapshot.uidNext,
            row.highestModificationSequence == state.snapshot.highestModificationSequence
        else { return }
        (current, paths, bases, trustedTimes) = (state.snapshot, state.paths, state.bases, state.trustedTimes)
        isLoaded = true
    }

    /// Reconciles now if the folder was ever loaded (after a structure change moved files
    /// in or out behind the state's back).
    func reconcileIfLoaded() throws(StoreError) {
        trustedTimes = TrustedTimes()
        guard isLoaded, !isDeleted else { return }
        defer { releaseDatabase() }
        try reconcile()
        publish()
    }

    /// A state to compare a scan with, read from the index.
    private struct Known {
        var messages: [MessageSummary] = []
        var paths: [String] = []
        var bases = MessageBaseIndex()
    }

    /// What a scan found, compared with the known messages as the names were read: the
    /// name of a file that is where the state says is never made into a string.
    private struct Comparison {
        /// Per known message: 1 = found under its name, 2 = under another (`others`).
        var found: [UInt8]
        var others: [Int: [(isCur: Bool, name: String)]] = [:]
        /// Files of no known message, by base (`cur/` wins over `new/`).
        var fresh: [String: (isCur: Bool, name: String)] = [:]
        var hasCur = false

        init(count: Int) {
            found = [UInt8](repeating: 0, count: count)
        }

        /// Compares the names in `<directory>/new` or `/cur` with the known messages.
        mutating func scan(
            _ directory: String, isCur: Bool, paths: [String], bases: MessageBaseIndex
        ) throws(DiskIOError) {
            if isCur { hasCur = true }
            try MaildirFileName.forEachEntry(directory + (isCur ? "/cur" : "/new")) { name in
                guard let baseLength = MaildirFileName.baseLength(ofName: name) else { return }
                let base = UnsafeRawBufferPointer(rebasing: name[..<baseLength])
                guard let index = bases.index(of: base, in: paths) else {
                    let key = String(decoding: base, as: UTF8.self)
                    if isCur || fresh[key] == nil { fresh[key] = (isCur, String(decoding: name, as: UTF8.self)) }
                    return
                }
                if MaildirFileName.isPath(paths[index], isCur: isCur, name) {
                    found[index] |= 1
                } else {
                    found[index] |= 2
                    others[index, default: []].append((isCur, String(decoding: name, as: UTF8.self)))
                }
            }
        }
    }

    /// What a reconciliation wrote to the index, to apply to the state.
    private struct Changes {
        var state: IndexDatabase.MailboxRow
        /// The index's rows, when the state in memory was not used.
        var reloaded: Known?
        /// Indices of messages whose files are gone.
        var gone: [Int] = []
        /// Messages another program renamed.
        var renamed: [(index: Int, path: String, flags: SystemFlags, modificationSequence: UInt64)] = []
        /// New messages.
        var added: [(summary: MessageSummary, path: String)] = []
    }

    /// Brings the index and `current` up to date with the directory: `new/` and — unless
    /// `scanningCur` is false and `cur/` is as the state saw it — `cur/`.
    private func reconcile(scanningCur: Bool = true) throws(StoreError) {
        let mailboxID = try ensureRow()
        let directory = self.directory
        // Taken before the scan: a file added during it changes the times again, so the
        // state is never trusted past a change it has not seen.
        let times = MailboxStateCache.directoryTimes(directory)
        // The state in memory while it is the index's (all our writes go through this
        // queue; a replaced index is not), else the index's rows.
        let row = try IndexDatabase.read(database) { db in try IndexDatabase.MailboxRow.fetch(db, id: mailboxID) }
        var reloaded: Known?
        if !isInStep(with: row) {
            reloaded = try IndexDatabase.read(database) { db in try Self.knownRows(db, mailbox: mailboxID) }
        }
        var comparison: Comparison
        let changes: Changes
        do {
            // In a block of its own: the state's arrays are referenced here only until the
            // changes are written, so `apply` changes them in place, without a copy.
            let (messages, paths, bases) = reloaded.map { ($0.messages, $0.paths, $0.bases) }
                ?? (current.messages, self.paths, self.bases)
            comparison = Comparison(count: messages.count)
            try disk { () throws(DiskIOError) in
                // new/ first: a file another program moves to cur/ meanwhile is seen in one.
                try comparison.scan(directory, isCur: false, paths: paths, bases: bases)
                // cur/ unless it is as the state saw it, also after the scan of new/.
                let curAfter = MailboxStateCache.directoryTimes(directory)?.cur
                if scanningCur || reloaded != nil || !MailboxStateCache.Times.same(curAfter, times?.cur) {
                    try comparison.scan(directory, isCur: true, paths: paths, bases: bases)
                }
            }
            changes = try IndexDatabase.write(database) { db in
                let state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
                guard state.uidNext == row.uidNext, state.highestModificationSequence == row.highestModificationSequence
                else {
                    // Only another process writing this index could do that.
                    throw StoreError(.temporary, "\(directory): the index changed during a scan; try again")
                }
                return try Self.reconcile(comparison, messages, paths, state: state, reloaded: reloaded, db, directory: directory)
            }
        }
        reloaded = nil
        apply(changes)
        isLoaded = true
        trustedTimes.new = times.flatMap { MailboxStateCache.isSettled($0.new) ? $0.new : nil }
        if comparison.hasCur { trustedTimes.cur = times.flatMap { MailboxStateCache.isSettled($0.cur) ? $0.cur : nil } }
    }

    /// The index's rows of `mailbox`.
    private static func knownRows(_ db: Database, mailbox: Int64) throws -> Known {
        var known = Known()
        try IndexDatabase.MessageRow.forEach(db, mailbox: mailbox) { _, file, summary in
            known.messages.append(summary)
            known.paths.append(file)
        }
        known.bases = MessageBaseIndex(paths: known.paths)
        return known
    }

    /// Writes what `comparison` found to the index, against the known messages
    /// (`messages` in UID order, the file of each at the same index of `paths`):
    ///
    /// - files gone from a scanned directory: expunged by someone else;
    /// - files under another name (flags in the name, or new/ → cur/): renamed by someone
    ///   else; a message in both `new/` and `cur/` (another program is moving it) is
    ///   taken where `cur/` has it;
    /// - new files: the next UIDs, in arrival order — the order of their names with
    ///   numbers compared as numbers (`…M36820…` before `…M962416…`, `Q9` before `Q10`) —
    ///   or, in the first scan of a mailbox adopted from Dovecot, the UIDs of its
    ///   `dovecot-uidlist`.
    private static func reconcile(
        _ comparison: Comparison, _ messages: [MessageSummary], _ paths: [String],
        state: IndexDatabase.MailboxRow, reloaded: Known?, _ db: Database, directory: String
    ) throws -> Changes {
        var changes = Changes(state: state, reloaded: reloaded)
        var state = state
        let mailboxID = state.id
        for index in messages.indices where comparison.found[index] != 1 {
            let isKnownInCur = paths[index].utf8.first == UInt8(ascii: "c")
            // Not scanned: where the state says it is.
            let isKnownThere = comparison.found[index] & 1 != 0 || (isKnownInCur && !comparison.hasCur)
            guard let candidates = comparison.others[index] else {
                if !isKnownThere { changes.gone.append(index) }
                continue
            }
            if isKnownThere && (isKnownInCur || !candidates.contains(where: \.isCur)) { continue }
            let pick = candidates.first(where: \.isCur) ?? candidates[0]
            let path = (pick.isCur ? "cur/" : "new/") + pick.name
            let flags = MaildirFileName.flags(ofName: pick.name)
            var sequence = messages[index].modificationSequence
            if flags != messages[index].flags {
                state.highestModificationSequence += 1
                sequence = state.highestModificationSequence
            }
            try IndexDatabase.MessageRow.update(
                db, mailbox: mailboxID, uid: messages[index].uid, file: path, flags: flags.rawValue,
                modificationSequence: Int64(sequence))
            changes.renamed.append((index, path, flags, sequence))
        }
        for index in changes.gone {
            try IndexDatabase.MessageRow.delete(db, mailbox: mailboxID, uid: messages[index].uid)
        }

        let newFiles = comparison.fresh.values.compactMap {
            MaildirFileName(subdirectory: $0.isCur ? "cur" : "new", name: $0.name)
        }.sorted { MaildirFileName.arrivesBefore($0.base, $1.base) }
        let adopted = try IndexDatabase.adoptedUIDs(db, mailbox: mailboxID)
        var taken = adopted.isEmpty ? [] : Set(messages.map(\.uid))
        for file in newFiles {
            // Gone since the scan (another program's expunge): the next scan agrees.
            guard let size = try file.crlfSize ?? Self.crlfSize(of: directory + "/" + file.relativePath) else { continue }
            var uid = state.uidNext
            if let adoptedUID = adopted[file.base], !taken.contains(adoptedUID) {
                uid = adoptedUID
            } else if state.uidNext == UInt32.max {
                // RFC 9051 §2.3.1.1: UIDs are 32 bits; only a new UIDVALIDITY (a new
                // index) starts again.
                throw StoreError(.limitExceeded, "\(directory): UIDs exhausted; move the index away to renumber")
            }
            if !adopted.isEmpty { taken.insert(uid) }
            state.highestModificationSequence += 1
            let row = IndexDatabase.MessageRow(
                mailbox: mailboxID, uid: uid, base: file.base, file: file.relativePath, size: Int64(size),
                internalDate: file.internalDate ?? Self.modificationTime(directory + "/" + file.relativePath),
                flags: file.flags.rawValue, keywords: "", modificationSequence: Int64(state.highestModificationSequence))
            try row.insert(db)
            state.uidNext = max(state.uidNext, uid < UInt32.max ? uid + 1 : uid)
            changes.added.append((row.summary, file.relativePath))
        }
        if !adopted.isEmpty {
            try IndexDatabase.forgetAdoptedUIDs(db, mailbox: mailboxID)
            changes.added.sort { $0.summary.uid < $1.summary.uid }
        }
        // An expunge is a change too, as our own expunges count it (QRESYNC, RFC 7162 §3.2).
        if !changes.gone.isEmpty { state.highestModificationSequence += 1 }
        if !changes.gone.isEmpty || !changes.renamed.isEmpty || !changes.added.isEmpty { try state.update(db) }
        changes.state = state
        return changes
    }

    /// Makes `changes` (written to the index) the state.
    private func apply(_ changes: Changes) {
        if let reloaded = changes.reloaded {
            (current.messages, paths, bases) = (reloaded.messages, reloaded.paths, reloaded.bases)
        }
        for change in changes.renamed {
            current.messages[change.index].flags = change.flags
            current.messages[change.index].modificationSequence = change.modificationSequence
            rename(change.index, to: change.path)
        }
        if !changes.gone.isEmpty {
            var isGone = [Bool](repeating: false, count: paths.count)
            for index in changes.gone { isGone[index] = true }
            removeMessages { isGone[$0] }
        }
        if let first = changes.added.first {
            let isInOrder = (current.messages.last?.uid ?? 0) < first.summary.uid
            for (summary, path) in changes.added {
                current.messages.append(summary)
                paths.append(path)
                bases.insert(paths.count - 1, in: paths)
            }
            if !isInOrder {
                // Adopted UIDs below known ones (a mailbox adopted after a crash): re-sort.
                let order = current.messages.indices.sorted { current.messages[$0].uid < current.messages[$1].uid }
                (current.messages, paths) = (order.map { current.messages[$0] }, order.map { paths[$0] })
                bases = MessageBaseIndex(paths: paths)
            }
        }
        current.uidValidity = changes.state.uidValidity
        current.uidNext = changes.state.uidNext
        current.highestModificationSequence = changes.state.highestModificationSequence
    }

    /// Removes the messages at the indices `isRemoved` says, keeping `paths` and `bases`
    /// in step.
    private func removeMessages(where isRemoved: (Int) -> Bool) {
        var kept = 0
        // Where each message moves (removed ones: nowhere).
        var moves = [Int](repeating: -1, count: paths.count)
        for index in current.messages.indices {
            guard !isRemoved(index) else {
                bases.remove(index, path: paths[index])
                continue
            }
            if kept != index {
                current.messages[kept] = current.messages[index]
                paths[kept] = paths[index]
            }
            moves[index] = kept
            kept += 1
        }
        guard kept < paths.count else { return }
        current.messages.removeLast(current.messages.count - kept)
        paths.removeLast(paths.count - kept)
        bases.renumber(moves)
    }

    /// Message `index` is now in the file `path` (relative to the directory).
    private func rename(_ index: Int, to path: String) {
        bases.remove(index, path: paths[index])
        paths[index] = path
        bases.insert(index, in: paths)
    }

    /// The index of `uid` in `messages` (in UID order).
    private static func index(of uid: UInt32, in messages: [MessageSummary]) -> Int? {
        var low = 0
        var high = messages.count
        while low < high {
            let middle = (low + high) / 2
            if messages[middle].uid < uid { low = middle + 1 } else { high = middle }
        }
        return low < messages.count && messages[low].uid == uid ? low : nil
    }

    /// The file of message `uid`, relative to the directory.
    private func path(of uid: UInt32) -> String? {
        Self.index(of: uid, in: current.messages).map { paths[$0] }
    }

    // MARK: - Reading (on `queue`)

    /// The file of `uid`, following a rename by another program. Only a regular file is
    /// read: a symbolic link in its place is refused, never followed.
    func read(_ uid: UInt32) throws(StoreError) -> [UInt8] {
        guard !isDeleted, let file = path(of: uid) else { throw StoreError(.expunged, "uid \(uid) is not in the mailbox") }
        let directory = self.directory
        do throws(DiskIOError) {
            return try DiskIO.readWholeFile(directory + "/" + file, followingSymbolicLinks: false)
        } catch where error.code == ENOENT {
            // Renamed by another program since: look again.
            try reconcile()
            guard let moved = path(of: uid) else { throw StoreError(.expunged, "uid \(uid) was removed") }
            return try disk { () throws(DiskIOError) in
                try DiskIO.readWholeFile(directory + "/" + moved, followingSymbolicLinks: false)
            }
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
            } else if let file = path(of: uid),
                let bytes = try? DiskIO.readWholeFile(directory + "/" + file, followingSymbolicLinks: false)
            {
                result.append((uid, bytes))
            } else {
                continue  // gone or renamed: read it when it is asked for
            }
            total += result[result.count - 1].bytes.count
        }
        return result
    }

    /// The derived fields kept for `uids` (`IMAPMailbox.derivedFields`).
    func derivedFields(_ uids: [UInt32]) throws(StoreError) -> [UInt32: [String: [UInt8]]] {
        guard !isDeleted, !uids.isEmpty else { return [:] }
        let mailboxID = try ensureRow()
        return try IndexDatabase.read(database) { db in
            try IndexDatabase.derivedFields(db, mailbox: mailboxID, uids: uids)
        }
    }

    /// The first UID no IMAP session has been told about (`IMAPMailbox.recentBoundary`).
    func recentBoundary() throws(StoreError) -> UInt32? {
        guard !isDeleted else { return nil }
        let mailboxID = try ensureRow()
        return try IndexDatabase.read(database) { db in try IndexDatabase.firstRecentUID(db, mailbox: mailboxID) }
    }

    /// Raises it (`IMAPMailbox.keepRecentBoundary`).
    func keepRecentBoundary(_ uid: UInt32) throws(StoreError) {
        guard !isDeleted, let mailboxID else { return }
        try IndexDatabase.raiseFirstRecentUID(database, mailbox: mailboxID, to: uid)
    }

    /// Keeps derived fields of the messages that are still here (`keepDerivedFields`).
    func keepDerivedFields(_ fields: [UInt32: [String: [UInt8]]]) throws(StoreError) {
        guard !isDeleted, let mailboxID, isLoaded else { return }
        // Rows exist for what `current` holds (the index's state as last reconciled).
        let present = fields.filter { uid, _ in Self.index(of: uid, in: current.messages) != nil }
        guard !present.isEmpty else { return }
        try IndexDatabase.keepDerivedFields(database, mailbox: mailboxID, present)
    }

    /// What COPY needs of the messages `uids` (in UID order, expunged ones left out).
    func copySources(_ uids: [UInt32]) -> (directory: String, sources: [CopySource]) {
        guard !isDeleted else { return (directory, []) }
        let wanted = Set(uids)
        let sources = current.messages.indices.compactMap { index -> CopySource? in
            guard wanted.contains(current.messages[index].uid) else { return nil }
            return CopySource(relativePath: paths[index], summary: current.messages[index])
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
        var planned: [(index: Int, file: String, flags: SystemFlags, keywords: [String], isRename: Bool)] = []
        for (index, message) in current.messages.enumerated() where wanted.contains(message.uid) {
            let (flags, keywords) = change(message.flags, message.keywords)
            guard flags != message.flags || keywords != message.keywords else { continue }
            guard keywords.count <= MaildirMailboxStore.maximumKeywords else {
                throw StoreError(.limitExceeded, "more than \(MaildirMailboxStore.maximumKeywords) keywords")
            }
            planned.append((index, paths[index], flags, keywords, flags != message.flags))
        }
        guard !planned.isEmpty else { return (current.messages.filter { wanted.contains($0.uid) }, false) }
        cache.forget(directory)
        // Our own renames change the directory times: the next refresh scans again.
        if planned.contains(where: \.isRename) { trustedTimes = TrustedTimes() }
        var changes: [(index: Int, file: String, flags: SystemFlags, keywords: [String])] = []
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
            changes.append((plan.index, target, plan.flags, plan.keywords))
        }
        guard !changes.isEmpty else { return (current.messages.filter { wanted.contains($0.uid) }, false) }
        if changes.contains(where: { paths[$0.index] != $0.file }) {
            try disk { () throws(DiskIOError) in
                try DiskIO.syncDirectory(directory + "/cur")
                if renamedFromNew { try DiskIO.syncDirectory(directory + "/new") }
            }
        }
        let (highest, isInStep): (UInt64, Bool) = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            let isInStep = self.isInStep(with: state)
            for change in changes {
                state.highestModificationSequence += 1
                try db.execute(
                    sql: "UPDATE messages SET file = ?, flags = ?, keywords = ?, modseq = ? WHERE mailbox = ? AND uid = ?",
                    arguments: [
                        change.file, change.flags.rawValue, change.keywords.joined(separator: " "),
                        Int64(state.highestModificationSequence), mailboxID, Int64(self.current.messages[change.index].uid),
                    ])
            }
            try state.update(db)
            return (state.highestModificationSequence, isInStep)
        }
        var sequence = highest - UInt64(changes.count)
        for change in changes {
            sequence += 1
            let index = change.index
            if paths[index] != change.file { rename(index, to: change.file) }
            current.messages[index].flags = change.flags
            current.messages[index].keywords = change.keywords
            current.messages[index].modificationSequence = sequence
        }
        current.highestModificationSequence = highest
        if !isInStep { isLoaded = false }
        return (current.messages.filter { wanted.contains($0.uid) }, true)
    }

    /// A session that takes the new messages (IMAP SELECT, POP3; `MailboxStore.open(account:
    /// mailbox:takingNewMessages:)`) opened the folder, which was just refreshed in the same
    /// turn of the queue: every message the state has in `new/` moves to
    /// `cur/<base>:2,<flags>` (its flags, letters in ASCII order, cr.yp.to/proto/maildir.html)
    /// with the same UID, flags, keywords and MODSEQ — only the file name changes, which no
    /// client sees. Dovecot does the same when a session drops `\Recent`. So a large INBOX
    /// filled by delivery keeps a small `new/`, and a refresh after a delivery (which scans
    /// only `new/` while `cur/` is unchanged) lists a few names instead of every message.
    ///
    /// Safety. Only rename(2), within the folder: at any instant, and after a crash at
    /// any instant, each file is in exactly one of `new/<base>` and `cur/<base>:2,…`, its
    /// bytes untouched (they were fsynced when it arrived). Both directories are fsynced
    /// after the batch, then one index transaction records the new names (only for rows
    /// that still have the old one). A crash before that commit (before, between or after
    /// the renames, before or after the fsyncs) leaves rows that say `new/<base>` for files
    /// that are, or may be, in `cur/`; the reconciliation knows a message by its base and
    /// takes a known base found under another name as a rename by someone else: the row
    /// keeps its UID, takes the name it finds, and its flags from that name — the row's own
    /// flags, so not even its MODSEQ changes. Were a row ever ahead of the disk (it says
    /// `cur/`, the rename did not survive), the same rule follows the file back to `new/`.
    /// A base in both directories (another program copying it, or a crashed
    /// link-then-unlink mover) is taken where `cur/` has it. A rename can only replace a
    /// file with the same base — the same message, bases are unique in a Maildir — never
    /// another one. So after a crash at any point no message is lost or gets a second UID,
    /// and the first reconciliation (a full one: no state survives a restart) makes the
    /// index agree with the files. In a running process, a failure part-way (an fsync or
    /// index error, an index another writer replaced) leaves the state saying `new/` for
    /// moved files; the trusted times are dropped before the first rename, so the next
    /// refresh scans both directories and follows them, and a read that meets `ENOENT`
    /// reconciles first (`read`).
    ///
    /// Others. Everything this process does to the folder (APPEND, COPY, flags, expunge,
    /// reconciliation) runs on `queue`, as this does, so none of it comes between the
    /// refresh and the move. Deliveries and other programs do not wait for the queue: a
    /// file that another program moved or deleted first makes its rename fail (`ENOENT`)
    /// and is left to the next reconciliation, as is one whose rename fails otherwise (it
    /// stays where the row says it is); and a delivery into `new/` during the move is no
    /// message of the state yet, so it is not moved — the next refresh finds it.
    ///
    /// Trusted times. Our renames change the times of `new/` and `cur/`. Both are
    /// forgotten before the first rename and not taken from after the move: a time read
    /// right after a change is too recent to trust (`MailboxStateCache.settleSeconds`) —
    /// someone else's change during the move, or in the same clock tick after it, would
    /// leave the same time (a delivery into `new/` would stay unseen until `new/` changed
    /// again). So the next refresh scans both directories (against the state in memory,
    /// also from the cache: no index read), and trusts the times it read before that scan
    /// only once they are old enough (as every scan does); after that, refreshes are cheap
    /// again. One full scan per batch moved, as Dovecot rescans `cur/` once its times have
    /// settled after its own moves.
    func moveNewMessagesToCur() throws(StoreError) {
        guard isLoaded, !isDeleted else { return }
        let moving = paths.indices.filter { paths[$0].utf8.first == UInt8(ascii: "n") }
        guard !moving.isEmpty else { return }
        let mailboxID = try ensureRow()
        let directory = self.directory
        cache.forget(directory)
        trustedTimes = TrustedTimes()
        var moved: [(index: Int, uid: UInt32, from: String, to: String)] = []
        for index in moving {
            let source = paths[index]
            let target = MaildirFileName.curPath(
                base: MaildirFileName.base(of: source), flags: current.messages[index].flags)
            do throws(DiskIOError) {
                try DiskIO.move(directory + "/" + source, directory + "/" + target)
            } catch where [ENOSPC, EDQUOT, EROFS, EACCES, EPERM, EIO].contains(error.code) {
                break  // would fail for every file alike: the rest stays in new/
            } catch {
                continue  // ENOENT (moved or deleted by another program) or a name cur/ refuses
            }
            moved.append((index, current.messages[index].uid, source, target))
        }
        guard !moved.isEmpty else { return }
        try disk { () throws(DiskIOError) in
            try DiskIO.syncDirectory(directory + "/cur")
            try DiskIO.syncDirectory(directory + "/new")
        }
        let isInStep: Bool = try IndexDatabase.write(database) { db in
            let state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            // Another writer replaced the index: its rows are not the state's (the next
            // refresh reads them and follows the files).
            guard self.isInStep(with: state) else { return false }
            for move in moved {
                try IndexDatabase.MessageRow.move(db, mailbox: mailboxID, uid: move.uid, from: move.from, to: move.to)
            }
            return true
        }
        guard isInStep else {
            isLoaded = false
            return
        }
        for move in moved { rename(move.index, to: move.to) }
    }

    /// Removes the messages `uids` for good; returns whether any was there.
    func expunge(_ uids: [UInt32]) throws(StoreError) -> Bool {
        guard !isDeleted else { return false }
        let targets = uids.compactMap { uid in path(of: uid).map { (uid, $0) } }
        guard !targets.isEmpty else { return false }
        let mailboxID = try ensureRow()
        let directory = self.directory
        cache.forget(directory)
        // Our own unlinks change the directory times: the next refresh scans again
        // (new/ only, when nothing was in cur/).
        trustedTimes.new = nil
        if targets.contains(where: { $0.1.utf8.first != UInt8(ascii: "n") }) { trustedTimes.cur = nil }
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
                    trustedTimes = TrustedTimes()
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
        let (highest, isInStep): (UInt64, Bool) = try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            let isInStep = self.isInStep(with: state)
            for (uid, _) in targets { try IndexDatabase.MessageRow.delete(db, mailbox: mailboxID, uid: uid) }
            state.highestModificationSequence += 1
            try state.update(db)
            return (state.highestModificationSequence, isInStep)
        }
        let removed = Set(targets.map(\.0))
        removeMessages { removed.contains(current.messages[$0].uid) }
        current.highestModificationSequence = highest
        if !isInStep { isLoaded = false }
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
                // A symbolic link (or anything else) in place of the message: not copied,
                // neither the link (link(2) would copy it as it is) nor what it points to.
                guard (information.st_mode & S_IFMT) == S_IFREG else { continue }
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
                        let bytes = try DiskIO.readWholeFile(sourcePath, followingSymbolicLinks: false)
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
        // Our own renames into cur/ change its time: the next refresh scans it again.
        trustedTimes.cur = nil
        for (index, file) in newFiles.enumerated() {
            let target = directory + "/" + file.relativePath
            try disk { () throws(DiskIOError) in try DiskIO.move(placed[index], target) }
            placed[index] = target
        }
        try disk { () throws(DiskIOError) in try DiskIO.syncDirectory(directory + "/cur") }
        let inserted: (rows: [IndexDatabase.MessageRow], state: IndexDatabase.MailboxRow, isInStep: Bool) =
            try IndexDatabase.write(database) { db in
            var state = try IndexDatabase.MailboxRow.fetch(db, id: mailboxID)
            let isInStep = self.isInStep(with: state)
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
            return (rows, state, isInStep)
        }
        if isLoaded && inserted.isInStep {
            for row in inserted.rows {
                current.messages.append(row.summary)
                paths.append(row.file)
                bases.insert(current.messages.count - 1, in: paths)
            }
            current.uidNext = inserted.state.uidNext
            current.highestModificationSequence = inserted.state.highestModificationSequence
        } else {
            // The next refresh reads the rows.
            isLoaded = false
        }
        return inserted.rows.map(\.uid)
    }

    // MARK: - Structure changes (on `queue`, held by `MaildirMailboxStore`)

    /// Whether the state in memory is the index's as of `state` (its row now): only then
    /// may a change be applied to both. Anything else (an index replaced meanwhile)
    /// makes the next refresh read the rows.
    private func isInStep(with state: IndexDatabase.MailboxRow) -> Bool {
        isLoaded && state.uidValidity == current.uidValidity && state.uidNext == current.uidNext
            && state.highestModificationSequence == current.highestModificationSequence
    }

    /// The folder was deleted: every session that has it open sees it empty from now on.
    func markDeleted() {
        isDeleted = true
        forgetState()
    }

    /// The folder's directory was made anew under it (RENAME INBOX into a name this
    /// folder stood for): whatever was known goes; sessions that have it open load it
    /// afresh at their next refresh.
    func reset() {
        isDeleted = false
        forgetState()
        current = MailboxSnapshot(uidValidity: 0, uidNext: 1, highestModificationSequence: 0, messages: [])
        publish()
    }

    private func forgetState() {
        mailboxID = nil
        isLoaded = false
        current.messages = []
        paths = []
        bases = MessageBaseIndex()
        trustedTimes = TrustedTimes()
        releaseDatabase()
        publish()
    }

    /// The folder was renamed: same index row, same UIDs, new directory and name.
    func relocate(to place: Place) {
        placeLock.withLock { $0 = place }
        trustedTimes = TrustedTimes()
        publish()
    }

    /// The last user let go: the state goes to the cache, for the next open of the
    /// folder without an index read (and without a scan while its times are trusted), and
    /// the index connection is closed. Also a state whose times are not trusted (a write
    /// of ours just changed them): the next open scans both directories against it, which
    /// costs what the scan costs, instead of reading every row of the index as well.
    func park() {
        releaseDatabase()
        guard isLoaded, !isDeleted, let mailboxID else { return }
        cache.store(
            directory,
            MailboxStateCache.State(
                mailboxID: mailboxID, trustedTimes: trustedTimes, snapshot: current, paths: paths, bases: bases))
    }

    // MARK: - Helpers

    /// Whether `directory` is a Maildir folder: a directory with `cur/`
    /// (`hasMaildirSubdirectories`). A symbolic link is no folder, wherever it points.
    static func isFolder(_ directory: String) -> Bool {
        isDirectory(directory) && hasMaildirSubdirectories(directory)
    }

    /// `cur/` is a directory, and `new/` and `tmp/` are directories or missing (they are
    /// made on first use) — none of them a symbolic link.
    static func hasMaildirSubdirectories(_ directory: String) -> Bool {
        guard isDirectory(directory + "/cur") else { return false }
        for subdirectory in ["/new", "/tmp"] {
            var information = stat()
            if lstat(directory + subdirectory, &information) == 0 && (information.st_mode & S_IFMT) != S_IFDIR {
                return false
            }
        }
        return true
    }

    /// Whether `path` is a directory itself, not a symbolic link to one.
    static func isDirectory(_ path: String) -> Bool {
        var information = stat()
        return lstat(path, &information) == 0 && (information.st_mode & S_IFMT) == S_IFDIR
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
    /// sends it (a missing final line end is added); nil when the file is gone (or has
    /// become a symbolic link).
    private static func crlfSize(of path: String) throws(StoreError) -> Int? {
        let bytes: [UInt8]
        do throws(DiskIOError) {
            bytes = try DiskIO.readWholeFile(path, followingSymbolicLinks: false)
        } catch where [ENOENT, ELOOP, EINVAL].contains(error.code) {
            // Gone, or no longer a regular file: not a message (the next scan agrees).
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
        guard lstat(path, &information) == 0 else { return Int64(Date().timeIntervalSince1970) }
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
