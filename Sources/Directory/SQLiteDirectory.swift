import Foundation
import GRDB
public import MailCore

/// The embedded user database: domains, accounts and aliases in SQLite (WAL) at
/// `<data>/directory.sqlite`.
///
/// The CLI (`tsubame user add …`) and a running server open the same file; every
/// lookup reads the database, so changes take effect at once, without a restart or a
/// `postmap`. WAL lets readers run while the CLI writes; a busy timeout covers the
/// moment of a write.
public final class SQLiteDirectory: AccountDirectory {
    /// How deep alias chains are followed (Postfix's limit for virtual alias nesting
    /// is 100; a loop is cut at this depth and that branch dropped).
    public static let maximumAliasDepth = 20
    /// Alias expansion fan-out bound (Postfix `virtual_alias_expansion_limit`).
    public static let maximumExpansion = 1000

    private let pool: DatabasePool

    public init(path: String) throws(DirectoryError) {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        do {
            // Password hashes are secrets: the file is owner-only from its first byte,
            // and SQLite gives the -wal and -shm files the same mode.
            if !FileManager.default.fileExists(atPath: path) {
                FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
            }
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw DirectoryError(.storage, "cannot open the directory database \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE domains (
                        name TEXT PRIMARY KEY NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE TABLE accounts (
                        address TEXT PRIMARY KEY NOT NULL,
                        domain TEXT NOT NULL REFERENCES domains(name),
                        password TEXT NOT NULL,
                        created_at INTEGER NOT NULL
                    );
                    CREATE INDEX accounts_domain ON accounts(domain);
                    CREATE TABLE aliases (
                        source TEXT NOT NULL,
                        target TEXT NOT NULL,
                        PRIMARY KEY (source, target)
                    );
                    """)
        }
        return migrator
    }

    // MARK: - AccountDirectory

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        try await read { db in
            try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [domain.lowercased()])
                ?? false
        }
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login) else { return nil }
        return try await read { db in try Self.fetchAccount(db, address.canonical) }
    }

    public func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        try await read { db in try Self.resolve(db, recipient) }
    }

    public func logins() async throws(DirectoryError) -> [String]? {
        try await users().map(\.canonical)
    }

    // MARK: - Administration (the `tsubame domain|user|alias` commands)

    public func addDomain(_ name: String) async throws(DirectoryError) {
        guard let domain = MailAddress.normalizedDomain(name) else {
            throw DirectoryError(.invalid, "'\(name)' is not a valid domain name")
        }
        try await write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [domain]) == true {
                throw DirectoryError(.alreadyExists, "domain \(domain) already exists")
            }
            try db.execute(
                sql: "INSERT INTO domains (name, created_at) VALUES (?, ?)", arguments: [domain, Self.now()])
        }
    }

    /// Removes a domain. Refused while accounts remain in it (remove them first, so
    /// that no mailbox is orphaned by accident); its aliases go with it.
    public func removeDomain(_ name: String) async throws(DirectoryError) {
        let domain = name.lowercased()
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [domain]) == true
            else { throw DirectoryError(.notFound, "no domain \(domain)") }
            let users = try Int.fetchOne(db, sql: "SELECT count(*) FROM accounts WHERE domain = ?", arguments: [domain]) ?? 0
            if users > 0 {
                throw DirectoryError(.inUse, "domain \(domain) still has \(users) user(s); remove them first")
            }
            try db.execute(
                sql: "DELETE FROM aliases WHERE source = ? OR source LIKE ? ESCAPE '\\'",
                arguments: ["@" + domain, "%@" + Self.escapeLike(domain)])
            try db.execute(sql: "DELETE FROM domains WHERE name = ?", arguments: [domain])
        }
    }

    public func domains() async throws(DirectoryError) -> [String] {
        try await read { db in try String.fetchAll(db, sql: "SELECT name FROM domains ORDER BY name") }
    }

    public func addUser(_ address: MailAddress, passwordHash: PasswordHash) async throws(DirectoryError) {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [address.domain]) == true
            else {
                throw DirectoryError(.notFound, "domain \(address.domain) is not local; add it with 'tsubame domain add'")
            }
            if try Self.fetchAccount(db, address.canonical) != nil {
                throw DirectoryError(.alreadyExists, "user \(address.canonical) already exists")
            }
            try db.execute(
                sql: "INSERT INTO accounts (address, domain, password, created_at) VALUES (?, ?, ?, ?)",
                arguments: [address.canonical, address.domain, passwordHash.stored, Self.now()])
        }
    }

    public func removeUser(_ address: MailAddress) async throws(DirectoryError) {
        try await write { db in
            try db.execute(sql: "DELETE FROM accounts WHERE address = ?", arguments: [address.canonical])
            if db.changesCount == 0 { throw DirectoryError(.notFound, "no user \(address.canonical)") }
        }
    }

    public func setPassword(_ address: MailAddress, passwordHash: PasswordHash) async throws(DirectoryError) {
        try await write { db in
            try db.execute(
                sql: "UPDATE accounts SET password = ? WHERE address = ?",
                arguments: [passwordHash.stored, address.canonical])
            if db.changesCount == 0 { throw DirectoryError(.notFound, "no user \(address.canonical)") }
        }
    }

    /// Accounts, optionally of one domain, sorted.
    public func users(domain: String? = nil) async throws(DirectoryError) -> [MailAddress] {
        try await read { db in
            let rows: [String]
            if let domain {
                rows = try String.fetchAll(
                    db, sql: "SELECT address FROM accounts WHERE domain = ? ORDER BY address",
                    arguments: [domain.lowercased()])
            } else {
                rows = try String.fetchAll(db, sql: "SELECT address FROM accounts ORDER BY domain, address")
            }
            return rows.compactMap(MailAddress.init)
        }
    }

    /// Adds `source → targets`. `source` is an address in a local domain, or
    /// `@domain` for a catch-all. Targets are any valid addresses (local or remote).
    public func addAlias(_ source: String, targets: [MailAddress]) async throws(DirectoryError) {
        let key = try Self.aliasKey(source)
        guard !targets.isEmpty else { throw DirectoryError(.invalid, "an alias needs at least one target") }
        try await write { db in
            let domain = String(key[key.index(after: key.lastIndex(of: "@") ?? key.startIndex)...])
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [domain]) == true else {
                throw DirectoryError(.notFound, "domain \(domain) is not local; add it with 'tsubame domain add'")
            }
            for target in targets {
                try db.execute(
                    sql: "INSERT OR IGNORE INTO aliases (source, target) VALUES (?, ?)",
                    arguments: [key, target.canonical])
            }
        }
    }

    /// Removes the given targets of `source`, or all of them when `targets` is empty.
    public func removeAlias(_ source: String, targets: [MailAddress]) async throws(DirectoryError) {
        let key = try Self.aliasKey(source)
        try await write { db in
            if targets.isEmpty {
                try db.execute(sql: "DELETE FROM aliases WHERE source = ?", arguments: [key])
                if db.changesCount == 0 { throw DirectoryError(.notFound, "no alias \(key)") }
            } else {
                for target in targets {
                    try db.execute(
                        sql: "DELETE FROM aliases WHERE source = ? AND target = ?", arguments: [key, target.canonical])
                    if db.changesCount == 0 { throw DirectoryError(.notFound, "no alias \(key) → \(target.canonical)") }
                }
            }
        }
    }

    /// All aliases, or those whose source is `source`, as (source, target) pairs.
    public func aliases(source: String? = nil) async throws(DirectoryError) -> [(source: String, target: String)] {
        let key = try source.map { (source) throws(DirectoryError) in try Self.aliasKey(source) }
        return try await read { db in
            let rows: [Row]
            if let key {
                rows = try Row.fetchAll(
                    db, sql: "SELECT source, target FROM aliases WHERE source = ? ORDER BY target", arguments: [key])
            } else {
                rows = try Row.fetchAll(db, sql: "SELECT source, target FROM aliases ORDER BY source, target")
            }
            return rows.map { (source: $0["source"], target: $0["target"]) }
        }
    }

    // MARK: - Resolution

    /// Postfix order: an alias for the exact address wins; then the account; then the
    /// address without its `+tag` (alias, then account); then the domain's catch-all.
    private static func resolve(_ db: Database, _ recipient: MailAddress) throws -> RecipientResolution {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [recipient.domain]) == true
        else { return .notLocalDomain }
        var local: [MailAddress] = []
        var forward: [MailAddress] = []
        var seen: Set<String> = []
        try expand(db, recipient, depth: 0, local: &local, forward: &forward, seen: &seen)
        if local.isEmpty && forward.isEmpty { return .unknownUser }
        return .deliver(local: local, forward: forward)
    }

    private static func expand(
        _ db: Database, _ address: MailAddress, depth: Int,
        local: inout [MailAddress], forward: inout [MailAddress], seen: inout Set<String>
    ) throws {
        let key = address.canonical
        guard depth <= maximumAliasDepth, seen.count < maximumExpansion, seen.insert(key).inserted else { return }
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM domains WHERE name = ?", arguments: [address.domain]) == true
        else {
            forward.append(address)
            return
        }
        for candidate in candidates(for: address) {
            let targets = try String.fetchAll(db, sql: "SELECT target FROM aliases WHERE source = ?", arguments: [candidate])
            if !targets.isEmpty {
                for target in targets.compactMap(MailAddress.init) {
                    if target.canonical == candidate, try fetchAccount(db, candidate) != nil {
                        // `user → user, other` keeps a copy for user (Postfix idiom).
                        if !local.contains(target) { local.append(target) }
                    } else {
                        try expand(db, target, depth: depth + 1, local: &local, forward: &forward, seen: &seen)
                    }
                }
                return
            }
            if !candidate.hasPrefix("@"), let account = try fetchAccount(db, candidate) {
                if !local.contains(account.address) { local.append(account.address) }
                return
            }
        }
    }

    /// Lookup keys in order: exact, without `+tag`, catch-all.
    private static func candidates(for address: MailAddress) -> [String] {
        [address.canonical] + (address.withoutDetail.map { [$0] } ?? []) + ["@" + address.domain]
    }

    private static func fetchAccount(_ db: Database, _ canonical: String) throws -> Account? {
        guard let row = try Row.fetchOne(db, sql: "SELECT address, password FROM accounts WHERE address = ?", arguments: [canonical]),
            let address = MailAddress(row["address"] as String)
        else { return nil }
        // An unreadable stored hash never matches: it becomes a scheme nothing verifies.
        let stored: String = row["password"]
        let hash = (try? PasswordHash(parsing: stored)) ?? PasswordHash(scheme: .init(algorithm: .crypt), encoded: "*")
        return Account(address: address, passwordHash: hash)
    }

    private static func aliasKey(_ source: String) throws(DirectoryError) -> String {
        if source.hasPrefix("@") {
            guard let domain = MailAddress.normalizedDomain(String(source.dropFirst())) else {
                throw DirectoryError(.invalid, "'\(source)' is not a valid catch-all (@domain)")
            }
            return "@" + domain
        }
        guard let address = MailAddress(source) else {
            throw DirectoryError(.invalid, "'\(source)' is not a valid address")
        }
        return address.canonical
    }

    private static func escapeLike(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    private static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    // MARK: - Database access with typed errors

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(DirectoryError) -> T {
        do {
            return try await pool.read(body)
        } catch let error as DirectoryError {
            throw error
        } catch {
            throw DirectoryError(.storage, "directory database read failed: \(error)")
        }
    }

    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(DirectoryError) -> T {
        do {
            return try await pool.write(body)
        } catch let error as DirectoryError {
            throw error
        } catch {
            throw DirectoryError(.storage, "directory database write failed: \(error)")
        }
    }
}
