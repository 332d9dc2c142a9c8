import Foundation
import MailCore
import Synchronization
import Testing
@testable import Directory

/// An `AuthenticationClock` that never sleeps: `sleep(for:)` records the delay and moves
/// time forward by it, and tests move time on with `advance(by:)`.
final class ManualClock: AuthenticationClock {
    private struct State {
        var offset: Duration = .zero
        var sleeps: [Duration] = []
    }

    private let start = ContinuousClock.now
    private let state = Mutex(State())

    var now: ContinuousClock.Instant { start.advanced(by: state.withLock { $0.offset }) }

    /// Every delay the authenticator asked for, in order.
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func advance(by duration: Duration) {
        state.withLock { $0.offset += duration }
    }

    func sleep(for duration: Duration) async throws {
        state.withLock { state in
            state.sleeps.append(duration)
            state.offset += duration
        }
    }
}

/// Accounts in memory, looked up by canonical address like the SQLite directory.
struct InMemoryDirectory: AccountDirectory {
    let accounts: [String: Account]

    init(_ accounts: [Account]) {
        self.accounts = Dictionary(accounts.map { ($0.address.canonical, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        accounts.values.contains { $0.address.domain == domain }
    }

    func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login) else { return nil }
        return accounts[address.canonical]
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        guard let account = accounts[recipient.canonical] else { return .unknownUser }
        return .deliver(local: [account.address], forward: [])
    }
}

/// A user database that cannot be read (locked file, full disk, …).
struct UnavailableDirectory: AccountDirectory {
    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        throw DirectoryError(.storage, "database is locked")
    }

    func account(login: String) async throws(DirectoryError) -> Account? {
        throw DirectoryError(.storage, "database is locked")
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        throw DirectoryError(.storage, "database is locked")
    }
}

extension Authenticator {
    /// One IMAP login attempt.
    func login(_ login: String, _ password: String, from remoteAddress: String) async -> AuthenticationResult {
        let attempt = LoginAttempt(login: login, password: password, remoteAddress: remoteAddress, service: "imap")
        return await authenticate(attempt)
    }
}

@Suite("Authenticator")
struct AuthenticatorTests {
    let alice: MailAddress
    let bob: MailAddress
    /// The attacker's own, legitimate account.
    let mallory: MailAddress
    let directory: InMemoryDirectory

    init() throws {
        alice = try mailbox("alice@example.test")
        bob = try mailbox("bob@example.test")
        mallory = try mailbox("mallory@example.test")
        // SHA512-CRYPT keeps the tests fast; the throttling does not depend on the scheme.
        directory = try InMemoryDirectory([
            Account(address: alice, passwordHash: PasswordHash.make("alice-pw", algorithm: .sha512Crypt)),
            Account(address: bob, passwordHash: PasswordHash.make("bob-pw", algorithm: .sha512Crypt)),
            Account(address: mallory, passwordHash: PasswordHash.make("mallory-pw", algorithm: .sha512Crypt)),
        ])
    }

    /// Small thresholds so that each rule is reached in a few attempts; delays are virtual.
    static func policy(refusePerAddress: Int = 100, refusePerAccount: Int = 100) -> ThrottlePolicy {
        var policy = ThrottlePolicy()
        policy.initialDelay = .milliseconds(100)
        policy.maximumDelay = .milliseconds(800)
        policy.refuseAfterFailuresPerAddress = refusePerAddress
        policy.refuseAfterFailuresPerAccount = refusePerAccount
        return policy
    }

    func makeAuthenticator(
        policy: ThrottlePolicy = AuthenticatorTests.policy(),
        directory: (any AccountDirectory)? = nil
    ) -> (Authenticator, ManualClock) {
        let clock = ManualClock()
        let users: any AccountDirectory = directory ?? self.directory
        return (Authenticator(directory: users, policy: policy, clock: clock), clock)
    }

    // MARK: - Outcomes

