import DurableFiles
import Foundation
import GRDB
public import MailCore
public import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The read side of the Maildir store and its folders: each account's mailboxes with a
/// per-account SQLite index (`<maildir>/tsubame-index.sqlite`, WAL, mode 0600) that holds
/// UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and, per message, UID, file name, size,
/// INTERNALDATE, flags, keywords and MODSEQ — the truth for those (DESIGN.md §4) — and,
/// per account, special use and subscriptions.
///
/// INBOX is the account's Maildir; other mailboxes are Maildir++ folders in it
/// (`MaildirFolderName`: `a/b` is `.a.b/`), as Dovecot lays them out.
///
/// Opening a mailbox reconciles the index with the directory: files that appeared in
/// `new/` or `cur/` (our deliveries, which never touch the index, or another program's)
/// get the next UIDs in file-name order, which starts with the arrival time; files that
/// vanished are dropped from the index; files another program renamed (flags in the
/// `:2,` suffix) are followed. A Maildir that Dovecot kept is adopted with its
/// `dovecot-uidlist` (UIDVALIDITY and every UID), so POP3 UIDLs and IMAP UIDs survive a
/// move from Dovecot. A session that takes the new messages (IMAP SELECT, POP3) then moves
/// the files in `new/` to `cur/`, as Dovecot does; EXAMINE and STATUS leave them.
///
/// Every session with the same folder open shares one `MaildirFolder` — one serial queue,
/// one state — and file and database work runs on that queue, never on the caller's
/// thread. Changes to the account's folder structure (create, delete, rename, the
/// default mailboxes) run one at a time per account on a store queue.
public final class MaildirMailboxStore: MailboxFolders {
    /// Keywords one message may carry.
    static let maximumKeywords = 128
    /// Octets of one keyword.
    static let maximumKeywordLength = 200

    public let root: String
    let cache: MailboxStateCache
    let notifier: MailboxChangeNotifier?
    let folders = MaildirFolderRegistry()
    /// The account indexes open now, shared by folders and structure changes.
    let indexes = IndexConnections()
    /// Each account's special uses and subscriptions as LIST last read them.
    let structures = AccountStructureCache()
    /// The host name as it appears in file names (see `MaildirDelivery.encodedHostname`).
    let fileNameHost: String
    let processID: Int32
    /// Structure changes of an account run on `structureQueues[hash(account) % count]`.
    let structureQueues: [DispatchQueue]

