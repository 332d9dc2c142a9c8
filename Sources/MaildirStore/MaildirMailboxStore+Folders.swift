import DurableFiles
import Foundation
import GRDB
public import MailCore
public import MailStore

#if canImport(Glibc)
import Glibc
#endif

/// The folder side of the Maildir store (IMAP): LIST, CREATE, DELETE, RENAME,
/// SUBSCRIBE, APPEND and COPY on Maildir++ folders (`MaildirFolderName`).
///
/// Structure changes of one account run one at a time on its store queue. Those that
/// move or remove a folder directory (DELETE, RENAME) also hold the queue of every
/// folder involved while they do it, so no session's work on those folders runs
/// half-way through, and then tell the shared folder (`MaildirFolder.relocate`,
/// `markDeleted`): sessions that have a renamed folder open follow it, those that have a
/// deleted one open see it empty. Only structure changes ever hold more than one queue,
/// and only one per account runs at a time, so this cannot deadlock.
extension MaildirMailboxStore {
    // MARK: - LIST

    public func mailboxes(account: MailAddress) async throws(StoreError) -> [MailboxInfo] {
        let accountDirectory = accountDirectory(account)
        return try await onAccountQueue(accountDirectory, readsOnly: true) { () throws(StoreError) -> [MailboxInfo] in
            if !MaildirFolder.isDirectory(accountDirectory + "/cur") { try Self.makeInbox(accountDirectory) }
            let structure = try self.structures.state(of: accountDirectory) { () throws(StoreError) in
                try self.indexes.with(accountDirectory) { database throws(StoreError) -> AccountStructureCache.State in
                    if try !IndexDatabase.read(database, { try IndexDatabase.isInitialised($0) }) {
                        try self.makeDefaultMailboxes(accountDirectory, database)
                    }
                    return try IndexDatabase.read(database) { db in
                        AccountStructureCache.State(
                            specialUses: try IndexDatabase.specialUses(db), subscriptions: try IndexDatabase.subscriptions(db))
                    }
                }
            }
            let names = try self.folderNames(accountDirectory, cached: structure.folders)
            return Self.listing(folders: names, specialUses: structure.specialUses, subscriptions: structure.subscriptions)
        }
    }

    /// LIST's view of the account: INBOX and the folders on disk, then what does not
    /// exist but is named anyway — missing parents of folders (Maildir++ lets `.a.b`
    /// exist without `.a`) and subscriptions of mailboxes that do not exist (RFC 9051
    /// §6.3.9) — INBOX first, then by name. Names are compared octet by octet: names that
    /// differ only in Unicode normalization are different mailboxes.
    static func listing(folders: [String], specialUses: [String: String], subscriptions: [String]) -> [MailboxInfo] {
        var uses: [[UInt8]: String] = [:]
        for (name, use) in specialUses { uses[Array(name.utf8)] = use }
        let subscribed = Set(subscriptions.map { Array($0.utf8) })
        var listed: [[UInt8]: MailboxInfo] = [:]
        for name in ["INBOX"] + folders {
            let key = Array(name.utf8)
            listed[key] = MailboxInfo(name: name, specialUse: uses[key], isSubscribed: subscribed.contains(key))
        }
        for name in folders {
            var parent = MailboxNaming.parent(of: name)
            while let current = parent, listed[Array(current.utf8)] == nil {
                let key = Array(current.utf8)
                listed[key] = MailboxInfo(name: current, isSubscribed: subscribed.contains(key), exists: false)
                parent = MailboxNaming.parent(of: current)
            }
        }
        for name in subscriptions where listed[Array(name.utf8)] == nil {
            listed[Array(name.utf8)] = MailboxInfo(name: name, isSubscribed: true, exists: false)
        }
        let inbox = listed.removeValue(forKey: Array("INBOX".utf8))
        let others = listed.values.sorted { a, b in
            a.name < b.name || (a.name == b.name && a.name.utf8.lexicographicallyPrecedes(b.name.utf8))
        }
        return (inbox.map { [$0] } ?? []) + others
    }

