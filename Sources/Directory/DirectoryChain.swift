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

    /// The first database that knows the login checks the password; the ones after
    /// it are not asked (Dovecot's passdb chain without `result_failure = continue`).
    public func checkPassword(login: String, password: String) async throws(DirectoryError) -> PasswordCheck {
        try await checkPasswordAndSource(login: login, password: password).check
    }

    private func checkPasswordAndSource(
        login: String, password: String
    ) async throws(DirectoryError) -> (check: PasswordCheck, source: String?) {
        for source in sources {
            let check = try await source.directory.checkPassword(login: login, password: password)
            if check != .unknownUser { return (check, source.name) }
        }
        return (.unknownUser, nil)
    }

    /// Every login of every database that can list its users, with the database's
    /// name; databases that cannot (`nil`) are named with an empty list.
    public func loginsBySource() async throws(DirectoryError) -> [(source: String, logins: [String]?)] {
        var result: [(source: String, logins: [String]?)] = []
        for source in sources { result.append((source.name, try await source.directory.logins())) }
        return result
    }

    public func logins() async throws(DirectoryError) -> [String]? {
        var all: [String] = []
        var seen = Set<String>()
        for source in sources {
            for login in try await source.directory.logins() ?? [] where seen.insert(login).inserted { all.append(login) }
        }
        return all
    }

    /// Checks a password without throttling or logging (an administrator's tool, like
    /// `doveadm auth test`; never reachable from the network).
    public func test(login: String, password: String) async throws(DirectoryError) -> TestResult {
        let (check, source) = try await checkPasswordAndSource(login: login, password: password)
        switch check {
        case .unknownUser:
            return .unknownUser(sources: sources.map(\.name))
        case .success(let account):
            return .succeeded(user: account.address.canonical, source: source ?? "-", scheme: Self.scheme(account))
        case .wrongPassword(let account):
            return .passwordMismatch(user: account.address.canonical, source: source ?? "-", scheme: Self.scheme(account))
        }
    }

    private static func scheme(_ account: Account) -> String {
        account.passwordHash.map { "{\($0.scheme.name)}" } ?? "bind as the user"
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
