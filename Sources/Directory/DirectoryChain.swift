public import MailCore

/// User databases asked in order, like Dovecot's passdb/userdb chains: the first one
/// that knows a login answers for it; a recipient is delivered by the first one that
/// has it, and is unknown only when a database owns its domain and none has the user.
public final class DirectoryChain: AccountDirectory {
    public struct Source: Sendable {
        /// For `tsubame auth test` and logs, e.g. `sqlite (/data/directory.sqlite)`.
        public let name: String
        public let directory: any AccountDirectory

        public init(name: String, directory: any AccountDirectory) {
            self.name = name
            self.directory = directory
        }
    }

    public let sources: [Source]

    public init(sources: [Source]) {
        self.sources = sources
    }

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        for source in sources where try await source.directory.isLocalDomain(domain) { return true }
        return false
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        try await accountAndSource(login: login)?.account
    }

    /// The account and the name of the database that answered.
    public func accountAndSource(login: String) async throws(DirectoryError) -> (account: Account, source: String)? {
        for source in sources {
            if let account = try await source.directory.account(login: login) { return (account, source.name) }
        }
        return nil
    }

    /// What `tsubame auth test` reports: which database answered and why.
    public enum TestResult: Sendable, Equatable {
        case succeeded(user: String, source: String, scheme: String)
        case passwordMismatch(user: String, source: String, scheme: String)
        case unknownUser(sources: [String])
    }

    /// Checks a password without throttling or logging (an administrator's tool, like
    /// `doveadm auth test`; never reachable from the network).
    public func test(login: String, password: String) async throws(DirectoryError) -> TestResult {
        guard let (account, source) = try await accountAndSource(login: login) else {
            return .unknownUser(sources: sources.map(\.name))
        }
        let user = account.address.canonical
        let scheme = account.passwordHash.scheme.name
        return account.passwordHash.verify(password)
            ? .succeeded(user: user, source: source, scheme: scheme)
            : .passwordMismatch(user: user, source: source, scheme: scheme)
    }

    public func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        var answer = RecipientResolution.notLocalDomain
        for source in sources {
            switch try await source.directory.resolve(recipient: recipient) {
            case .deliver(let local, let forward): return .deliver(local: local, forward: forward)
            case .unknownUser: answer = .unknownUser
            case .notLocalDomain: continue
            }
        }
        return answer
    }
}