    /// The first LIST of an account: `MailboxNaming.defaultMailboxes` with their special
    /// use, subscribed with INBOX (Dovecot's `auto = subscribe`). Existing folders of
    /// those names (a Maildir Dovecot kept) are kept as they are. Only once: a default
    /// mailbox the user deletes stays deleted.
    private func makeDefaultMailboxes(_ accountDirectory: String, _ database: DatabaseQueue) throws(StoreError) {
        for (name, _) in MailboxNaming.defaultMailboxes {
            do throws(StoreError) {
                try Self.makeFolder(directory(of: name, in: accountDirectory))
            } catch where error.kind == .alreadyExists {
                continue  // something that is no folder is in the way: left as it is
            }
        }
        try IndexDatabase.write(database) { db in
            let uses = try IndexDatabase.specialUses(db)
            for (name, use) in MailboxNaming.defaultMailboxes {
                if uses[name] == nil { try IndexDatabase.setSpecialUse(db, name: name, attribute: use) }
                try IndexDatabase.setSubscribed(db, name: name, subscribed: true)
            }
            try IndexDatabase.setSubscribed(db, name: "INBOX", subscribed: true)
            try IndexDatabase.markInitialised(db)
        }
    }

    /// The names of the account's folders on disk (without INBOX): directories whose
    /// names decode (`MaildirFolderName.mailboxName(forDirectory:)`) and that hold `cur/`,
    /// whoever made them.
    ///
    /// The directory is read each time (one `getdents`); while its `.` entries are the
    /// ones the last read saw, no folder came or went by name: the folders found then
    /// are listed again without looking into each, and only the entries that were not
    /// folders yet (a `.Name` whose `cur/` another program had still to make) are looked
    /// at. A folder whose `cur/` someone removed behind our back stays listed until the
    /// entries change; opening it checks again. (Keyed on the entries, not on the
    /// directory's time: the index's `-wal` and `-shm` files come and go in the same
    /// directory.) On the account's structure queue.
    ///
    /// Before even that: while the directory's time is what the last read saw (and old
    /// enough to trust, as for `new/` and `cur/`), its entries cannot have changed, and it
    /// is not read at all (one `lstat`).
    private func folderNames(
        _ accountDirectory: String, cached: AccountStructureCache.FolderList?
    ) throws(StoreError) -> [String] {
        func listed(_ list: AccountStructureCache.FolderList) -> [String] {
            list.folders.map(\.name)
                + list.candidates.filter { MaildirFolder.isFolder(accountDirectory + "/" + $0.entry) }.map(\.name)
        }
        var information = stat()
        let time = lstat(accountDirectory, &information) == 0 ? information.st_mtim : nil
        let trusted = time.flatMap { MailboxStateCache.isSettled($0) ? $0 : nil }
        if let cached, let trusted, let cachedTime = cached.time, MailboxStateCache.Times.same(cachedTime, trusted) {
            return listed(cached)
        }
        let entries = try disk({ () throws(DiskIOError) in try Self.dotEntries(accountDirectory) }).sorted()
        if var cached, cached.entries == entries {
            cached.time = trusted
            structures.setFolders(of: accountDirectory, cached)
            return listed(cached)
        }
        var list = AccountStructureCache.FolderList(time: trusted, entries: entries, folders: [], candidates: [])
        for entry in entries {
            guard let name = MaildirFolderName.mailboxName(forDirectory: entry) else { continue }
            if MaildirFolder.isFolder(accountDirectory + "/" + entry) {
                list.folders.append((entry, name))
            } else {
                list.candidates.append((entry, name))
            }
        }
        structures.setFolders(of: accountDirectory, list)
        return list.folders.map(\.name)
    }

    // MARK: - CREATE

