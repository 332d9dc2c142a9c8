// SQLDirectory — users in PostgreSQL, read with the queries an existing Dovecot
// `passdb sql` / `userdb sql` setup already has (postgres-nio, no libpq).
//
// Security: logins reach the database only as bound parameters (SQLQueryTemplate);
// the password never does (hashes are fetched and verified here). Errors name the
// query's purpose and PostgreSQL's message, never a password.
// Limits: `maximumConnections` pooled connections, `queryTimeout` per query.
public import Directory
public import Logging
public import MailCore
import NIOCore
import NIOSSL
import PostgresNIO
public import ServiceLifecycle
import Synchronization

/// `[auth.sql]`: how to reach PostgreSQL and what to ask it.
public struct SQLDirectoryConfiguration: Sendable {
    public enum TLS: String, Sendable { case disable, prefer, require }

    /// A host name or address, or an absolute path: the directory of PostgreSQL's
    /// UNIX socket (`/run/postgresql`), as in libpq's `host=`.
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var tls: TLS
    /// PEM file of the CA that signed the server's certificate (`require` verifies
    /// against it, or against the system's CAs when unset).
    public var caFile: String?
    /// Must return a row with a `password` column (a `{SCHEME}hash`) for the login,
    /// and may return a `user` column: the canonical address (Dovecot's `user` field).
    public var passwordQuery: SQLQueryTemplate
    /// Returns a row when the address is a mailbox; an optional `user` column names
    /// the account it delivers to (so aliases can live in the same query). When
    /// unset, `passwordQuery` answers this too.
    public var userQuery: SQLQueryTemplate?
    /// Returns every login, in a `user` column (or the first column).
    public var iterateQuery: SQLQueryTemplate?
    /// Returns a row when `%d` is a local domain. Combined with `domains`.
    public var domainQuery: SQLQueryTemplate?
    /// Local domains named in the configuration.
    public var domains: Set<String>
    public var maximumConnections: Int
    public var queryTimeout: Duration

    public init(
        host: String, port: Int = 5432, user: String, password: String? = nil, database: String,
        tls: TLS = .prefer, caFile: String? = nil, passwordQuery: SQLQueryTemplate, userQuery: SQLQueryTemplate? = nil,
        iterateQuery: SQLQueryTemplate? = nil, domainQuery: SQLQueryTemplate? = nil, domains: Set<String> = [],
        maximumConnections: Int = 4, queryTimeout: Duration = .seconds(5)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.caFile = caFile
        self.passwordQuery = passwordQuery
        self.userQuery = userQuery
        self.iterateQuery = iterateQuery
        self.domainQuery = domainQuery
        self.domains = domains
        self.maximumConnections = maximumConnections
        self.queryTimeout = queryTimeout
    }
}

/// A PostgreSQL user database. It is a `Service`: its connection pool runs while the
/// server's `ServiceGroup` does (or `UserDatabases.withRunning` for one-off commands).
public final class SQLDirectory: AccountDirectory, Service {
    public let configuration: SQLDirectoryConfiguration
    private let client: PostgresClient

