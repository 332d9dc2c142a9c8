import Foundation
public import Logging
public import MailCore
public import SASL

/// One login attempt as every protocol presents it.
public struct LoginAttempt: Sendable, CustomStringConvertible {
    public let login: String
    public let password: String
    /// The client's IP address (no port): the throttling key.
    public let remoteAddress: String
    /// `imap`, `pop3`, `submission`, … for the log line.
    public let service: String
    /// The connection's session ID, which the client also sees, for the log line.
    public let session: String

    public init(login: String, password: String, remoteAddress: String, service: String, session: String = "-") {
        self.login = login
        self.password = password
        self.remoteAddress = remoteAddress
        self.service = service
        self.session = session
    }

    /// Redacted: the password never reaches a log.
    public var description: String { "LoginAttempt(login: \(login), remote: \(remoteAddress), service: \(service))" }
}

/// The answer to a login attempt. The protocols map it to their own wire replies;
/// none of them tells the client whether the user exists.
public enum AuthenticationResult: Sendable, Equatable {
    case success(MailAddress)
    /// Wrong user or wrong password (indistinguishable to the client).
    case failure
    /// Too many recent failures from this client or for this account: refused without
    /// checking the password (SMTP `454 4.7.0`, IMAP `NO [UNAVAILABLE]`,
    /// POP3 `-ERR [SYS/TEMP]`, or `[LOGIN-DELAY]`).
    case throttled
    /// The user database could not be read.
    case temporaryFailure
}

extension AuthenticationResult {
    /// The result as the protocol state machines take it.
    public var loginOutcome: LoginOutcome {
        switch self {
        case .success(let address): return .success(address.canonical)
        case .failure: return .failure
        case .throttled: return .throttled
        case .temporaryFailure: return .temporaryFailure
        }
    }
}