    @Test("the right password logs in as the account's address")
    func rightPasswordSucceeds() async {
        let (authenticator, clock) = makeAuthenticator()
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: "192.0.2.1") == .success(alice))
        #expect(await authenticator.login("Alice@Example.TEST", "alice-pw", from: "192.0.2.1") == .success(alice))
        #expect(clock.sleeps.isEmpty)
    }

    @Test("a wrong password fails")
    func wrongPasswordFails() async {
        let (authenticator, _) = makeAuthenticator()
        #expect(await authenticator.login("alice@example.test", "bob-pw", from: "192.0.2.1") == .failure)
        #expect(await authenticator.login("alice@example.test", "", from: "192.0.2.1") == .failure)
        #expect(await authenticator.recentFailures(address: "192.0.2.1") == 2)
    }

    @Test("an unknown user fails exactly like a wrong password")
    func unknownUserLooksLikeWrongPassword() async {
        let (wrongPassword, wrongPasswordClock) = makeAuthenticator()
        let (unknownUser, unknownUserClock) = makeAuthenticator()
        let wrong = await wrongPassword.login("alice@example.test", "guess", from: "192.0.2.1")
        let unknown = await unknownUser.login("nobody@example.test", "guess", from: "192.0.2.1")
        #expect(wrong == .failure)
        #expect(unknown == wrong)
        #expect(unknownUserClock.sleeps == wrongPasswordClock.sleeps)
        #expect(await unknownUser.recentFailures(address: "192.0.2.1") == 1)
    }

    @Test("an unreadable user database is a temporary failure, not a failed login")
    func unavailableDirectoryIsTemporaryFailure() async {
        let (authenticator, clock) = makeAuthenticator(directory: UnavailableDirectory())
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: "192.0.2.1") == .temporaryFailure)
        #expect(await authenticator.recentFailures(address: "192.0.2.1") == 0)
        #expect(clock.sleeps.isEmpty)
    }

    @Test("a login attempt never shows its password")
    func attemptDescriptionRedactsPassword() {
        let attempt = LoginAttempt(
            login: "alice@example.test", password: "hunter2-very-secret", remoteAddress: "192.0.2.1", service: "imap",
            session: "s1")
        for text in [attempt.description, "\(attempt)", String(reflecting: attempt)] {
            #expect(!text.contains("hunter2"))
            #expect(text.contains("alice@example.test"))
        }
    }

    // MARK: - Delays

    static let defaultDelays: [(Int, Int)] = [
        (-1, 0), (0, 0), (1, 500), (2, 1000), (3, 2000), (4, 4000), (5, 8000), (6, 8000), (64, 8000), (1000, 8000),
    ]

    @Test("the default delay doubles from 500 ms up to 8 s", arguments: AuthenticatorTests.defaultDelays)
    func defaultDelay(failures: Int, milliseconds: Int) {
        #expect(ThrottlePolicy().delay(afterFailures: failures) == .milliseconds(milliseconds))
    }

    @Test("consecutive failures from one client wait longer each time, up to the maximum")
    func delayGrowsPerAddress() async {
        let policy = Self.policy()
        let (authenticator, clock) = makeAuthenticator(policy: policy)
        for _ in 1...7 {
            #expect(await authenticator.login("alice@example.test", "guess", from: "192.0.2.1") == .failure)
        }
        #expect(clock.sleeps == [100, 200, 400, 800, 800, 800, 800].map { Duration.milliseconds($0) })
        #expect(zip(clock.sleeps, clock.sleeps.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(clock.sleeps.allSatisfy { $0 <= policy.maximumDelay })
    }

    @Test("failures against one account from many clients wait longer each time")
    func delayGrowsPerAccount() async {
        let (authenticator, clock) = makeAuthenticator()
        for client in 1...5 {
            #expect(await authenticator.login("bob@example.test", "guess", from: "198.51.100.\(client)") == .failure)
        }
        #expect(clock.sleeps == [100, 200, 400, 800, 800].map { Duration.milliseconds($0) })
    }

    // MARK: - Refusals

    @Test("a client past its failure limit is refused even with the right password; others are not")
    func refusesClientAfterFailures() async {
        let (authenticator, _) = makeAuthenticator(policy: Self.policy(refusePerAddress: 3))
        for _ in 1...3 {
            #expect(await authenticator.login("alice@example.test", "guess", from: "192.0.2.1") == .failure)
        }
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: "192.0.2.1") == .throttled)
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: "192.0.2.1") == .throttled)
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: "192.0.2.2") == .success(alice))
    }

    @Test("logging into one's own account does not reset the client's failure count")
    func ownAccountDoesNotResetClientCount() async {
        let (authenticator, _) = makeAuthenticator(policy: Self.policy(refusePerAddress: 3))
        let attacker = "203.0.113.66"
        #expect(await authenticator.login("alice@example.test", "guess1", from: attacker) == .failure)
        #expect(await authenticator.login("alice@example.test", "guess2", from: attacker) == .failure)
        #expect(await authenticator.login("mallory@example.test", "mallory-pw", from: attacker) == .success(mallory))
        #expect(await authenticator.recentFailures(address: attacker) == 2)
        #expect(await authenticator.login("alice@example.test", "guess3", from: attacker) == .failure)
        #expect(await authenticator.recentFailures(address: attacker) == 3)
        #expect(await authenticator.login("mallory@example.test", "mallory-pw", from: attacker) == .throttled)
    }

    @Test("an account past its failure limit is refused to new clients but not to one it logged in from")
    func refusesAccountToNewClientsOnly() async {
        let (authenticator, _) = makeAuthenticator(policy: Self.policy(refusePerAccount: 3))
        let home = "203.0.113.7"
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: home) == .success(bob))

        for client in 1...3 {
            #expect(await authenticator.login("bob@example.test", "guess", from: "198.51.100.\(client)") == .failure)
        }
        let newClient = "198.51.100.50"
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: newClient) == .throttled)
        // Only bob is locked: the new client may log into other accounts.
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: newClient) == .success(alice))
        // The attacker cannot lock bob out of the address he used before.
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: home) == .success(bob))
    }

    @Test("a client is no longer exempt from the account limit once its successful login is too old")
    func knownClientExpires() async {
        var policy = Self.policy(refusePerAccount: 2)
        policy.knownPairLifetime = .seconds(3600)
        policy.window = .seconds(7200)
        let (authenticator, clock) = makeAuthenticator(policy: policy)
        let home = "203.0.113.7"
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: home) == .success(bob))

        clock.advance(by: .seconds(3601))
        for client in 1...2 {
            #expect(await authenticator.login("bob@example.test", "guess", from: "198.51.100.\(client)") == .failure)
        }
        #expect(await authenticator.login("bob@example.test", "bob-pw", from: home) == .throttled)
    }

    @Test("failures older than the window are forgotten")
    func windowExpiry() async {
        var policy = Self.policy(refusePerAddress: 2, refusePerAccount: 2)
        policy.window = .seconds(600)
        let (authenticator, clock) = makeAuthenticator(policy: policy)
        let client = "192.0.2.1"
        #expect(await authenticator.login("alice@example.test", "guess1", from: client) == .failure)
        #expect(await authenticator.login("alice@example.test", "guess2", from: client) == .failure)
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: client) == .throttled)
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: "192.0.2.2") == .throttled)

        clock.advance(by: policy.window + .seconds(1))
        #expect(await authenticator.recentFailures(address: client) == 0)
        #expect(await authenticator.login("alice@example.test", "alice-pw", from: client) == .success(alice))
    }
}

