import Foundation
import MailCore
import Testing
@testable import Directory

/// A directory database in a fresh temporary folder, removed with this value.
final class ScratchDirectory: Sendable {
    let folder: URL
    let path: String
    let directory: SQLiteDirectory

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("tsubame-directory-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.path + "/directory.sqlite"
        directory = try SQLiteDirectory(path: path)
    }

    deinit { try? FileManager.default.removeItem(at: folder) }
}

@Suite("SQLite directory")
struct SQLiteDirectoryTests {
    let scratch: ScratchDirectory
    var directory: SQLiteDirectory { scratch.directory }

    init() throws {
        scratch = try ScratchDirectory()
    }

    /// SHA512-CRYPT keeps these tests fast; the scheme does not matter to the directory.
    static func hash(_ password: String) throws -> PasswordHash {
        try PasswordHash.make(password, algorithm: .sha512Crypt)
    }

    /// example.test is ours, with accounts alice and bob (password "secret");
    /// elsewhere.test is not.
    func addExampleDomain() async throws {
        try await directory.addDomain("example.test")
        for user in ["alice@example.test", "bob@example.test"] {
            try await directory.addUser(mailbox(user), passwordHash: Self.hash("secret"))
        }
    }

    func addAlias(_ source: String, _ targets: String...) async throws {
        try await directory.addAlias(source, targets: Self.addresses(targets))
    }

    /// Where mail for `recipient` goes, with targets sorted: alias targets come back in
    /// storage order, which the tests do not depend on.
    func resolve(_ recipient: String) async throws -> RecipientResolution {
        let resolution = try await directory.resolve(recipient: mailbox(recipient))
        guard case .deliver(let local, let forward) = resolution else { return resolution }
        return .deliver(local: Self.sorted(local), forward: Self.sorted(forward))
    }

    func deliver(_ local: [String], forward: [String] = []) -> RecipientResolution {
        .deliver(local: Self.sorted(Self.addresses(local)), forward: Self.sorted(Self.addresses(forward)))
    }

    /// Parses addresses for expected values (an invalid one is reported and left out).
    static func addresses(_ texts: [String]) -> [MailAddress] {
        texts.compactMap { text in
            let address = MailAddress(text)
            if address == nil { Issue.record("\(text) should be a valid address") }
            return address
        }
    }

    static func sorted(_ addresses: [MailAddress]) -> [MailAddress] {
        addresses.sorted { $0.canonical < $1.canonical }
    }