    public func create(account: MailAddress, mailbox: String, specialUse: String?) async throws(StoreError) {
        let name = try Self.validName(mailbox, else: .permissionDenied)
        // RFC 6154 §3: attributes compare case-insensitively; stored in our spelling.
        let use = specialUse.flatMap { use in
            MailboxNaming.supportedSpecialUses.first { $0.lowercased() == use.lowercased() }
        }
        if let specialUse, use == nil {
            throw StoreError(.permissionDenied, "special use \(String(reflecting: specialUse)) is not supported")
        }
        guard name != "INBOX" else { throw StoreError(.alreadyExists, "INBOX always exists") }
        let accountDirectory = accountDirectory(account)
        try await onAccountQueue(accountDirectory) { () throws(StoreError) in
            try Self.makeInbox(accountDirectory)
            let directory = self.directory(of: name, in: accountDirectory)
            guard !MaildirFolder.isFolder(directory) else { throw StoreError(.alreadyExists, "mailbox \(name) exists") }
            try self.makeParents(of: name, in: accountDirectory)
            try Self.makeFolder(directory)
            // The row now, so that UIDVALIDITY is the creation's (higher than any earlier
            // mailbox of this name had). A row left from a folder someone removed behind
            // our back is kept: its UIDs continue, none is reused.
            try self.indexes.with(accountDirectory) { database throws(StoreError) in
                try IndexDatabase.write(database) { db in
                    _ = try IndexDatabase.mailbox(named: name, in: db, adopting: directory)
                    try IndexDatabase.setSpecialUse(db, name: name, attribute: use)
                }
            }
        }
    }

    /// Makes every missing parent of `name` a real folder, as Dovecot does (RFC 9051
    /// §6.3.4: the server creates the superior hierarchical names).
    private func makeParents(of name: String, in accountDirectory: String) throws(StoreError) {
        var parents: [String] = []
        var parent = MailboxNaming.parent(of: name)
        while let current = parent {
            parents.append(current)
            parent = MailboxNaming.parent(of: current)
        }
        for parent in parents.reversed() where parent != "INBOX" {
            try Self.makeFolder(directory(of: parent, in: accountDirectory))
        }
    }

    // MARK: - DELETE

    public func delete(account: MailAddress, mailbox: String) async throws(StoreError) {
        let name = try Self.validName(mailbox, else: .notFound)
        guard name != "INBOX" else { throw StoreError(.permissionDenied, "INBOX cannot be deleted") }
        let accountDirectory = accountDirectory(account)
        try await onAccountQueue(accountDirectory) { () throws(StoreError) in
            let directory = self.directory(of: name, in: accountDirectory)
            guard MaildirFolder.isFolder(directory) else { throw StoreError(.notFound, "no mailbox \(name)") }
            let entries = try disk { () throws(DiskIOError) in try Self.dotEntries(accountDirectory) }
            let childPrefix = MaildirFolderName.directoryName(for: name) + "."
            guard
                !entries.contains(where: {
                    MaildirFolderName.hasPrefix($0, childPrefix) && MaildirFolder.isFolder(accountDirectory + "/" + $0)
                })
            else { throw StoreError(.inUse, "mailbox \(name) has children") }
            let folder = self.acquireFolder(directory: directory, accountDirectory: accountDirectory, name: name)
            defer { self.release(folder) }
            // One rename takes the folder away (atomic, durable with the parent's fsync);
            // its files are removed after. A crash in between leaves a `..deleted.` tree,
            // which no name maps to and the next DELETE removes.
            let trash = accountDirectory + "/" + MaildirFolderName.deletedPrefix
                + MaildirFileName.uniqueBase(host: self.fileNameHost, processID: self.processID, size: 0, crlfSize: 0)
            try Self.holding([folder]) { () throws(StoreError) in
                try disk { () throws(DiskIOError) in
                    try DiskIO.move(directory, trash)
                    try DiskIO.syncDirectory(accountDirectory)
                }
                folder.markDeleted()
                self.folders.remove(folder)
                self.cache.forget(directory)
                // The row (its messages and adopted UIDs cascade) and its special use;
                // subscriptions stay (RFC 9051 §6.3.9). The mailbox is gone already: if
                // the index cannot be written now, the row left behind is harmless (a
                // new mailbox of this name continues its UIDs).
                _ = try? self.indexes.with(accountDirectory) { database throws(StoreError) in
                    try IndexDatabase.write(database) { db in
                        try db.execute(sql: "DELETE FROM mailboxes WHERE name = ?", arguments: [name])
                        try IndexDatabase.setSpecialUse(db, name: name, attribute: nil)
                    }
                }
            }
            Self.removeTree(trash)
            for entry in entries where MaildirFolderName.hasPrefix(entry, MaildirFolderName.deletedPrefix) {
                Self.removeTree(accountDirectory + "/" + entry)
            }
        }
        notifier?.post(account: account.canonical)
    }

