import DurableFiles
import Foundation
import GRDB
import MailStore

/// The per-account SQLite index of an account's Maildir folders (schema, rows, Dovecot
/// adoption, special use, subscriptions). Every function here runs on a folder's or the
/// account's store queue, never on the caller's thread.
enum IndexDatabase {
    static let fileName = "tsubame-index.sqlite"

    static func open(path: String) throws(StoreError) -> DatabaseQueue {
        do {
            // 0600 from the start (WAL and SHM files take the database's mode).
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            configuration.prepareDatabase { db in
                // WAL with synchronous=FULL: a committed flag change or expunge survives
                // a power loss, like the files it describes.
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            let database = try DatabaseQueue(path: path, configuration: configuration)
            try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try migrator.migrate(database)
            return database
        } catch {
            throw StoreError(.temporary, "index \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE mailboxes (
                        id INTEGER PRIMARY KEY,
                        name TEXT NOT NULL UNIQUE,
                        uidvalidity INTEGER NOT NULL,
                        uidnext INTEGER NOT NULL,
                        highestmodseq INTEGER NOT NULL
                    );
                    CREATE TABLE messages (
                        mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
                        uid INTEGER NOT NULL,
                        base TEXT NOT NULL,
                        file TEXT NOT NULL,
                        size INTEGER NOT NULL,
                        internaldate INTEGER NOT NULL,
                        flags INTEGER NOT NULL,
                        keywords TEXT NOT NULL DEFAULT '',
                        modseq INTEGER NOT NULL,
                        PRIMARY KEY (mailbox, uid)
                    ) WITHOUT ROWID;
                    CREATE UNIQUE INDEX messages_base ON messages(mailbox, base);
                    """)
        }
        migrator.registerMigration("v2") { db in
            // UIDs adopted from Dovecot's dovecot-uidlist, kept with the mailbox row they
            // came with (one transaction), so a crash before the first scan loses none.
            try db.execute(
                sql: """
                    CREATE TABLE adopted_uids (
                        mailbox INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
                        base TEXT NOT NULL,
                        uid INTEGER NOT NULL,
                        PRIMARY KEY (mailbox, base)
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v3") { db in
            // The folder side (IMAP): whether the default mailboxes were made, the last
            // UIDVALIDITY handed out (a new mailbox's must be higher than any earlier
            // mailbox of that name had: RFC 9051 §2.3.1.1), special use and
            // subscriptions by mailbox name (a subscription may name a mailbox that does
            // not exist, RFC 9051 §6.3.7, so neither refers to `mailboxes`).
            try db.execute(
                sql: """
                    CREATE TABLE account_state (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        initialised INTEGER NOT NULL DEFAULT 0,
                        last_uidvalidity INTEGER NOT NULL DEFAULT 0
                    );
                    INSERT INTO account_state (id, initialised, last_uidvalidity)
                        SELECT 1, 0, COALESCE(MAX(uidvalidity), 0) FROM mailboxes;
                    CREATE TABLE special_use (
                        name TEXT PRIMARY KEY,
                        attribute TEXT NOT NULL
                    ) WITHOUT ROWID;
                    CREATE TABLE subscriptions (
                        name TEXT PRIMARY KEY
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v4") { db in
            // Fields derived from a message's content (IMAP ENVELOPE, BODYSTRUCTURE, …,
            // as encoded), kept like Dovecot's cache file: they go with the message (and
            // follow it when INBOX's rows move to a renamed mailbox).
            try db.execute(
                sql: """
                    CREATE TABLE derived_fields (
                        mailbox INTEGER NOT NULL,
                        uid INTEGER NOT NULL,
                        name TEXT NOT NULL,
                        value BLOB NOT NULL,
                        PRIMARY KEY (mailbox, uid, name),
                        FOREIGN KEY (mailbox, uid) REFERENCES messages(mailbox, uid)
                            ON DELETE CASCADE ON UPDATE CASCADE
                    ) WITHOUT ROWID;
                    """)
        }
        migrator.registerMigration("v5") { db in
            // IMAP4rev1 \Recent across restarts: the lowest UID no session has been told
            // about yet (Dovecot's first_recent_uid). NULL for mailboxes from before: none
            // of their messages is recent after the upgrade.
            try db.execute(sql: "ALTER TABLE mailboxes ADD COLUMN first_recent_uid INTEGER")
        }
        return migrator
    }

    /// The mailbox's first recent UID, nil when none was ever recorded.
    static func firstRecentUID(_ db: Database, mailbox mailboxID: Int64) throws -> UInt32? {
        try Int64.fetchOne(db, sql: "SELECT first_recent_uid FROM mailboxes WHERE id = ?", arguments: [mailboxID])
            .map { UInt32(truncatingIfNeeded: $0) }
    }

    /// Raises the mailbox's first recent UID to `uid`. Not synced on its own, like the
    /// derived fields: losing it in a crash makes a few messages recent once more.
    static func raiseFirstRecentUID(
        _ database: DatabaseQueue, mailbox mailboxID: Int64, to uid: UInt32
    ) throws(StoreError) {
        do {
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
                try db.execute(
                    sql: "UPDATE mailboxes SET first_recent_uid = MAX(COALESCE(first_recent_uid, 0), ?) WHERE id = ?",
                    arguments: [Int64(uid), mailboxID])
            }
        } catch {
            throw StoreError(.temporary, "index: \(error)")
        }
    }

    /// The derived fields of `uids` in mailbox `mailboxID`.
    static func derivedFields(_ db: Database, mailbox mailboxID: Int64, uids: [UInt32]) throws -> [UInt32: [String: [UInt8]]] {
        var result: [UInt32: [String: [UInt8]]] = [:]
        for chunk in stride(from: 0, to: uids.count, by: 500).map({ uids[$0..<min($0 + 500, uids.count)] }) {
            let placeholders = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            var arguments: [any DatabaseValueConvertible] = [mailboxID]
            arguments += chunk.map { Int64($0) }
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, name, value FROM derived_fields WHERE mailbox = ? AND uid IN (\(placeholders))",
                arguments: StatementArguments(arguments))
            while let row = try rows.next() {
                let uid = UInt32(truncatingIfNeeded: row[0] as Int64)
                let value: Data = row[2]
                result[uid, default: [:]][row[1]] = [UInt8](value)
            }
        }
        return result
    }

    /// Derived fields kept per message (IMAP keeps up to 11: three kinds of structure in
    /// two encodings, four header field sets, the header section for SEARCH).
    static let maximumDerivedFields = 16

    /// Keeps derived fields of messages that have rows in mailbox `mailboxID` (the caller
    /// checks), replacing what was there. Not synced on its own (`synchronous = NORMAL`
    /// for this one transaction: WAL stays consistent, and a later synced commit takes
    /// these pages along) — it is a cache, and fsync per FETCH batch would cost more
    /// than the parse it saves.
    static func keepDerivedFields(
        _ database: DatabaseQueue, mailbox mailboxID: Int64, _ fields: [UInt32: [String: [UInt8]]]
    ) throws(StoreError) {
        do {
            try database.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
                defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
                try db.inTransaction {
                    // At most `maximumDerivedFields` names per message, whatever a client asks.
                    let statement = try db.cachedStatement(
                        sql: """
                            INSERT OR REPLACE INTO derived_fields (mailbox, uid, name, value)
                            SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM derived_fields
                                WHERE mailbox = ?1 AND uid = ?2 AND name != ?3) < ?5
                            """)
                    for (uid, named) in fields {
                        for (name, value) in named {
                            try statement.execute(
                                arguments: [mailboxID, Int64(uid), name, Data(value), maximumDerivedFields])
                        }
                    }
                    return .commit
                }
            }
        } catch {
            throw StoreError(.temporary, "index: \(error)")
        }
    }

    /// A read; errors become `StoreError`s.
    static func read<T>(_ database: DatabaseQueue, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.read(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.temporary, "index: \(error)")
        }
    }

    /// A write transaction; errors become `StoreError`s.
    static func write<T>(_ database: DatabaseQueue, _ body: (Database) throws -> T) throws(StoreError) -> T {
        do {
            return try database.write(body)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(.temporary, "index: \(error)")
        }
    }

    /// The id and UIDVALIDITY of mailbox `name`, created on first use — adopting
    /// Dovecot's `dovecot-uidlist` in `directory` when there is one: its UIDVALIDITY, and
    /// its UIDs in `adopted_uids`, in the same transaction.
    static func mailbox(
        named name: String, in database: DatabaseQueue, adopting directory: String
    ) throws(StoreError) -> (id: Int64, uidValidity: UInt32) {
        try write(database) { db in try mailbox(named: name, in: db, adopting: directory) }
    }

    /// `mailbox(named:in:adopting:)` inside a transaction.
    static func mailbox(named name: String, in db: Database, adopting directory: String) throws -> (
        id: Int64, uidValidity: UInt32
    ) {
        if let row = try Row.fetchOne(db, sql: "SELECT id, uidvalidity FROM mailboxes WHERE name = ?", arguments: [name]) {
            return (row[0], UInt32(truncatingIfNeeded: row[1] as Int64))
        }
        let uidlist = DovecotUIDList.read(directory + "/dovecot-uidlist")
        let uidValidity = try uidlist.map { try noteUIDValidity(db, $0.uidValidity) } ?? nextUIDValidity(db)
        let highestAdopted = uidlist?.uids.values.max() ?? 0
        let uidNext = max(uidlist?.nextUID ?? 1, highestAdopted + 1, 1)
        let id = try insertMailbox(db, name: name, uidValidity: uidValidity, uidNext: uidNext)
        for (base, uid) in uidlist?.uids ?? [:] {
            try db.execute(
                sql: "INSERT INTO adopted_uids (mailbox, base, uid) VALUES (?, ?, ?)",
                arguments: [id, base, Int64(uid)])
        }
        return (id, uidValidity)
    }

    /// Inserts a mailbox row; returns its id.
    static func insertMailbox(
        _ db: Database, name: String, uidValidity: UInt32, uidNext: UInt32, highestModificationSequence: UInt64 = 1
    ) throws -> Int64 {
        try db.execute(
            // A new mailbox row: every message in it (delivered before anyone opened it)
            // is news to the first session.
            sql: "INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, first_recent_uid) VALUES (?, ?, ?, ?, 1)",
            arguments: [name, Int64(uidValidity), Int64(uidNext), Int64(highestModificationSequence)])
        return db.lastInsertedRowID
    }

    /// A UIDVALIDITY for a new mailbox: the time in seconds, as Dovecot uses, but always
    /// higher than any this account's index handed out before, so that a mailbox made
    /// again under an earlier name never repeats its UIDVALIDITY (RFC 9051 §2.3.1.1).
    static func nextUIDValidity(_ db: Database) throws -> UInt32 {
        let last = try Int64.fetchOne(db, sql: "SELECT last_uidvalidity FROM account_state WHERE id = 1") ?? 0
        let now = Int64(Date().timeIntervalSince1970)
        // UIDVALIDITY is a non-zero 32-bit number; past 2^32 - 1 (in 2106, or after
        // billions of mailboxes) the index has to be moved away.
        let next = max(now, last + 1, 1)
        guard next < Int64(UInt32.max) else {
            throw StoreError(.limitExceeded, "UIDVALIDITY values exhausted; move the index away")
        }
        return try noteUIDValidity(db, UInt32(next))
    }

    /// Records `value` as handed out (adopted from Dovecot, or new); returns it.
    @discardableResult
    static func noteUIDValidity(_ db: Database, _ value: UInt32) throws -> UInt32 {
        try db.execute(
            sql: """
                INSERT INTO account_state (id, last_uidvalidity) VALUES (1, ?)
                ON CONFLICT (id) DO UPDATE SET last_uidvalidity = MAX(last_uidvalidity, excluded.last_uidvalidity)
                """, arguments: [Int64(value)])
        return value
    }

    /// The row of mailbox `name`, if the index has one.
    static func mailboxRow(_ db: Database, named name: String) throws -> MailboxRow? {
        guard let id = try Int64.fetchOne(db, sql: "SELECT id FROM mailboxes WHERE name = ?", arguments: [name]) else {
            return nil
        }
        return try MailboxRow.fetch(db, id: id)
    }

    /// Whether `mailboxes(account:)` has made the default mailboxes for this account.
    static func isInitialised(_ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT initialised FROM account_state WHERE id = 1") ?? false
    }

    static func markInitialised(_ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO account_state (id, initialised) VALUES (1, 1)
                ON CONFLICT (id) DO UPDATE SET initialised = 1
                """)
    }

    /// Special use by mailbox name.
    static func specialUses(_ db: Database) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT name, attribute FROM special_use") {
            result[row[0]] = row[1]
        }
        return result
    }