    /// The permission bits of a file (Foundation reports them as NSNumber or as Int).
    static func permissions(ofItemAt path: String) throws -> Int {
        let raw = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions]
        let mode = try #require((raw as? NSNumber)?.intValue ?? (raw as? Int) ?? (raw as? UInt16).map(Int.init))
        return mode & 0o777
    }

    // MARK: - Opening

    @Test("the database file is readable by its owner only")
    func databaseFileIsOwnerOnly() throws {
        #expect(try Self.permissions(ofItemAt: scratch.path) == 0o600)
    }

    /// The write-ahead log and shared-memory files hold database pages, password hashes
    /// included, for as long as a connection is open.
    @Test("the WAL and shared-memory files are readable by their owner only")
    func walFilesAreOwnerOnly() async throws {
        try await addExampleDomain()
        for suffix in ["-wal", "-shm"] {
            let path = scratch.path + suffix
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let permissions = try Self.permissions(ofItemAt: path)
            #expect(permissions == 0o600, "directory.sqlite\(suffix) has mode \(String(permissions, radix: 8))")
        }
    }

    @Test("a database that cannot be created is a storage error")
    func unopenableDatabaseIsStorageError() async {
        await expectDirectoryError(.storage) {
            _ = try SQLiteDirectory(path: scratch.folder.path + "/missing/folder/directory.sqlite")
        }
    }

    // MARK: - Domains

    @Test("domains are added lower-cased, listed sorted and removed")
    func addListRemoveDomains() async throws {
        try await directory.addDomain("Example.TEST")
        try await directory.addDomain("another.test")
        #expect(try await directory.domains() == ["another.test", "example.test"])
        #expect(try await directory.isLocalDomain("example.test"))
        #expect(try await directory.isLocalDomain("EXAMPLE.test"))
        #expect(try await directory.isLocalDomain("elsewhere.test") == false)

        try await directory.removeDomain("Example.Test")
        #expect(try await directory.domains() == ["another.test"])
        #expect(try await directory.isLocalDomain("example.test") == false)
    }

    @Test("adding a domain twice is refused, whatever its case")
    func duplicateDomainRefused() async throws {
        try await directory.addDomain("example.test")
        await expectDirectoryError(.alreadyExists) { try await directory.addDomain("example.test") }
        await expectDirectoryError(.alreadyExists) { try await directory.addDomain("EXAMPLE.TEST") }
    }

    @Test(
        "invalid domain names are refused",
        arguments: ["", "not a domain", "-bad.test", "bad-.test", "a..test", "example.test.", "user@example.test"]
    )
    func invalidDomainRefused(_ name: String) async throws {
        await expectDirectoryError(.invalid) { try await directory.addDomain(name) }
        #expect(try await directory.domains().isEmpty)
    }

    @Test("removing an unknown domain is not found")
    func removeUnknownDomain() async {
        await expectDirectoryError(.notFound) { try await directory.removeDomain("nowhere.test") }
    }

    @Test("a domain with users cannot be removed")
    func domainWithUsersInUse() async throws {
        try await addExampleDomain()
        await expectDirectoryError(.inUse) { try await directory.removeDomain("example.test") }
        #expect(try await directory.isLocalDomain("example.test"))

        try await directory.removeUser(mailbox("alice@example.test"))
        try await directory.removeUser(mailbox("bob@example.test"))
        try await directory.removeDomain("example.test")
        #expect(try await directory.domains().isEmpty)
    }

    // MARK: - Users

    @Test("a user needs a local domain")
    func userInNonLocalDomainRefused() async throws {
        let carol = try mailbox("carol@elsewhere.test")
        await expectDirectoryError(.notFound) {
            try await directory.addUser(carol, passwordHash: Self.hash("secret"))
        }
    }

    @Test("users are added, listed per domain and overall, and removed")
    func addListRemoveUsers() async throws {
        try await addExampleDomain()
        try await directory.addDomain("another.test")
        try await directory.addUser(mailbox("Carol@Another.TEST"), passwordHash: Self.hash("secret"))

        let exampleUsers = try await directory.users(domain: "example.test")
        #expect(exampleUsers == Self.addresses(["alice@example.test", "bob@example.test"]))
        #expect(try await directory.users(domain: "Another.Test") == Self.addresses(["carol@another.test"]))
        #expect(
            try await directory.users()
                == Self.addresses(["carol@another.test", "alice@example.test", "bob@example.test"]))

        try await directory.removeUser(mailbox("BOB@example.test"))
        #expect(try await directory.users(domain: "example.test") == Self.addresses(["alice@example.test"]))
        #expect(try await directory.account(login: "bob@example.test") == nil)
        await expectDirectoryError(.notFound) { try await directory.removeUser(mailbox("bob@example.test")) }
    }

    @Test("adding a user twice is refused, whatever its case")
    func duplicateUserRefused() async throws {
        try await addExampleDomain()
        let shouting = try mailbox("ALICE@example.test")
        await expectDirectoryError(.alreadyExists) {
            try await directory.addUser(shouting, passwordHash: Self.hash("other"))
        }
        let account = try #require(try await directory.account(login: "alice@example.test"))
        #expect(account.passwordHash?.verify("secret") == true)
    }

    @Test("a new password replaces the old one")
    func setPasswordReplacesHash() async throws {
        try await addExampleDomain()
        let alice = try mailbox("alice@example.test")
        try await directory.setPassword(alice, passwordHash: Self.hash("new secret"))

        let account = try #require(try await directory.account(login: "alice@example.test"))
        #expect(account.passwordHash?.verify("new secret") == true)
        #expect(account.passwordHash?.verify("secret") == false)
        let bob = try #require(try await directory.account(login: "bob@example.test"))
        #expect(bob.passwordHash?.verify("secret") == true)

        let nobody = try mailbox("nobody@example.test")
        await expectDirectoryError(.notFound) {
            try await directory.setPassword(nobody, passwordHash: Self.hash("x"))
        }
    }

    @Test("login names are looked up case-insensitively")
    func loginIsCaseInsensitive() async throws {
        try await addExampleDomain()
        let alice = try mailbox("alice@example.test")
        let account = try #require(try await directory.account(login: "Alice@Example.TEST"))
        #expect(account.address == alice)
        #expect(account.passwordHash?.verify("secret") == true)
    }

    @Test("unknown and unparseable logins have no account", arguments: ["nobody@example.test", "alice", "", "alice@"])
    func unknownLogin(_ login: String) async throws {
        try await addExampleDomain()
        #expect(try await directory.account(login: login) == nil)
    }

    // MARK: - Recipients

    @Test("a domain that is not ours is not local")
    func nonLocalDomain() async throws {
        try await addExampleDomain()
        #expect(try await resolve("alice@elsewhere.test") == .notLocalDomain)
    }

    @Test("an unknown user in a local domain is unknown")
    func unknownUser() async throws {
        try await addExampleDomain()
        #expect(try await resolve("nobody@example.test") == .unknownUser)
        #expect(try await resolve("+alice@example.test") == .unknownUser)
    }

    @Test("an account receives its own mail, whatever the case and +tag")
    func accountReceivesMail() async throws {
        try await addExampleDomain()
        #expect(try await resolve("alice@example.test") == deliver(["alice@example.test"]))
        #expect(try await resolve("ALICE@Example.Test") == deliver(["alice@example.test"]))
        #expect(try await resolve("alice+lists@example.test") == deliver(["alice@example.test"]))
        #expect(try await resolve("Alice+Lists+More@example.test") == deliver(["alice@example.test"]))
    }

    @Test("an alias delivers to several local accounts")
    func aliasToLocalAccounts() async throws {
        try await addExampleDomain()
        try await addAlias("team@example.test", "alice@example.test", "bob@example.test")
        #expect(try await resolve("team@example.test") == deliver(["alice@example.test", "bob@example.test"]))
        #expect(try await resolve("team+urgent@example.test") == deliver(["alice@example.test", "bob@example.test"]))
    }

    @Test("an alias to another domain forwards")
    func aliasToExternalAddress() async throws {
        try await addExampleDomain()
        try await addAlias("carol@example.test", "carol@elsewhere.test")
        try await addAlias("list@example.test", "alice@example.test", "dave@elsewhere.test")
        #expect(try await resolve("carol@example.test") == deliver([], forward: ["carol@elsewhere.test"]))
        #expect(
            try await resolve("list@example.test")
                == deliver(["alice@example.test"], forward: ["dave@elsewhere.test"]))
    }

    @Test("a catch-all takes unknown users but not existing accounts")
    func catchAll() async throws {
        try await addExampleDomain()
        try await addAlias("@example.test", "alice@example.test")
        #expect(try await resolve("random@example.test") == deliver(["alice@example.test"]))
        #expect(try await resolve("bob@example.test") == deliver(["bob@example.test"]))
        #expect(try await resolve("bob+tag@example.test") == deliver(["bob@example.test"]))
        #expect(try await resolve("alice@elsewhere.test") == .notLocalDomain)
    }

    @Test("alias chains are followed")
    func aliasChain() async throws {
        try await addExampleDomain()
        try await addAlias("a@example.test", "b@example.test")
        try await addAlias("b@example.test", "alice@example.test")
        #expect(try await resolve("a@example.test") == deliver(["alice@example.test"]))
    }

    @Test("an alias loop ends without delivering anywhere", .timeLimit(.minutes(1)))
    func aliasLoopTerminates() async throws {
        try await addExampleDomain()
        try await addAlias("a@example.test", "b@example.test")
        try await addAlias("b@example.test", "a@example.test")
        #expect(try await resolve("a@example.test") == .unknownUser)
        #expect(try await resolve("b@example.test") == .unknownUser)

        // A loop with an exit still delivers through the exit.
        try await addAlias("b@example.test", "bob@example.test")
        #expect(try await resolve("a@example.test") == deliver(["bob@example.test"]))
    }

    @Test("`user → user, other` keeps a copy for the user (Postfix idiom)")
    func aliasToItselfKeepsCopy() async throws {
        try await addExampleDomain()
        try await addAlias("alice@example.test", "alice@example.test", "archive@elsewhere.test")
        try await addAlias("bob@example.test", "bob@example.test", "alice@example.test")
        #expect(
            try await resolve("alice@example.test")
                == deliver(["alice@example.test"], forward: ["archive@elsewhere.test"]))
        #expect(
            try await resolve("bob@example.test")
                == deliver(["alice@example.test", "bob@example.test"], forward: ["archive@elsewhere.test"]))
    }

    @Test("`x → x, other` for a name without an account delivers to the others only")
    func aliasToItselfWithoutAccount() async throws {
        try await addExampleDomain()
        try await addAlias("ghost@example.test", "ghost@example.test", "bob@example.test")
        #expect(try await resolve("ghost@example.test") == deliver(["bob@example.test"]))
    }

    @Test(
        "relay tricks in a local domain are unknown users, never forwarded",
        arguments: [
            "user%elsewhere.test@example.test", "elsewhere.test!user@example.test", "alice%elsewhere.test@example.test",
            "elsewhere.test!alice@example.test",
        ]
    )
    func relayTrickIsUnknownUser(_ recipient: String) async throws {
        try await addExampleDomain()
        #expect(try await resolve(recipient) == .unknownUser)
    }

    @Test("with a catch-all, relay tricks stay local")
    func relayTrickWithCatchAllStaysLocal() async throws {
        try await addExampleDomain()
        try await addAlias("@example.test", "bob@example.test")
        #expect(try await resolve("alice%elsewhere.test@example.test") == deliver(["bob@example.test"]))
        #expect(try await resolve("elsewhere.test!alice@example.test") == deliver(["bob@example.test"]))
    }

    // MARK: - Alias administration

    @Test("aliases are listed by source and overall, with lower-cased keys")
    func listAliases() async throws {
        try await addExampleDomain()
        try await addAlias("Team@Example.TEST", "bob@example.test", "Alice@example.test")
        try await addAlias("@EXAMPLE.test", "alice@example.test")
        // Adding a pair again changes nothing.
        try await addAlias("team@example.test", "bob@example.test")

        let all = try await directory.aliases().map { "\($0.source) → \($0.target)" }
        #expect(
            all == [
                "@example.test → alice@example.test", "team@example.test → alice@example.test",
                "team@example.test → bob@example.test",
            ])
        let team = try await directory.aliases(source: "TEAM@example.test").map { $0.target }
        #expect(team == ["alice@example.test", "bob@example.test"])
    }

    @Test("alias sources must be valid and local; an alias needs a target")
    func invalidAliasesRefused() async throws {
        try await addExampleDomain()
        let alice = try mailbox("alice@example.test")
        await expectDirectoryError(.notFound) { try await directory.addAlias("x@elsewhere.test", targets: [alice]) }
        await expectDirectoryError(.notFound) { try await directory.addAlias("@elsewhere.test", targets: [alice]) }
        await expectDirectoryError(.invalid) { try await directory.addAlias("not an address", targets: [alice]) }
        await expectDirectoryError(.invalid) { try await directory.addAlias("@not a domain", targets: [alice]) }
        await expectDirectoryError(.invalid) { try await directory.addAlias("team@example.test", targets: []) }
        #expect(try await directory.aliases().isEmpty)
    }

    @Test("one target of an alias, or all of them, can be removed")
    func removeAliasTargets() async throws {
        try await addExampleDomain()
        try await addAlias("team@example.test", "alice@example.test", "bob@example.test")

        try await directory.removeAlias("team@example.test", targets: [mailbox("bob@example.test")])
        #expect(try await resolve("team@example.test") == deliver(["alice@example.test"]))
        await expectDirectoryError(.notFound) {
            try await directory.removeAlias("team@example.test", targets: [mailbox("bob@example.test")])
        }

        try await addAlias("team@example.test", "bob@example.test")
        try await directory.removeAlias("Team@Example.test", targets: [])
        #expect(try await directory.aliases().isEmpty)
        #expect(try await resolve("team@example.test") == .unknownUser)
        await expectDirectoryError(.notFound) { try await directory.removeAlias("team@example.test", targets: []) }
    }

    @Test("removing a domain removes its aliases and catch-all, and only those")
    func removingDomainRemovesItsAliases() async throws {
        try await addExampleDomain()
        try await directory.addDomain("old.test")
        try await directory.addDomain("sub.old.test")
        try await addAlias("info@old.test", "alice@example.test")
        try await addAlias("@old.test", "bob@example.test")
        try await addAlias("info@sub.old.test", "alice@example.test")
        try await addAlias("old@example.test", "info@old.test")

        try await directory.removeDomain("old.test")
        let remaining = try await directory.aliases().map { $0.source }
        #expect(remaining == ["info@sub.old.test", "old@example.test"])

        // Re-adding the domain does not bring the old aliases back.
        try await directory.addDomain("old.test")
        #expect(try await resolve("info@old.test") == .unknownUser)
        #expect(try await resolve("random@old.test") == .unknownUser)
    }

    // MARK: - Sharing the file

    /// The CLI and the running server open the same file; a change made through one is
    /// seen by the other at once, without a restart.
    @Test("changes through another connection to the same file are seen immediately")
    func secondConnectionSeesChanges() async throws {
        let server = directory
        let cli = try SQLiteDirectory(path: scratch.path)
        let carol = try mailbox("carol@example.test")

        try await cli.addDomain("example.test")
        #expect(try await server.isLocalDomain("example.test"))
        #expect(try await server.resolve(recipient: carol) == .unknownUser)

        try await cli.addUser(carol, passwordHash: Self.hash("first"))
        let account = try #require(try await server.account(login: "carol@example.test"))
        #expect(account.passwordHash?.verify("first") == true)
        #expect(try await server.resolve(recipient: carol) == .deliver(local: [carol], forward: []))

        try await cli.setPassword(carol, passwordHash: Self.hash("second"))
        let changed = try #require(try await server.account(login: "carol@example.test"))
        #expect(changed.passwordHash?.verify("second") == true)
        #expect(changed.passwordHash?.verify("first") == false)

        try await server.addAlias("team@example.test", targets: [carol])
        let seenByCLI = try await cli.aliases(source: "team@example.test").map { $0.target }
        #expect(seenByCLI == ["carol@example.test"])

        try await cli.removeUser(carol)
        #expect(try await server.account(login: "carol@example.test") == nil)
        #expect(try await server.resolve(recipient: carol) == .unknownUser)
    }
}
