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
        return try await onAccountQueue(accountDirectory) { () throws(StoreError) -> [MailboxInfo] in
            try Self.makeInbox(accountDirectory)
            return try Self.withIndex(accountDirectory) { database throws(StoreError) -> [MailboxInfo] in
                if try !IndexDatabase.read(database, { try IndexDatabase.isInitialised($0) }) {
                    try self.makeDefaultMailboxes(accountDirectory, database)
                }
                let names = try self.folderNames(accountDirectory)
                let (uses, subscriptions) = try IndexDatabase.read(database) { db in
                    (try IndexDatabase.specialUses(db), try IndexDatabase.subscriptions(db))
                }
                return (["INBOX"] + names.sorted()).map {
                    MailboxInfo(name: $0, specialUse: uses[$0], isSubscribed: subscriptions.contains($0))
                }
            }
        }
    }

    /// The first LIST of an account: `MailboxNaming.defaultMailboxes` with their special
    /// use, subscribed with INBOX (Dovecot's `auto = subscribe`). Existing folders of
    /// those names (a Maildir Dovecot kept) are kept as they are. Only once: a default
    /// mailbox the user deletes stays deleted.
    private func makeDefaultMailboxes(_ accountDirectory: String, _ database: DatabaseQueue) throws(StoreError) {
        for (name, _) in MailboxNaming.defaultMailboxes {
            try Self.makeFolder(directory(of: name, in: accountDirectory))
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
    private func folderNames(_ accountDirectory: String) throws(StoreError) -> [String] {
        try disk { () throws(DiskIOError) in try Self.dotEntries(accountDirectory) }.compactMap { entry in
            guard let name = MaildirFolderName.mailboxName(forDirectory: entry),
                MaildirFolder.isFolder(accountDirectory + "/" + entry)
            else { return nil }
            return name
        }
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
            try Self.withIndex(accountDirectory) { database throws(StoreError) in
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
            defer { self.folders.release(folder) }
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
                _ = try? Self.withIndex(accountDirectory) { database throws(StoreError) in
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
        // Every folder involved, held while the directories move: the sources (which
        // sessions may have open) and the targets (stale or half-made entries nobody can
        // have open, since their directories do not exist).
        var sources: [(folder: MaildirFolder, place: MaildirFolder.Place)] = []
        var targets: [MaildirFolder] = []
        for move in moves {
            let oldName = MaildirFolderName.mailboxName(forDirectory: move.from) ?? move.from
            let newName = MaildirFolderName.mailboxName(forDirectory: move.to) ?? move.to
            sources.append(
                (
                    acquireFolder(directory: accountDirectory + "/" + move.from, accountDirectory: accountDirectory, name: oldName),
                    MaildirFolder.Place(directory: accountDirectory + "/" + move.to, name: newName)
                ))
            targets.append(acquireFolder(directory: accountDirectory + "/" + move.to, accountDirectory: accountDirectory, name: newName))
        }
        defer {
            for folder in sources.map(\.folder) + targets { folders.release(folder) }
        }
        try Self.holding(sources.map(\.folder) + targets) { () throws(StoreError) in
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
                try Self.withIndex(accountDirectory) { database throws(StoreError) in
                    try IndexDatabase.write(database) { db in
                        for table in ["mailboxes", "special_use", "subscriptions"] {
                            try IndexDatabase.renameHierarchy(db, table: table, from: source, to: target)
                        }
                    }
                }
            } catch {
                undo()
                throw error
            }
            for folder in targets {
                folder.markDeleted()
                folders.remove(folder)
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
        try makeParents(of: target, in: accountDirectory)
        try Self.makeFolder(targetDirectory)
        let inbox = acquireFolder(directory: accountDirectory, accountDirectory: accountDirectory, name: "INBOX")
        let destination = acquireFolder(directory: targetDirectory, accountDirectory: accountDirectory, name: target)
        defer {
            folders.release(inbox)
            folders.release(destination)
        }
        try Self.holding([inbox, destination]) { () throws(StoreError) in
            // Whatever was known of the target (a stale state) starts again.
            destination.markDeleted()
            folders.remove(destination)
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
            _ = try? Self.withIndex(accountDirectory) { database throws(StoreError) in
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
            try Self.withIndex(accountDirectory) { database throws(StoreError) in
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
        let folder = acquireFolder(account: account, name: name)
        defer { folders.release(folder) }
        let (host, processID) = (fileNameHost, self.processID)
        let result = try await folder.run { () throws(StoreError) -> StoredUIDs in
            try folder.append(messages, host: host, processID: processID)
        }
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
        let destination = acquireFolder(account: account, name: name)
        defer { folders.release(destination) }
        let (sourceDirectory, sources) = try await source.run {
            () throws(StoreError) -> (directory: String, sources: [MaildirFolder.CopySource]) in
            source.copySources(uids)
        }
        let (host, processID) = (fileNameHost, self.processID)
        return try await destination.run { () throws(StoreError) -> StoredUIDs in
            try destination.insertCopies(sources, from: sourceDirectory, host: host, processID: processID)
        }
    }

    // MARK: - Helpers

    /// The shared folder of `directory`; the caller releases it.
    func acquireFolder(directory: String, accountDirectory: String, name: String) -> MaildirFolder {
        folders.acquire(directory) {
            MaildirFolder(accountDirectory: accountDirectory, directory: directory, name: name, cache: cache)
        }
    }

    /// Runs a structure change of the account whose Maildir is `accountDirectory`.
    private func onAccountQueue<T: Sendable>(
        _ accountDirectory: String, _ body: @escaping @Sendable () throws(StoreError) -> T
    ) async throws(StoreError) -> T {
        var hasher = Hasher()
        hasher.combine(accountDirectory)
        let index = Int(UInt(bitPattern: hasher.finalize()) % UInt(structureQueues.count))
        return try await onQueue(structureQueues[index], body)
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

    /// The account's index, open for the length of `body`.
    static func withIndex<T>(
        _ accountDirectory: String, _ body: (DatabaseQueue) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        let database = try IndexDatabase.open(path: accountDirectory + "/" + IndexDatabase.fileName)
        defer { try? database.close() }
        return try body(database)
    }

    /// INBOX: the account's Maildir, made on demand (as for an account without mail).
    static func makeInbox(_ accountDirectory: String) throws(StoreError) {
        try disk { () throws(DiskIOError) in
            for subdirectory in ["", "/cur", "/new", "/tmp"] { try DiskIO.makeDirectory(accountDirectory + subdirectory) }
        }
    }

    /// A Maildir++ folder: `new/`, `tmp/`, the `maildirfolder` marker, and `cur/` last —
    /// a folder is what has `cur/`, so a crash half-way leaves no folder (and the next
    /// CREATE finishes the job). Each new directory is fsynced into its parent.
    static func makeFolder(_ directory: String) throws(StoreError) {
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
    /// followed), directories emptied and removed. Deeper than Maildir ever nests, it
    /// gives up and leaves the rest (the next DELETE tries again).
    static func removeTree(_ path: String, depth: Int = 0) {
        guard depth < 8, let stream = opendir(path) else {
            _ = rmdir(path)
            return
        }
        var entries: [(name: String, isDirectory: Bool)] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            var isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            if entry.pointee.d_type == UInt8(DT_UNKNOWN) {
                var information = stat()
                isDirectory = lstat(path + "/" + name, &information) == 0 && (information.st_mode & S_IFMT) == S_IFDIR
            }
            entries.append((name, isDirectory))
        }
        closedir(stream)
        for entry in entries {
            if entry.isDirectory {
                removeTree(path + "/" + entry.name, depth: depth + 1)
            } else {
                _ = unlink(path + "/" + entry.name)
            }
        }
        _ = rmdir(path)
    }
}