    static func setSpecialUse(_ db: Database, name: String, attribute: String?) throws {
        try db.execute(sql: "DELETE FROM special_use WHERE name = ?", arguments: [name])
        if let attribute {
            try db.execute(sql: "INSERT INTO special_use (name, attribute) VALUES (?, ?)", arguments: [name, attribute])
        }
    }

    /// The subscribed names (octet-distinct: names that differ only in Unicode
    /// normalization are different names).
    static func subscriptions(_ db: Database) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT name FROM subscriptions")
    }

    static func setSubscribed(_ db: Database, name: String, subscribed: Bool) throws {
        if subscribed {
            try db.execute(sql: "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)", arguments: [name])
        } else {
            try db.execute(sql: "DELETE FROM subscriptions WHERE name = ?", arguments: [name])
        }
    }

    /// RENAME in a table keyed by mailbox name (`mailboxes`, `special_use`,
    /// `subscriptions`): `source` and every name under it move under `target`; rows
    /// already there under a new name give way (stale rows of mailboxes whose
    /// directories are gone; in `mailboxes` their messages go with them).
    static func renameHierarchy(_ db: Database, table: String, from source: String, to target: String) throws {
        let prefix = source + String(MailboxNaming.separator)
        let names = try String.fetchAll(db, sql: "SELECT name FROM \(table)")
        let mapping = names.filter { $0.utf8.elementsEqual(source.utf8) || MaildirFolderName.hasPrefix($0, prefix) }.map {
            (old: $0, new: MaildirFolderName.replacingPrefix(source, of: $0, with: target))
        }
        let old = Set(mapping.map(\.old))
        for (_, new) in mapping where !old.contains(new) {
            try db.execute(sql: "DELETE FROM \(table) WHERE name = ?", arguments: [new])
        }
        // Through names no mailbox can have (control characters), so that no UNIQUE
        // constraint sees two rows with one name half-way.
        for (index, entry) in mapping.enumerated() {
            try db.execute(sql: "UPDATE \(table) SET name = ? WHERE name = ?", arguments: ["\u{1}\(index)", entry.old])
        }
        for (index, entry) in mapping.enumerated() {
            try db.execute(sql: "UPDATE \(table) SET name = ? WHERE name = ?", arguments: [entry.new, "\u{1}\(index)"])
        }
    }

    /// The UIDs Dovecot gave the files of an adopted mailbox, by base; empty once the
    /// first scan has used them (`forgetAdoptedUIDs`).
    static func adoptedUIDs(_ db: Database, mailbox: Int64) throws -> [String: UInt32] {
        var uids: [String: UInt32] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT base, uid FROM adopted_uids WHERE mailbox = ?", arguments: [mailbox]) {
            uids[row[0]] = UInt32(truncatingIfNeeded: row[1] as Int64)
        }
        return uids
    }

    /// Adopted UIDs count for the files the first scan finds, and only then: a file that
    /// shows up later gets UIDNEXT, never a UID below those clients have seen since.
    static func forgetAdoptedUIDs(_ db: Database, mailbox: Int64) throws {
        try db.execute(sql: "DELETE FROM adopted_uids WHERE mailbox = ?", arguments: [mailbox])
    }

    struct MailboxRow {
        var id: Int64
        var uidValidity: UInt32
        var uidNext: UInt32
        var highestModificationSequence: UInt64

        static func fetch(_ db: Database, id: Int64) throws -> MailboxRow {
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE id = ?", arguments: [id])
            else { throw StoreError(.notFound, "mailbox \(id) vanished from the index") }
            return MailboxRow(
                id: id, uidValidity: UInt32(truncatingIfNeeded: row[0] as Int64),
                uidNext: UInt32(truncatingIfNeeded: row[1] as Int64),
                highestModificationSequence: UInt64(row[2] as Int64))
        }

        func update(_ db: Database) throws {
            try db.execute(
                sql: "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?",
                arguments: [Int64(uidNext), Int64(highestModificationSequence), id])
        }
    }

    struct MessageRow {
        var mailbox: Int64
        var uid: UInt32
        var base: String
        var file: String
        var size: Int64
        var internalDate: Int64
        var flags: Int
        var keywords: String
        var modificationSequence: Int64

        /// Every message row of `mailbox` in UID order, each passed to `body` as it is read
        /// (no array of rows: a mailbox may have hundreds of thousands).
        static func forEach(
            _ db: Database, mailbox: Int64,
            _ body: (_ uid: UInt32, _ file: String, _ summary: MessageSummary) throws -> Void
        ) throws {
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT uid, file, size, internaldate, flags, keywords, modseq
                    FROM messages WHERE mailbox = ? ORDER BY uid
                    """, arguments: [mailbox])
            while let row = try rows.next() {
                let uid = UInt32(truncatingIfNeeded: row[0] as Int64)
                let keywords: String = row[5]
                let summary = MessageSummary(
                    uid: uid, size: Int(row[2] as Int64), internalDate: row[3], flags: SystemFlags(rawValue: row[4]),
                    keywords: keywords.isEmpty ? [] : keywords.split(separator: " ").map(String.init),
                    modificationSequence: UInt64(row[6] as Int64))
                try body(uid, row[1], summary)
            }
        }

        static func delete(_ db: Database, mailbox: Int64, uid: UInt32) throws {
            try db.cachedStatement(sql: "DELETE FROM messages WHERE mailbox = ? AND uid = ?")
                .execute(arguments: [mailbox, Int64(uid)])
        }

        func insert(_ db: Database) throws {
            try db.cachedStatement(
                sql: """
                    INSERT INTO messages (mailbox, uid, base, file, size, internaldate, flags, keywords, modseq)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """
            ).execute(arguments: [
                mailbox, Int64(uid), base, file, size, internalDate, flags, keywords, modificationSequence,
            ])
        }

        /// A file another program renamed: its name, and its flags when the name changed them.
        static func update(
            _ db: Database, mailbox: Int64, uid: UInt32, file: String, flags: Int, modificationSequence: Int64
        ) throws {
            try db.cachedStatement(sql: "UPDATE messages SET file = ?, flags = ?, modseq = ? WHERE mailbox = ? AND uid = ?")
                .execute(arguments: [file, flags, modificationSequence, mailbox, Int64(uid)])
        }

        /// A file we moved (`new/` → `cur/`): its new name, if the row still has the old one.
        /// Flags and MODSEQ stay: where a file is is nothing a client sees.
        static func move(_ db: Database, mailbox: Int64, uid: UInt32, from old: String, to file: String) throws {
            try db.cachedStatement(sql: "UPDATE messages SET file = ? WHERE mailbox = ? AND uid = ? AND file = ?")
                .execute(arguments: [file, mailbox, Int64(uid), old])
        }
    }
}

/// Dovecot's `dovecot-uidlist` (version 3), read once when a Maildir is adopted:
///
///     3 V1700000000 N43 G3085f01b7f11094c501100008c4a11c1
///     1 :1700000000.M1P2.host,S=1234,W=1260
///     2 W1260 :1700000001.M3P4.host,S=1234
///
/// - SeeAlso: doc.dovecot.org "Maildir mailbox format", dovecot-uidlist
enum DovecotUIDList {
    struct Contents: Equatable {
        var uidValidity: UInt32
        var nextUID: UInt32
        var uids: [String: UInt32]
    }

    static func read(_ path: String) -> Contents? {
        guard let bytes = try? DiskIO.readWholeFile(path, followingSymbolicLinks: false) else { return nil }
        return parse(String(decoding: bytes, as: UTF8.self))
    }

    /// `nil` when the header is not version 3 with a UIDVALIDITY.
    static func parse(_ text: String) -> Contents? {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true)[...]
        guard let header = lines.popFirst() else { return nil }
        let fields = header.split(separator: " ")
        guard fields.first == "3" else { return nil }
        var validity: UInt32?
        var next: UInt32 = 1
        for field in fields.dropFirst() {
            if field.hasPrefix("V") { validity = UInt32(field.dropFirst()) }
            if field.hasPrefix("N") { next = UInt32(field.dropFirst()) ?? 1 }
        }
        guard let validity, validity > 0 else { return nil }
        var uids: [String: UInt32] = [:]
        // UIDs and UIDNEXT stay below 2^32 - 1, so that the next UID always fits.
        let largest = UInt32.max - 1
        next = min(next, largest)
        guard validity < UInt32.max else { return nil }
        for line in lines {
            guard let colon = line.firstIndex(of: ":"),
                let uid = UInt32(line.prefix(while: { $0 != " " && $0 != ":" })), uid > 0, uid < largest
            else { continue }
            let name = line[line.index(after: colon)...]
            let base = name.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
            if !base.isEmpty { uids[String(base)] = uid }
        }
        return Contents(uidValidity: validity, nextUID: next, uids: uids)
    }
}