/// A directory that takes its time, so that logins overlap.
actor SlowDirectory: AccountDirectory {
    let inner: InMemoryDirectory
    private(set) var lookups = 0

    init(_ inner: InMemoryDirectory) { self.inner = inner }

    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { true }

    func account(login: String) async throws(DirectoryError) -> Account? {
        lookups += 1
        try? await Task.sleep(for: .milliseconds(100))
        return try await inner.account(login: login)
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution { .unknownUser }
}

@Suite("Authenticator: parallel attempts")
struct AuthenticatorParallelTests {
    /// Review finding: the in-flight slot must be taken before the first suspension,
    /// or N parallel guesses from one IP all pass the check.
    @Test func parallelGuessesFromOneAddressAreBounded() async throws {
        let alice = try mailbox("alice@example.test")
        let slow = SlowDirectory(try InMemoryDirectory([
            Account(address: alice, passwordHash: PasswordHash.make("alice-pw", algorithm: .sha512Crypt))
        ]))
        var policy = ThrottlePolicy()
        policy.initialDelay = .milliseconds(1)
        policy.maximumDelay = .milliseconds(1)
        policy.refuseAfterFailuresPerAddress = 3
        let authenticator = Authenticator(directory: slow, policy: policy)
        // One failure first: from then on, attempts in flight count.
        #expect(await authenticator.authenticate(
            LoginAttempt(login: "alice@example.test", password: "first", remoteAddress: "192.0.2.9", service: "imap")) == .failure)
        let results = await withTaskGroup(of: AuthenticationResult.self) { group in
            for index in 0..<20 {
                group.addTask {
                    await authenticator.authenticate(
                        LoginAttempt(login: "alice@example.test", password: "guess-\(index)", remoteAddress: "192.0.2.9", service: "imap"))
                }
            }
            var all: [AuthenticationResult] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.filter { $0 == .throttled }.count >= 18)
        #expect(await slow.lookups <= 3)
    }

    /// Many users behind one address logging in at once (found measuring 1,000 idle
    /// POP3 sessions: half were refused as "too many failed logins" without a single
    /// failure): a clean record lets a burst through.
    @Test func parallelGoodLoginsFromACleanAddressGetIn() async throws {
        let accounts = try (0..<30).map { index in
            Account(address: try mailbox("user\(index)@example.test"), passwordHash: try PasswordHash.make("pw", algorithm: .sha512Crypt))
        }
        let slow = SlowDirectory(try InMemoryDirectory(accounts))
        var policy = ThrottlePolicy()
        policy.refuseAfterFailuresPerAddress = 20
        let authenticator = Authenticator(directory: slow, policy: policy)
        let results = await withTaskGroup(of: AuthenticationResult.self) { group in
            for index in 0..<30 {
                group.addTask {
                    await authenticator.authenticate(
                        LoginAttempt(login: "user\(index)@example.test", password: "pw", remoteAddress: "192.0.2.10", service: "imap"))
                }
            }
            var all: [AuthenticationResult] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
    }

    /// A clean address still cannot open an unbounded burst.
    @Test func anEnormousBurstIsRefusedEvenFromACleanAddress() async throws {
        let alice = try mailbox("alice@example.test")
        let slow = SlowDirectory(try InMemoryDirectory([
            Account(address: alice, passwordHash: PasswordHash.make("alice-pw", algorithm: .sha512Crypt))
        ]))
        var policy = ThrottlePolicy()
        policy.initialDelay = .milliseconds(1)
        policy.maximumDelay = .milliseconds(1)
        policy.refuseAfterFailuresPerAddress = 2
        let authenticator = Authenticator(directory: slow, policy: policy)
        let results = await withTaskGroup(of: AuthenticationResult.self) { group in
            for index in 0..<20 {
                group.addTask {
                    await authenticator.authenticate(
                        LoginAttempt(login: "alice@example.test", password: "guess-\(index)", remoteAddress: "192.0.2.11", service: "imap"))
                }
            }
            var all: [AuthenticationResult] = []
            for await result in group { all.append(result) }
            return all
        }
        // 4 × 2 = 8 may be checked at once; the rest are refused.
        #expect(await slow.lookups <= 8)
        #expect(results.filter { $0 == .throttled }.count >= 12)
    }
}