    // MARK: - RENAME

    public func rename(account: MailAddress, from: String, to: String) async throws(StoreError) {
        let source = try Self.validName(from, else: .notFound)
        let target = try Self.validName(to, else: .permissionDenied)
        guard target != "INBOX" else { throw StoreError(.alreadyExists, "INBOX always exists") }
        guard source == "INBOX" || !MaildirFolderName.hasPrefix(target, source + String(MailboxNaming.separator)) else {
            throw StoreError(.permissionDenied, "cannot move \(source) into itself")
        }
        let accountDirectory = accountDirectory(account)
        try await onAccountQueue(accountDirectory) { () throws(StoreError) in
            try Self.makeInbox(accountDirectory)
            if source == "INBOX" {
                try self.renameInbox(to: target, in: accountDirectory)
            } else {
                try self.renameFolder(source, to: target, in: accountDirectory)
            }
        }
        notifier?.post(account: account.canonical)
    }

    /// `.a` and every `.a.*` to `.c`, `.c.*` with rename(2), then the index names
    /// (`mailboxes`, special use, subscriptions) in one transaction. UIDVALIDITY and UIDs
    /// stay: the messages keep their UIDs (RFC 9051 §6.3.6). Each directory moves
    /// atomically, the hierarchy one directory at a time (as in Dovecot); on a failure
    /// the directories moved so far are moved back.
    private func renameFolder(_ source: String, to target: String, in accountDirectory: String) throws(StoreError) {
        let sourceEntry = MaildirFolderName.directoryName(for: source)
        let targetEntry = MaildirFolderName.directoryName(for: target)
        guard MaildirFolder.isFolder(accountDirectory + "/" + sourceEntry) else {
            throw StoreError(.notFound, "no mailbox \(source)")
        }
        let entries = try disk { () throws(DiskIOError) in try Self.dotEntries(accountDirectory) }
        var moves: [(from: String, to: String)] = [(sourceEntry, targetEntry)]
        for entry in entries where MaildirFolderName.hasPrefix(entry, sourceEntry + ".") {
            moves.append((entry, MaildirFolderName.replacingPrefix(sourceEntry, of: entry, with: targetEntry)))
        }
        for move in moves where Self.exists(accountDirectory + "/" + move.to) {
            throw StoreError(.alreadyExists, "mailbox \(target) (or one under it) exists")
        }
        try makeParents(of: target, in: accountDirectory)
        // Every folder that moves is held while the directories move, and registered
        // under its new directory too before anything moves: whoever looks up a new name
        // from then on gets the folder that moves there and waits for the move. A folder
        // registered there before (stale, or looked up just now: the directory does not
        // exist yet) is marked deleted first, on its own queue, so it never sees the
        // directory.
        var sources: [(folder: MaildirFolder, place: MaildirFolder.Place)] = []
        for move in moves {
            let oldName = MaildirFolderName.mailboxName(forDirectory: move.from) ?? move.from
            let newName = MaildirFolderName.mailboxName(forDirectory: move.to) ?? move.to
            sources.append(
                (
                    acquireFolder(directory: accountDirectory + "/" + move.from, accountDirectory: accountDirectory, name: oldName),
                    MaildirFolder.Place(directory: accountDirectory + "/" + move.to, name: newName)
                ))
        }
        defer {
            for (folder, place) in sources {
                folders.withdraw(place.directory, for: folder)
                release(folder)
            }
        }
        try Self.holding(sources.map(\.folder)) { () throws(StoreError) in
            let moving = Set(sources.map { ObjectIdentifier($0.folder) })
            for (folder, place) in sources {
                if let stale = folders.claim(place.directory, for: folder), !moving.contains(ObjectIdentifier(stale)) {
                    stale.queue.sync { stale.markDeleted() }
                }
            }
            var done: [(from: String, to: String)] = []
            func undo() {
                for move in done.reversed() {
                    _ = try? DiskIO.move(accountDirectory + "/" + move.to, accountDirectory + "/" + move.from)
                }
                _ = try? DiskIO.syncDirectory(accountDirectory)
            }
            do throws(StoreError) {
                for move in moves {
                    try disk { () throws(DiskIOError) in try DiskIO.move(accountDirectory + "/" + move.from, accountDirectory + "/" + move.to) }
                    done.append(move)
                }
                try disk { () throws(DiskIOError) in try DiskIO.syncDirectory(accountDirectory) }
                try self.indexes.with(accountDirectory) { database throws(StoreError) in
                    try IndexDatabase.write(database) { db in
                        for table in ["mailboxes", "special_use", "subscriptions"] {
                            try IndexDatabase.renameHierarchy(db, table: table, from: source, to: target)
                        }
                    }
                }
            } catch {
                undo()
                // The new names are free again before anyone waiting for them runs.
                for (folder, place) in sources { folders.withdraw(place.directory, for: folder) }
                throw error
            }
            for (folder, place) in sources {
                cache.forget(folder.directory)
                cache.forget(place.directory)
                folders.relocate(folder, to: place)
            }
        }
    }

