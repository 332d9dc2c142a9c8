import MailCore
import Synchronization
import Testing
@testable import Directory

/// A database that checks passwords itself (like LDAP with `auth_bind`): accounts have
/// no stored hash, and `checkPassword` counts how often it is asked.
final class BindingDirectory: AccountDirectory {
    let address: MailAddress
    let password: String
    let checks = Mutex(0)

    init(address: MailAddress, password: String) {
        self.address = address
        self.password = password
    }

    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { domain == address.domain }

    func account(login: String) async throws(DirectoryError) -> Account? {
        MailAddress(login)?.canonical == address.canonical ? Account(address: address, passwordHash: nil) : nil
    }

    func checkPassword(login: String, password: String) async throws(DirectoryError) -> PasswordCheck {
        checks.withLock { $0 += 1 }
        guard let account = try await account(login: login) else { return .unknownUser }
        return password == self.password ? .success(account) : .wrongPassword(account)
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        guard recipient.domain == address.domain else { return .notLocalDomain }
        return recipient.canonical == address.canonical ? .deliver(local: [address], forward: []) : .unknownUser
    }

    func logins() async throws(DirectoryError) -> [String]? { [address.canonical] }
}

@Suite("DirectoryChain and password checks")
struct DirectoryChainTests {
    let alice = MailAddress("alice@example.test")!
    let bob = MailAddress("bob@other.test")!

    func hashed(_ address: MailAddress, _ password: String) throws -> InMemoryDirectory {
        InMemoryDirectory([Account(address: address, passwordHash: try PasswordHash.make(password, algorithm: .sha512Crypt))])
    }

    @Test func firstSourceThatKnowsTheLoginDecides() async throws {
        let binding = BindingDirectory(address: alice, password: "bind-pw")
        let chain = DirectoryChain(sources: [
            .init(name: "ldap", directory: binding),
            // The same login with another password further down is never asked.
            .init(name: "sqlite", directory: try hashed(alice, "other-pw")),
            .init(name: "passwd-file", directory: try hashed(bob, "bob-pw")),
        ])
        #expect(try await chain.checkPassword(login: "alice@example.test", password: "bind-pw") == .success(Account(address: alice, passwordHash: nil)))
        #expect(try await chain.test(login: "alice@example.test", password: "other-pw")
            == .passwordMismatch(user: "alice@example.test", source: "ldap", scheme: "bind as the user"))
        #expect(try await chain.test(login: "bob@other.test", password: "bob-pw")
            == .succeeded(user: "bob@other.test", source: "passwd-file", scheme: "{SHA512-CRYPT}"))
        #expect(try await chain.test(login: "carol@example.test", password: "x")
            == .unknownUser(sources: ["ldap", "sqlite", "passwd-file"]))
    }

    /// A source that cannot be read is a temporary failure: the chain must not fall
    /// through to a later source (which could hold an old password for the same login).
    @Test func unavailableSourceStopsTheChain() async throws {
        let chain = DirectoryChain(sources: [
            .init(name: "sql", directory: UnavailableDirectory()),
            .init(name: "sqlite", directory: try hashed(alice, "old-pw")),
        ])
        await #expect(throws: DirectoryError.self) {
            try await chain.checkPassword(login: "alice@example.test", password: "old-pw")
        }
        let authenticator = Authenticator(directory: chain, clock: ManualClock())
        let attempt = LoginAttempt(login: "alice@example.test", password: "old-pw", remoteAddress: "192.0.2.9", service: "smtp")
        #expect(await authenticator.authenticate(attempt) == .temporaryFailure)
        #expect(await authenticator.recentFailures(address: "192.0.2.9") == 0)
    }

    @Test func authenticatorUsesTheSourcesOwnCheck() async throws {
        let binding = BindingDirectory(address: alice, password: "bind-pw")
        let clock = ManualClock()
        let authenticator = Authenticator(directory: DirectoryChain(sources: [.init(name: "ldap", directory: binding)]), clock: clock)
        let good = LoginAttempt(login: "Alice@Example.test", password: "bind-pw", remoteAddress: "192.0.2.1", service: "imap")
        #expect(await authenticator.authenticate(good) == .success(alice))
        let bad = LoginAttempt(login: "alice@example.test", password: "nope", remoteAddress: "192.0.2.1", service: "imap")
        #expect(await authenticator.authenticate(bad) == .failure)
        #expect(binding.checks.withLock { $0 } == 2)
        // Throttled like any other failure.
        #expect(await authenticator.recentFailures(address: "192.0.2.1") == 1)
        #expect(clock.sleeps.count == 1)
        // No stored hash: SCRAM has nothing to check a proof against.
        #expect(await authenticator.scramCredentials(good) == .credentials(nil))
    }

    @Test func loginsOfEverySourceThatCanList() async throws {
        let chain = DirectoryChain(sources: [
            .init(name: "ldap", directory: BindingDirectory(address: alice, password: "x")),
            .init(name: "memory", directory: try hashed(bob, "y")),
        ])
        let lists = try await chain.loginsBySource()
        #expect(lists.map(\.source) == ["ldap", "memory"])
        #expect(lists[0].logins == ["alice@example.test"])
        #expect(lists[1].logins == nil)
        #expect(try await chain.logins() == ["alice@example.test"])
    }
}

@Suite("Authenticator: SCRAM exchanges are throttled like other logins")
struct SCRAMThrottlingTests {
    let alice = MailAddress("alice@example.test")!

    /// Each key lookup counts against the client IP until the proof is checked, so many
    /// exchanges started in parallel cannot all get past the limit (found in review).
    @Test func parallelLookupsCountAgainstTheAddress() async throws {
        var policy = ThrottlePolicy()
        policy.refuseAfterFailuresPerAddress = 3
        let directory = InMemoryDirectory([Account(address: alice, passwordHash: try PasswordHash.make("pw", algorithm: .scramSHA256))])
        let authenticator = Authenticator(directory: directory, policy: policy, clock: ManualClock())
        let attempt = LoginAttempt(login: "alice@example.test", password: "", remoteAddress: "192.0.2.7", service: "imap")
        for _ in 0..<3 {
            guard case .credentials(let keys) = await authenticator.scramCredentials(attempt) else {
                Issue.record("refused too early")
                return
            }
            #expect(keys != nil)
        }
        #expect(await authenticator.scramCredentials(attempt) == .throttled)
    }

    @Test func aRightProofTakesTheCountBack() async throws {
        let directory = InMemoryDirectory([Account(address: alice, passwordHash: try PasswordHash.make("pw", algorithm: .scramSHA256))])
        let clock = ManualClock()
        let authenticator = Authenticator(directory: directory, clock: clock)
        let attempt = LoginAttempt(login: "alice@example.test", password: "", remoteAddress: "192.0.2.8", service: "imap")
        _ = await authenticator.scramCredentials(attempt)
        #expect(await authenticator.recentFailures(address: "192.0.2.8") == 1)
        await authenticator.recordSCRAMOutcome(attempt, success: true)
        #expect(await authenticator.recentFailures(address: "192.0.2.8") == 0)
        _ = await authenticator.scramCredentials(attempt)
        await authenticator.recordSCRAMOutcome(attempt, success: false)
        // One failure (counted once, not twice), and answered after a delay.
        #expect(await authenticator.recentFailures(address: "192.0.2.8") == 1)
        #expect(clock.sleeps.count == 1)
    }
}