    /// - Parameters:
    ///   - root: the same root `MaildirDelivery` delivers into.
    ///   - cachedMessages: how many messages' index state may be kept in memory for
    ///     folders no session has open, so that opening an unchanged mailbox costs two
    ///     `lstat` calls instead of a directory scan and an index read, and one with new
    ///     mail a scan of `new/` (Dovecot checks `new/` and `cur/` times the same way).
    ///   - notifier: told after appends, copies, flag changes and expunges, so that IMAP
    ///     IDLE sessions of the same account wake up.
    public init(root: String, cachedMessages: Int = 200_000, notifier: MailboxChangeNotifier? = nil) {
        self.root = root
        self.cache = MailboxStateCache(limit: cachedMessages)
        self.notifier = notifier
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count - 1) == 0
            ? String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        self.fileNameHost = MaildirDelivery.encodedHostname(host.isEmpty ? "localhost" : host)
        self.processID = getpid()
        self.structureQueues = (0..<8).map { _ in DispatchQueue(label: "tsubame.maildir-account", qos: .userInitiated) }
    }

    /// Opens a mailbox without taking its new messages (IMAP EXAMINE and STATUS): they
    /// stay in `new/`.
    public func open(account: MailAddress, mailbox: String) async throws(StoreError) -> any OpenMailbox {
        try await open(account: account, mailbox: mailbox, takingNewMessages: false)
    }

    /// Opens a mailbox; with `takingNewMessages` (IMAP SELECT, POP3) the messages in
    /// `new/` then move to `cur/` (`MaildirFolder.moveNewMessagesToCur`), right after the
    /// refresh, in the same turn of the folder's queue.
    public func open(account: MailAddress, mailbox: String, takingNewMessages: Bool) async throws(StoreError)
        -> any OpenMailbox
    {
        let name = try Self.validName(mailbox, else: .notFound)
        let (folder, _) = try await withFolder(account: account, name: name) { folder throws(StoreError) in
            try folder.refresh()
            if takingNewMessages { try folder.moveNewMessagesToCur() }
        }
        return MaildirMailbox(store: self, account: account, folder: folder)
    }

    // MARK: - Names and folders

    /// The account's Maildir: INBOX, and the parent of every folder.
    func accountDirectory(_ account: MailAddress) -> String {
        MaildirLayout.maildir(root: root, address: account)
    }

    /// The directory of mailbox `name` (valid and normalized).
    func directory(of name: String, in accountDirectory: String) -> String {
        name == "INBOX" ? accountDirectory : accountDirectory + "/" + MaildirFolderName.directoryName(for: name)
    }

    /// The shared folder of mailbox `name`; the caller releases it (`release`).
    func acquireFolder(account: MailAddress, name: String) -> MaildirFolder {
        let accountDirectory = accountDirectory(account)
        return acquireFolder(
            directory: directory(of: name, in: accountDirectory), accountDirectory: accountDirectory, name: name)
    }

    /// How often `withFolder` looks a folder up again that a RENAME took elsewhere while
    /// the caller waited for it.
    static let maximumFolderLookups = 8

    /// The shared folder of mailbox `name`, acquired (the caller releases it), and what
    /// `body` returned on its queue. A folder that a RENAME moved elsewhere while we
    /// waited for its queue is not the mailbox asked for any more: we look again, and
    /// then find what is there now (the folder that moved in, or nothing: `.notFound`).
    func withFolder<T: Sendable>(
        account: MailAddress, name: String, _ body: @escaping @Sendable (MaildirFolder) throws(StoreError) -> T
    ) async throws(StoreError) -> (MaildirFolder, T) {
        let accountDirectory = accountDirectory(account)
        let directory = directory(of: name, in: accountDirectory)
        for _ in 0..<Self.maximumFolderLookups {
            let folder = acquireFolder(directory: directory, accountDirectory: accountDirectory, name: name)
            let result: T?
            do throws(StoreError) {
                result = try await folder.run { () throws(StoreError) -> T? in
                    guard folder.directory == directory else { return nil }
                    return try body(folder)
                }
            } catch {
                release(folder)
                throw error
            }
            if let result { return (folder, result) }
            release(folder)
        }
        throw StoreError(.temporary, "mailbox \(name) keeps being renamed; try again")
    }

    /// One user of `folder` is done; the last one parks it (its state to the cache, its
    /// index connection closed).
    func release(_ folder: MaildirFolder) {
        if folders.release(folder) { folder.queue.async { folder.park() } }
    }

    /// `name` normalized (`inbox/x` → `INBOX/x`), or `kind` when `MailboxNaming` refuses it.
    static func validName(_ name: String, else kind: StoreError.Kind) throws(StoreError) -> String {
        if let problem = MailboxNaming.problem(with: name) {
            throw StoreError(kind, "mailbox name \(String(reflecting: name)): \(problem)")
        }
        return MaildirFolderName.normalized(name)
    }

    /// Refuses keywords the index cannot keep (it stores them space-separated).
    static func checkKeywords(_ keywords: [String]) throws(StoreError) {
        guard keywords.count <= maximumKeywords else {
            throw StoreError(.limitExceeded, "more than \(maximumKeywords) keywords")
        }
        for keyword in keywords {
            guard !keyword.isEmpty, keyword.utf8.count <= maximumKeywordLength,
                keyword.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F })
            else {
                throw StoreError(.permissionDenied, "keyword \(String(reflecting: keyword)) cannot be stored")
            }
        }
    }
}

/// One session's handle on a shared `MaildirFolder`. Everything but `close()` is shared:
/// `snapshot()` is the folder's state as of the last operation by any session of the
/// process (their flag changes, expunges, appends and copies show at once), `refresh()`
/// also looks at the disk (deliveries, other programs). A folder deleted meanwhile is
/// empty. `close()` may be called more than once; a handle that is never closed lets go
/// of its folder when it is freed.
final class MaildirMailbox: IMAPMailbox {
    let folder: MaildirFolder
    private let store: MaildirMailboxStore
    private let account: MailAddress
    private let isClosed = Mutex(false)

    init(store: MaildirMailboxStore, account: MailAddress, folder: MaildirFolder) {
        self.store = store
        self.account = account
        self.folder = folder
    }

    deinit {
        if !isClosed.withLock({ $0 }) { store.release(folder) }
    }

