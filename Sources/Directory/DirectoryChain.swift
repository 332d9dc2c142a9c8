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