/// The one place every protocol logs in through: looks the account up, verifies the
/// password off the caller's thread, throttles failures, and logs the outcome.
///
/// Throttling (see `ThrottlePolicy`):
/// - each failure is answered after a delay that doubles with the recent failures of
///   that client IP or that account (whichever is higher), up to a cap;
/// - past a number of recent failures per client IP, or per account, attempts are
///   refused (`.throttled`) without the password being checked — a right guess during
///   the refusal does not get in;
/// - a success never clears the per-IP count, so an attacker with an account of their
///   own cannot log into it between guesses to reset the throttle. It clears that
///   account's count and marks the (account, IP) pair as known, so that an attacker
///   elsewhere cannot lock the real user out from an address they have used before.
public actor Authenticator {
    private let directory: any AccountDirectory
    private let policy: ThrottlePolicy
    private let clock: any AuthenticationClock
    private let logger: Logger
    private var failuresByAddress: [String: FailureRecord] = [:]
    private var failuresByAccount: [String: FailureRecord] = [:]
    private var knownPairs: [String: ContinuousClock.Instant] = [:]
    /// Attempts being checked right now, per client IP: counted as failures by the
    /// throttle so that parallel connections cannot all slip under the limit.
    private var inFlight: [String: Int] = [:]
    /// Verified against when the user does not exist, so that a missing user costs as
    /// much as a wrong password (no user enumeration by timing). In the default scheme
    /// for new passwords, so that unknown users cost what real ones do; made once per
    /// process, on first use (an ARGON2ID hash takes a noticeable moment).
    private static let dummyHash: PasswordHash =
        (try? PasswordHash.make("tsubame-dummy-password"))
        ?? PasswordHash(scheme: .init(algorithm: .plain), encoded: "")

    public init(
        directory: any AccountDirectory,
        policy: ThrottlePolicy = ThrottlePolicy(),
        clock: any AuthenticationClock = SystemAuthenticationClock(),
        logger: Logger = Logger(label: "tsubame.auth")
    ) {
        self.directory = directory
        self.policy = policy
        self.clock = clock
        self.logger = logger
    }

    public func authenticate(_ attempt: LoginAttempt) async -> AuthenticationResult {
        let keys = Keys(attempt)
        if isThrottled(keys) {
            log(.notice, "login refused (throttled)", attempt, reason: "too many recent failures")
            return .throttled
        }
        // Reserve the attempt before the first suspension point: parallel logins from
        // one IP all see each other in `isThrottled`.
        inFlight[keys.address, default: 0] += 1
        let check: PasswordCheck
        do {
            check = try await directory.checkPassword(login: attempt.login, password: attempt.password)
        } catch {
            releaseInFlight(keys.address)
            log(.error, "login failed (user database unavailable)", attempt, reason: error.description)
            return .temporaryFailure
        }
        let reason: String
        switch check {
        case .success(let account):
            releaseInFlight(keys.address)
            recordSuccess(keys)
            log(.info, "login", attempt, reason: nil, user: account.address.canonical)
            return .success(account.address)
        case .wrongPassword(let account):
            reason = account.passwordHash == nil ? "wrong password (refused by the user database)" : "wrong password"
        case .unknownUser:
            // A missing user costs as much as a wrong password (no enumeration by timing).
            _ = await Self.dummyHash.verifyOffThread(attempt.password)
            reason = "unknown user"
        }
        releaseInFlight(keys.address)
        log(.notice, "login failed", attempt, reason: reason)
        await recordFailure(keys)
        return .failure
    }

    /// What a SCRAM exchange needs before it can check a proof.
    public enum SCRAMLookup: Sendable, Equatable {
        /// The user's stored keys; nil when the user is unknown or has no SCRAM keys
        /// (the exchange then continues with fake keys and fails, revealing nothing).
        case credentials(SCRAMServerKeys?)
        case throttled
        case temporaryFailure
    }

    /// Throttle check and key lookup for SCRAM (`attempt.password` is unused). The
    /// protocol verifies the client proof itself and then reports the outcome with
    /// `recordSCRAMOutcome`, so SCRAM logins are throttled and logged like the others.
    public func scramCredentials(_ attempt: LoginAttempt) async -> SCRAMLookup {
        let keys = Keys(attempt)
        if isThrottled(keys) {
            log(.notice, "login refused (throttled)", attempt, reason: "too many recent failures")
            return .throttled
        }
        // Counted against the client IP now, as a failure, and taken back if the proof is
        // right: parallel SCRAM exchanges must not all slip under the limit (PLAIN counts
        // attempts in flight for the same reason). An abandoned exchange stays counted.
        _ = record(&failuresByAddress, keys.address, at: clock.now)
        do {
            let stored = try await directory.account(login: attempt.login)?.passwordHash?.scramCredentials
            return .credentials(
                stored.map {
                    SCRAMServerKeys(iterations: $0.iterations, salt: $0.salt, storedKey: $0.storedKey, serverKey: $0.serverKey)
                })
        } catch {
            log(.error, "login failed (user database unavailable)", attempt, reason: error.description)
            return .temporaryFailure
        }
    }

    public func recordSCRAMOutcome(_ attempt: LoginAttempt, success: Bool) async {
        let keys = Keys(attempt)
        if success {
            // Take back the failure counted when the keys were looked up.
            if var entry = failuresByAddress[keys.address], !entry.times.isEmpty {
                entry.times.removeLast()
                failuresByAddress[keys.address] = entry.times.isEmpty ? nil : entry
            }
            recordSuccess(keys)
            log(.info, "login", attempt, reason: nil, user: keys.account)
        } else {
            log(.notice, "login failed", attempt, reason: "SCRAM proof rejected")
            // The IP's failure was counted at the lookup; the account's is counted now.
            let now = clock.now
            let ipCount = recentCount(failuresByAddress[keys.address], now: now)
            let accountCount = record(&failuresByAccount, keys.account, at: now)
            let delay = policy.delay(afterFailures: max(ipCount, accountCount))
            if delay > .zero { try? await clock.sleep(for: delay) }
        }
    }

    // MARK: - Throttling

    private struct Keys {
        let address: String
        let account: String
        var pair: String { account + "\u{0}" + address }

        init(_ attempt: LoginAttempt) {
            address = attempt.remoteAddress
            account = MailAddress(attempt.login)?.canonical ?? attempt.login.lowercased()
        }
    }

    private func isThrottled(_ keys: Keys) -> Bool {
        let now = clock.now
        prune(now: now)
        let isKnownPair = knownPairs[keys.pair].map { now < $0 } ?? false
        // Attempts in flight count as failures once the IP has failed recently, so that
        // parallel guesses cannot slip under the limit; from an IP with a clean record
        // (an office behind one NAT address at nine in the morning) only a burst of
        // `4 ×` the limit at once is refused.
        let recent = recentCount(failuresByAddress[keys.address], now: now)
        let parallel = inFlight[keys.address] ?? 0
        if recent == 0 && parallel >= 4 * policy.refuseAfterFailuresPerAddress { return true }
        let ipFailures = recent + (recent > 0 ? parallel : 0)
        let accountFailures = recentCount(failuresByAccount[keys.account], now: now)
        return ipFailures >= policy.refuseAfterFailuresPerAddress
            || (!isKnownPair && accountFailures >= policy.refuseAfterFailuresPerAccount)
    }

    private func releaseInFlight(_ address: String) {
        let remaining = (inFlight[address] ?? 1) - 1
        inFlight[address] = remaining > 0 ? remaining : nil
    }

    private func recordSuccess(_ keys: Keys) {
        // The per-IP count stays: an attacker's own successful login must not reset it.
        failuresByAccount[keys.account] = nil
        knownPairs[keys.pair] = clock.now.advanced(by: policy.knownPairLifetime)
    }

    private func recordFailure(_ keys: Keys) async {
        let now = clock.now
        let ipCount = record(&failuresByAddress, keys.address, at: now)
        let accountCount = record(&failuresByAccount, keys.account, at: now)
        let delay = policy.delay(afterFailures: max(ipCount, accountCount))
        if delay > .zero { try? await clock.sleep(for: delay) }
    }

    /// How many failures are currently counted for a client IP (for tests and status).
    public func recentFailures(address: String) -> Int {
        recentCount(failuresByAddress[address], now: clock.now)
    }

    // MARK: - Private

    private struct FailureRecord {
        var times: [ContinuousClock.Instant] = []
    }

    private func recentCount(_ record: FailureRecord?, now: ContinuousClock.Instant) -> Int {
        guard let record else { return 0 }
        return record.times.reduce(0) { $0 + (now - $1 < policy.window ? 1 : 0) }
    }

    private func record(_ table: inout [String: FailureRecord], _ key: String, at now: ContinuousClock.Instant) -> Int {
        var entry = table[key] ?? FailureRecord()
        entry.times.removeAll { now - $0 >= policy.window }
        entry.times.append(now)
        // Only the newest failures matter for the decision; keep the record bounded, but
        // never below the refusal thresholds or they could never be reached.
        let bound = max(policy.maximumRecordedFailures, policy.refuseAfterFailuresPerAddress, policy.refuseAfterFailuresPerAccount)
        if entry.times.count > bound { entry.times.removeFirst() }
        table[key] = entry
        return entry.times.count
    }

    /// Drops expired records once the tables grow, so memory is bounded by the number
    /// of distinct attackers within one window.
    private func prune(now: ContinuousClock.Instant) {
        if failuresByAddress.count + failuresByAccount.count > policy.pruneThreshold {
            failuresByAddress = failuresByAddress.filter { recentCount($0.value, now: now) > 0 }
            failuresByAccount = failuresByAccount.filter { recentCount($0.value, now: now) > 0 }
        }
        if knownPairs.count > policy.pruneThreshold {
            knownPairs = knownPairs.filter { now < $0.value }
        }
    }

    private func log(
        _ level: Logger.Level, _ message: String, _ attempt: LoginAttempt, reason: String?, user: String? = nil
    ) {
        var metadata: Logger.Metadata = [
            "session": "\(attempt.session)", "remote": "\(attempt.remoteAddress)",
            "service": "\(attempt.service)", "user": "\(user ?? attempt.login)",
        ]
        if let reason { metadata["reason"] = "\(reason)" }
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}

/// Failed-login throttling settings (`[auth]` in the configuration).
public struct ThrottlePolicy: Sendable {
    /// Failures older than this are forgotten.
    public var window: Duration = .seconds(15 * 60)
    /// Delay before answering the first failure; doubles with each further one.
    public var initialDelay: Duration = .milliseconds(500)
    public var maximumDelay: Duration = .seconds(8)
    /// Refuse further attempts from a client IP with this many recent failures.
    public var refuseAfterFailuresPerAddress = 20
    /// Refuse further attempts on an account with this many recent failures, except
    /// from addresses that logged into it successfully before.
    public var refuseAfterFailuresPerAccount = 10
    /// How long a successful (account, IP) pair stays exempt from the account refusal.
    public var knownPairLifetime: Duration = .seconds(7 * 24 * 3600)
    var maximumRecordedFailures = 64
    var pruneThreshold = 10_000

    public init() {}

    public func delay(afterFailures count: Int) -> Duration {
        guard count > 0 else { return .zero }
        var delay = initialDelay
        for _ in 1..<min(count, 32) {
            delay = delay * 2
            if delay >= maximumDelay { return maximumDelay }
        }
        return min(delay, maximumDelay)
    }
}

/// The time source the authenticator reads and sleeps on; tests inject their own.
public protocol AuthenticationClock: Sendable {
    var now: ContinuousClock.Instant { get }
    func sleep(for duration: Duration) async throws
}

public struct SystemAuthenticationClock: AuthenticationClock {
    public init() {}
    public var now: ContinuousClock.Instant { ContinuousClock.now }
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
