public import MailCore

/// A mail account: the login name is its address.
public struct Account: Sendable, Hashable, CustomStringConvertible {
    public let address: MailAddress
    /// The stored credential, or `nil` when the user database checks passwords itself
    /// (LDAP with `auth_bind`): then only `AccountDirectory.checkPassword` can tell,
    /// and SCRAM is impossible for this account.
    public let passwordHash: PasswordHash?

    public init(address: MailAddress, passwordHash: PasswordHash?) {
        self.address = address
        self.passwordHash = passwordHash
    }

    public var description: String { address.canonical }
}

/// What the directory says about one envelope recipient (SMTP RCPT TO), after aliases,
/// `user+tag` and catch-all are applied — Postfix's `virtual_alias_maps` followed by
/// `virtual_mailbox_maps`.
public enum RecipientResolution: Sendable, Hashable {
    /// The domain is not one of ours: relaying, allowed only to authenticated clients.
    case notLocalDomain
    /// Our domain, but nobody by that name (SMTP `550 5.1.1`).
    case unknownUser
    /// Deliver into these local accounts' mailboxes, and forward to these addresses
    /// (alias targets in other domains).
    case deliver(local: [MailAddress], forward: [MailAddress])
}

/// The questions every protocol asks the user database. Implementations must be safe
/// to call from any task; they never block the caller's thread on I/O.
public protocol AccountDirectory: Sendable {
    /// Whether `domain` (already normalised) is one we accept mail for.
    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool
    /// The account a login name refers to, or `nil`. Login names are addresses.
    func account(login: String) async throws(DirectoryError) -> Account?
    /// Where mail for `recipient` goes.
    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution
    /// Whether `password` is right for `login`. The default looks the account up and
    /// verifies its stored hash off the caller's thread; a database that checks
    /// passwords itself (LDAP bind) answers here.
    func checkPassword(login: String, password: String) async throws(DirectoryError) -> PasswordCheck
    /// Every login this database knows (Dovecot's iterate query, `doveadm user '*'`),
    /// or `nil` when it cannot list them.
    func logins() async throws(DirectoryError) -> [String]?
}

/// The answer of `AccountDirectory.checkPassword`.
public enum PasswordCheck: Sendable, Equatable {
    /// This database does not know the login (the next one in a chain may).
    case unknownUser
    case wrongPassword(Account)
    case success(Account)
}

extension AccountDirectory {
    public func checkPassword(login: String, password: String) async throws(DirectoryError) -> PasswordCheck {
        guard let account = try await account(login: login) else { return .unknownUser }
        guard let hash = account.passwordHash else { return .wrongPassword(account) }
        return await hash.verifyOffThread(password) ? .success(account) : .wrongPassword(account)
    }

    public func logins() async throws(DirectoryError) -> [String]? { nil }
}

/// Why a directory operation failed. `description` is safe for an operator's terminal;
/// protocol code maps `kind` to its own wire error and never sends `detail`.
public struct DirectoryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case notFound
        case alreadyExists
        case invalid
        case inUse
        case storage
    }

    public let kind: Kind
    public let detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }
}