    /// RFC 9051 §6.3.6: renaming INBOX moves all its messages into a new mailbox and
    /// leaves INBOX empty; its children stay. Every file of INBOX's `new/` and `cur/` is
    /// moved with rename(2), and its index row goes with it, so UIDs, flags and keywords
    /// move along (under the new mailbox's own, new UIDVALIDITY). A delivery that
    /// arrives meanwhile stays in INBOX.
    private func renameInbox(to target: String, in accountDirectory: String) throws(StoreError) {
        let targetDirectory = directory(of: target, in: accountDirectory)
        guard !MaildirFolder.isFolder(targetDirectory) else {
            throw StoreError(.alreadyExists, "mailbox \(target) exists")
        }
        // The target's folder is held from before its directory exists until its row and
        // files are in place: whoever opens it meanwhile waits, then finds it complete.
        let inbox = acquireFolder(directory: accountDirectory, accountDirectory: accountDirectory, name: "INBOX")
        let destination = acquireFolder(directory: targetDirectory, accountDirectory: accountDirectory, name: target)
        defer {
            release(inbox)
            release(destination)
        }
        try Self.holding([inbox, destination]) { () throws(StoreError) in
            // Whatever was known of the target (a stale state) starts again.
            destination.reset()
            try makeParents(of: target, in: accountDirectory)
            try Self.makeFolder(targetDirectory)
            let files = try disk { () throws(DiskIOError) in try MaildirFileName.scan(accountDirectory) }
            var moved: [String] = []
            do throws(DiskIOError) {
                for file in files.values {
                    do throws(DiskIOError) {
                        try DiskIO.move(accountDirectory + "/" + file.relativePath, targetDirectory + "/" + file.relativePath)
                    } catch where error.code == ENOENT {
                        continue  // expunged or renamed meanwhile
                    }
                    moved.append(file.relativePath)
                }
                for subdirectory in ["/new", "/cur"] {
                    try DiskIO.syncDirectory(targetDirectory + subdirectory)
                    try DiskIO.syncDirectory(accountDirectory + subdirectory)
                }
            } catch {
                for path in moved.reversed() {
                    _ = try? DiskIO.move(targetDirectory + "/" + path, accountDirectory + "/" + path)
                }
                throw MaildirDelivery.storeError(error)
            }
            // The messages are in the new mailbox now. Should the index fail here, they
            // are still there: its first open gives them new UIDs (keeping the flags in
            // their names), and INBOX's next reconciliation drops their rows.
            _ = try? self.indexes.with(accountDirectory) { database throws(StoreError) in
                try IndexDatabase.write(database) { db in
                    let inboxID = try IndexDatabase.mailbox(named: "INBOX", in: db, adopting: accountDirectory).id
                    var state = try IndexDatabase.MailboxRow.fetch(db, id: inboxID)
                    try db.execute(sql: "DELETE FROM mailboxes WHERE name = ?", arguments: [target])
                    let targetID = try IndexDatabase.insertMailbox(
                        db, name: target, uidValidity: IndexDatabase.nextUIDValidity(db), uidNext: state.uidNext,
                        highestModificationSequence: state.highestModificationSequence)
                    for path in moved {
                        try db.execute(
                            sql: "UPDATE messages SET mailbox = ? WHERE mailbox = ? AND base = ?",
                            arguments: [targetID, inboxID, MaildirFileName.base(of: path)])
                    }
                    state.highestModificationSequence += 1
                    try state.update(db)
                }
            }
            cache.forget(accountDirectory)
            cache.forget(targetDirectory)
            try? inbox.reconcileIfLoaded()
        }
    }