    private func checkOpen() throws(StoreError) {
        if isClosed.withLock({ $0 }) { throw StoreError(.internal, "mailbox used after close") }
    }

    private func posted() {
        store.notifier?.post(account: account.canonical)
    }

    // MARK: - OpenMailbox

    func snapshot() async -> MailboxSnapshot {
        folder.snapshot
    }

    func refresh() async throws(StoreError) -> MailboxSnapshot {
        try checkOpen()
        let folder = self.folder
        if let snapshot = folder.unchangedSnapshot() { return snapshot }
        return try await folder.run { () throws(StoreError) -> MailboxSnapshot in
            // Deleted by another session: nothing is left in it.
            if !folder.isDeleted { try folder.refresh() }
            return folder.current
        }
    }

    func content(uid: UInt32) async throws(StoreError) -> [UInt8] {
        try checkOpen()
        let folder = self.folder
        return try await folder.run { () throws(StoreError) -> [UInt8] in try folder.read(uid) }
    }

    func contents(uids: [UInt32], byteLimit: Int) async throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] {
        try checkOpen()
        let folder = self.folder
        // One hop to the queue for the lot; only the first message must be readable.
        return try await folder.run { () throws(StoreError) -> [(uid: UInt32, bytes: [UInt8])] in
            try folder.read(uids, byteLimit: byteLimit)
        }
    }

    @discardableResult
    func setFlags(uids: [UInt32], add: SystemFlags, remove: SystemFlags) async throws(StoreError) -> [MessageSummary] {
        try await apply(uids) { flags, keywords in (flags.union(add).subtracting(remove), keywords) }
    }

    func changeFlags(uids: [UInt32], _ change: FlagChange) async throws(StoreError) -> [MessageSummary] {
        try MaildirMailboxStore.checkKeywords(change.keywords)
        return try await apply(uids) { flags, keywords in change.applied(to: flags, keywords: keywords) }
    }

    private func apply(
        _ uids: [UInt32], _ change: @escaping @Sendable (SystemFlags, [String]) -> (SystemFlags, [String])
    ) async throws(StoreError) -> [MessageSummary] {
        try checkOpen()
        let folder = self.folder
        let (summaries, changed) = try await folder.run {
            () throws(StoreError) -> (summaries: [MessageSummary], changed: Bool) in
            try folder.changeFlags(uids, change)
        }
        if changed { posted() }
        return summaries
    }

    func expunge(uids: [UInt32]) async throws(StoreError) {
        try checkOpen()
        let folder = self.folder
        if try await folder.run({ () throws(StoreError) -> Bool in try folder.expunge(uids) }) { posted() }
    }

    func expungeDeleted(among uids: [UInt32]?) async throws(StoreError) -> [UInt32] {
        try checkOpen()
        let folder = self.folder
        let wanted = uids.map(Set.init)
        // Chosen and removed in one turn of the folder's queue: no flag change between.
        let removed = try await folder.run { () throws(StoreError) -> [UInt32] in
            let deleted = folder.current.messages.filter { message in
                message.flags.contains(.deleted) && (wanted?.contains(message.uid) ?? true)
            }.map(\.uid)
            guard !deleted.isEmpty, try folder.expunge(deleted) else { return [] }
            return deleted
        }
        if !removed.isEmpty { posted() }
        return removed
    }

    func copy(uids: [UInt32], to mailbox: String) async throws(StoreError) -> StoredUIDs {
        try checkOpen()
        let result = try await store.copy(from: folder, uids: uids, account: account, to: mailbox)
        if !result.uids.isEmpty { posted() }
        return result
    }

    func derivedFields(uids: [UInt32]) async -> [UInt32: [String: [UInt8]]] {
        guard (try? checkOpen()) != nil else { return [:] }
        let folder = self.folder
        return (try? await folder.run { () throws(StoreError) -> [UInt32: [String: [UInt8]]] in
            try folder.derivedFields(uids)
        }) ?? [:]
    }

    func keepDerivedFields(_ fields: [UInt32: [String: [UInt8]]]) {
        guard !fields.isEmpty, (try? checkOpen()) != nil else { return }
        let folder = self.folder
        // Not waited for: the FETCH that computed them is answered meanwhile. Should the
        // session close the mailbox first, the write still runs on the folder's queue
        // (the folder lets its index connection go after it, as after any work).
        folder.queue.async {
            try? folder.keepDerivedFields(fields)
            folder.afterDetachedWork()
        }
    }

    func recentBoundary() async -> UInt32? {
        guard (try? checkOpen()) != nil else { return nil }
        let folder = self.folder
        return (try? await folder.run { () throws(StoreError) -> UInt32? in try folder.recentBoundary() }) ?? nil
    }

    func keepRecentBoundary(_ uid: UInt32) {
        guard (try? checkOpen()) != nil else { return }
        let folder = self.folder
        folder.queue.async {
            try? folder.keepRecentBoundary(uid)
            folder.afterDetachedWork()
        }
    }

    func close() async {
        let wasOpen = isClosed.withLock { isClosed in
            defer { isClosed = true }
            return !isClosed
        }
        guard wasOpen else { return }
        if store.folders.release(folder) {
            // The last user: the state to the cache, and the index connection let go now
            // rather than after the linger.
            let folder = self.folder
            _ = try? await onQueue(folder.queue) { () throws(StoreError) in folder.park() }
        }
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

/// The state of folders no session has open (parked by the last one), so that opening
/// an unchanged mailbox again costs two `lstat` calls instead of a scan and an index
/// read, one that only got new mail a scan of `new/`, and one whose `cur/` changed (or
/// whose times were too recent to trust when it was parked, after a write of ours) a scan
/// of both directories without the index read — the folder decides from the state's
/// trusted times (`MaildirFolder.refresh`). Valid only for the same index (mailbox row,
/// UIDVALIDITY; the folder checks UIDNEXT and HIGHESTMODSEQ). Bounded by the number of
/// messages held.
final class MailboxStateCache: Sendable {
    struct Times {
        var new: timespec
        var cur: timespec

        static func same(_ a: timespec?, _ b: timespec?) -> Bool {
            guard let a, let b else { return a == nil && b == nil }
            return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec
        }
    }

    struct State {
        var mailboxID: Int64
        var trustedTimes: MaildirFolder.TrustedTimes
        var snapshot: MailboxSnapshot
        var paths: [String]
        var bases: MessageBaseIndex
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

    /// The times of `new/` and `cur/` (not of what a symbolic link points to), or nil
    /// when either cannot be read.
    static func directoryTimes(_ directory: String) -> Times? {
        var new = stat()
        var cur = stat()
        guard lstat(directory + "/new", &new) == 0, lstat(directory + "/cur", &cur) == 0 else { return nil }
        return Times(new: new.st_mtim, cur: cur.st_mtim)
    }

    /// The cached state of `directory`, taken out of the cache (the folder keeps it up to
    /// date from now on, and parks it again), if it is the state of this mailbox row and
    /// UIDVALIDITY (a rebuilt index starts again at mailbox 1). Whether the directories
    /// changed since is the folder's next refresh's business: it compares their times
    /// with the state's trusted ones, as for a state it kept in memory.
    func take(_ directory: String, mailboxID: Int64, uidValidity: UInt32) -> State? {
        let state = contents.withLock { contents -> State? in
            guard let state = contents.states.removeValue(forKey: directory) else { return nil }
            contents.messages -= state.snapshot.messages.count
            return state
        }
        guard let state, state.mailboxID == mailboxID, state.snapshot.uidValidity == uidValidity else { return nil }
        return state
    }

    /// File times come from a coarse clock (a few milliseconds): a change right after a
    /// scan can leave a directory's time as it was. Times this recent are not trusted
    /// (Dovecot's maildir sync makes the same allowance).
    static let settleSeconds = 2

    /// Whether a directory time is old enough to trust (`settleSeconds`).
    static func isSettled(_ moment: timespec) -> Bool {
        moment.tv_sec < Int(time(nil)) - settleSeconds
    }

    func store(_ directory: String, _ state: State) {
        guard state.snapshot.messages.count <= limit else { return forget(directory) }
        contents.withLock { contents in
            if let old = contents.states.removeValue(forKey: directory) { contents.messages -= old.snapshot.messages.count }
            // Over the bound: start again rather than track recency (a cache miss only
            // costs one scan).
            if contents.messages + state.snapshot.messages.count > limit { contents = Contents() }
            contents.states[directory] = state
            contents.messages += state.snapshot.messages.count
        }
    }

    func forget(_ directory: String) {
        contents.withLock { contents in
            if let old = contents.states.removeValue(forKey: directory) { contents.messages -= old.snapshot.messages.count }
        }
    }
}