    public init(configuration: SQLDirectoryConfiguration, logger: Logger) throws {
        self.configuration = configuration
        var clientConfiguration: PostgresClient.Configuration
        if configuration.host.hasPrefix("/") {
            clientConfiguration = .init(
                unixSocketPath: configuration.host + "/.s.PGSQL.\(configuration.port)", username: configuration.user,
                password: configuration.password, database: configuration.database)
        } else {
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile = configuration.caFile {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            let mode: PostgresClient.Configuration.TLS =
                switch configuration.tls {
                case .disable: .disable
                case .prefer: .prefer(tls)
                case .require: .require(tls)
                }
            clientConfiguration = .init(
                host: configuration.host, port: configuration.port, username: configuration.user,
                password: configuration.password, database: configuration.database, tls: mode)
        }
        clientConfiguration.options.maximumConnections = configuration.maximumConnections
        clientConfiguration.options.connectTimeout = configuration.queryTimeout
        // The server gives up on a query at the same deadline (a lock wait, a slow plan),
        // so a connection is not held by a query nobody waits for any more.
        let milliseconds = configuration.queryTimeout.components.seconds * 1000
            + configuration.queryTimeout.components.attoseconds / 1_000_000_000_000_000
        clientConfiguration.options.additionalStartupParameters = [("statement_timeout", "\(milliseconds)")]
        // The pool's own warnings (a connection lost, …) go to the server's log.
        self.client = PostgresClient(configuration: clientConfiguration, backgroundLogger: logger)
    }

    /// Runs the connection pool until the task is cancelled (Service).
    public func run() async throws {
        await client.run()
    }

    // MARK: - AccountDirectory

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        let domain = domain.lowercased()
        if configuration.domains.contains(domain) { return true }
        guard let query = configuration.domainQuery,
            let probe = MailAddress(localPart: "postmaster", domain: domain)
        else { return false }
        return try await !rows(query, for: probe, purpose: "domain_query").isEmpty
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login) else { return nil }
        let found = try await rows(configuration.passwordQuery, for: address, purpose: "password_query", limit: 2)
        guard let row = found.first else { return nil }
        // Like Dovecot ("password query returned multiple matches"): two rows mean the
        // query does not pin the login down, and a guess could open someone else's mail.
        guard found.count == 1 else {
            throw DirectoryError(.storage, "PostgreSQL password_query: more than one row for \(address.canonical)")
        }
        guard row.hasPasswordColumn else {
            throw DirectoryError(.storage, "PostgreSQL password_query: no 'password' column in its result")
        }
        // NULL (a disabled account) or an unreadable hash never matches: it becomes a
        // scheme nothing verifies.
        let hash =
            row.password.flatMap { try? PasswordHash(parsing: $0) }
            ?? PasswordHash(scheme: .init(algorithm: .crypt), encoded: "*")
        return Account(address: row.user.flatMap(MailAddress.init) ?? address, passwordHash: hash)
    }

    public func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        guard try await isLocalDomain(recipient.domain) else { return .notLocalDomain }
        let query = configuration.userQuery ?? configuration.passwordQuery
        let purpose = configuration.userQuery == nil ? "password_query" : "user_query"
        var candidates = [recipient]
        if let base = recipient.withoutDetail.flatMap(MailAddress.init) { candidates.append(base) }
        for candidate in candidates {
            let found = try await rows(query, for: candidate, purpose: purpose)
            guard !found.isEmpty else { continue }
            // Every row is a mailbox the address delivers to (an alias to several users).
            var local: [MailAddress] = []
            for row in found {
                let target = row.user.flatMap(MailAddress.init) ?? candidate
                if !local.contains(target) { local.append(target) }
            }
            return .deliver(local: local, forward: [])
        }
        return .unknownUser
    }

    public func logins() async throws(DirectoryError) -> [String]? {
        guard let query = configuration.iterateQuery else { return nil }
        let placeholder = MailAddress(localPart: "x", domain: "invalid")!
        return try await rows(query, for: placeholder, purpose: "iterate_query", limit: 1_000_000).compactMap {
            $0.user ?? $0.first
        }
    }

    // MARK: - Queries

    private struct ResultRow: Sendable {
        var user: String?
        var password: String?
        var hasPasswordColumn: Bool
        var first: String?
    }

    private func rows(
        _ template: SQLQueryTemplate, for address: MailAddress, purpose: String, limit: Int = 16
    ) async throws(DirectoryError) -> [ResultRow] {
        var bindings = PostgresBindings(capacity: template.parameters.count)
        for variable in template.parameters { bindings.append(variable.value(for: address)) }
        let query = PostgresQuery(unsafeSQL: template.sql, binds: bindings)
        let client = self.client
        let timeout = configuration.queryTimeout
        let outcome = await Self.firstOf(timeout: timeout) { () async throws -> [ResultRow] in
            var result: [ResultRow] = []
            for try await row in try await client.query(query) {
                let cells = row.makeRandomAccess()
                result.append(
                    ResultRow(
                        user: Self.text(cells, "user"), password: Self.text(cells, "password"),
                        hasPasswordColumn: cells.contains("password"),
                        first: cells.count > 0 ? try? cells[0].decode(String?.self) : nil))
                if result.count >= limit { break }
            }
            return result
        }
        switch outcome {
        case .some(.success(let rows)):
            return rows
        case .some(.failure(let error)):
            throw DirectoryError(.storage, "PostgreSQL \(purpose): \(Self.describe(error))")
        case .none:
            // The pool retries failed connections until then; each failure (refused,
            // wrong password, unknown database) is in the log as it happens.
            throw DirectoryError(
                .storage,
                "PostgreSQL \(purpose): no answer within \(timeout) (is the server up, and are host, port, user and password right? the log has each connection error)"
            )
        }
    }

    /// The result of `work`, or nil once `timeout` has passed — without waiting for
    /// `work` to notice (postgres-nio's query does not react to cancellation once sent).
    private static func firstOf<T: Sendable>(
        timeout: Duration, _ work: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error>? {
        await withCheckedContinuation { (continuation: CheckedContinuation<Result<T, any Error>?, Never>) in
            let once = ResumeOnce(continuation)
            let worker = Task {
                do {
                    once.resume(.success(try await work()))
                } catch {
                    once.resume(.failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                once.resume(nil)
                worker.cancel()
            }
        }
    }

    private static func text(_ cells: PostgresRandomAccessRow, _ column: String) -> String? {
        guard cells.contains(column) else { return nil }
        return try? cells[column].decode(String?.self)
    }

    /// PostgreSQL's own message when there is one ("password authentication failed
    /// for user …", "relation … does not exist"), else the kind of failure.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return message }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// A continuation resumed by whichever caller comes first; later calls do nothing.
private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, Never>?>

    init(_ continuation: CheckedContinuation<T, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume(_ value: T) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}