    // MARK: - SUBSCRIBE

    public func setSubscribed(account: MailAddress, mailbox: String, subscribed: Bool) async throws(StoreError) {
        let name = try Self.validName(mailbox, else: subscribed ? .permissionDenied : .notFound)
        let accountDirectory = accountDirectory(account)
        try await onAccountQueue(accountDirectory) { () throws(StoreError) in
            try Self.makeInbox(accountDirectory)
            try self.indexes.with(accountDirectory) { database throws(StoreError) in
                try IndexDatabase.write(database) { db in
                    try IndexDatabase.setSubscribed(db, name: name, subscribed: subscribed)
                }
            }
        }
    }

    // MARK: - APPEND and COPY

    public func append(account: MailAddress, mailbox: String, messages: [NewMessage]) async throws(StoreError)
        -> StoredUIDs
    {
        let name = try Self.validName(mailbox, else: .notFound)
        for message in messages { try Self.checkKeywords(message.keywords) }
        let (host, processID) = (fileNameHost, self.processID)
        let (folder, result) = try await withFolder(account: account, name: name) { folder throws(StoreError) in
            try folder.append(messages, host: host, processID: processID)
        }
        release(folder)
        if !result.uids.isEmpty { notifier?.post(account: account.canonical) }
        return result
    }

    /// COPY from an open folder into mailbox `mailbox` of the same account (which may be
    /// the same folder): what to copy is read on the source's queue, the files and rows
    /// are made on the destination's.
    func copy(from source: MaildirFolder, uids: [UInt32], account: MailAddress, to mailbox: String)
        async throws(StoreError) -> StoredUIDs
    {
        let name = try Self.validName(mailbox, else: .notFound)
        let (sourceDirectory, sources) = try await source.run {
            () throws(StoreError) -> (directory: String, sources: [MaildirFolder.CopySource]) in
            source.copySources(uids)
        }
        let (host, processID) = (fileNameHost, self.processID)
        let (destination, result) = try await withFolder(account: account, name: name) { destination throws(StoreError) in
            try destination.insertCopies(sources, from: sourceDirectory, host: host, processID: processID)
        }
        release(destination)
        return result
    }

    // MARK: - Helpers

    /// The shared folder of `directory`; the caller releases it.
    func acquireFolder(directory: String, accountDirectory: String, name: String) -> MaildirFolder {
        folders.acquire(directory) {
            MaildirFolder(
                accountDirectory: accountDirectory, directory: directory, name: name, cache: cache, indexes: indexes)
        }
    }

    /// Runs a structure change of the account whose Maildir is `accountDirectory` (or,
    /// with `readsOnly`, LIST's read of it). After a change the account's
    /// `AccountStructureCache` entry is dropped, on the same queue, so the next LIST reads
    /// the index again.
    private func onAccountQueue<T: Sendable>(
        _ accountDirectory: String, readsOnly: Bool = false, _ body: @escaping @Sendable () throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        var hasher = Hasher()
        hasher.combine(accountDirectory)
        let index = Int(UInt(bitPattern: hasher.finalize()) % UInt(structureQueues.count))
        let structures = self.structures
        return try await onQueue(structureQueues[index]) { () throws(StoreError) -> T in
            defer { if !readsOnly { structures.forget(accountDirectory) } }
            return try body()
        }
    }

    /// Runs `body` while every folder of `folders` is held: each one's queue runs our
    /// block, so none of its work runs meanwhile.
    static func holding<T>(_ folders: [MaildirFolder], _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        var seen = Set<ObjectIdentifier>()
        let distinct = folders.filter { seen.insert(ObjectIdentifier($0)).inserted }
        return try holding(distinct[...], body)
    }

    private static func holding<T>(
        _ folders: ArraySlice<MaildirFolder>, _ body: () throws(StoreError) -> T
    ) throws(StoreError) -> T {
        guard let first = folders.first else { return try body() }
        let result: Result<T, StoreError> = first.queue.sync {
            Result { () throws(StoreError) -> T in try holding(folders.dropFirst(), body) }
        }
        return try result.get()
    }

    /// INBOX: the account's Maildir, made on demand (as for an account without mail).
    static func makeInbox(_ accountDirectory: String) throws(StoreError) {
        try disk { () throws(DiskIOError) in
            for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(accountDirectory + subdirectory) }
        }
    }

    /// A Maildir++ folder: `new/`, `tmp/`, the `maildirfolder` marker, and `cur/` last —
    /// a folder is what has `cur/`, so a crash half-way leaves no folder (and the next
    /// CREATE finishes the job). Each new directory is fsynced into its parent. Nothing
    /// is made through a symbolic link: one in the way (the folder, or one of its
    /// subdirectories) is `.alreadyExists`.
    static func makeFolder(_ directory: String) throws(StoreError) {
        for path in [directory, directory + "/new", directory + "/tmp", directory + "/cur"]
        where exists(path) && !MaildirFolder.isDirectory(path) {
            throw StoreError(.alreadyExists, "\(path) is in the way: not a directory")
        }
        try disk { () throws(DiskIOError) in
            try DiskIO.makeDirectory(directory + "/new")
            try DiskIO.makeDirectory(directory + "/tmp")
            do throws(DiskIOError) {
                try DiskIO.writeNewFile(directory + "/maildirfolder", [])
            } catch where error.code == EEXIST {}
            try DiskIO.makeDirectory(directory + "/cur")
        }
    }

    /// Whether anything exists at `path` (not following a symbolic link).
    static func exists(_ path: String) -> Bool {
        var information = stat()
        return lstat(path, &information) == 0
    }

    /// The entries of the account directory whose names start with "." (not "." or "..").
    static func dotEntries(_ accountDirectory: String) throws(DiskIOError) -> [String] {
        guard let stream = opendir(accountDirectory) else { throw DiskIOError("opendir", accountDirectory, errno) }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.utf8.first == UInt8(ascii: "."), name != ".", name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a directory tree, best effort: files and symbolic links are unlinked (never
    /// followed — also when `path` itself is one), directories emptied and removed. Each
    /// level is opened with O_NOFOLLOW and worked on relative to its descriptor, so a
    /// directory swapped for a link meanwhile is not descended into either. Deeper than
    /// Maildir ever nests, it gives up and leaves the rest (the next DELETE tries again).
    static func removeTree(_ path: String) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else {
            // A symbolic link or a file: the entry itself goes.
            if errno == ELOOP || errno == ENOTDIR { _ = unlink(path) }
            return
        }
        removeContents(of: descriptor, depth: 0)
        _ = rmdir(path)
    }

    /// Empties the directory open as `descriptor`, and closes it.
    private static func removeContents(of descriptor: Int32, depth: Int) {
        guard let stream = fdopendir(descriptor) else {
            _ = close(descriptor)
            return
        }
        defer { closedir(stream) }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(stream) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var information = stat()
                isDirectory = fstatat(descriptor, name, &information, AT_SYMLINK_NOFOLLOW) == 0
                    && (information.st_mode & S_IFMT) == S_IFDIR
            }
            entries.append((name, isDirectory))
        }
        for entry in entries {
            guard entry.isDirectory, depth < 8 else {
                _ = unlinkat(descriptor, entry.name, 0)
                continue
            }
            let child = openat(descriptor, entry.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child >= 0 {
                removeContents(of: child, depth: depth + 1)
                _ = unlinkat(descriptor, entry.name, AT_REMOVEDIR)
            } else if errno == ELOOP || errno == ENOTDIR {
                _ = unlinkat(descriptor, entry.name, 0)  // swapped for a link or a file meanwhile
            }
        }
    }
}
