// LDAPDirectory — users in an LDAP directory (OpenLDAP, Active Directory, …) through
// Debian's libldap, like Dovecot's `passdb ldap`.
//
// Standards: RFC 4511 (simple bind, search), RFC 4513 (StartTLS; an empty password is
// an unauthenticated bind and is refused here), RFC 4515 (filter escaping), RFC 4516
// (ldap:// and ldaps:// URIs).
// Security: logins enter filters only escaped (LDAPFilter.escape); passwords go to the
// server only in a bind (auth_bind) or are checked here against the fetched hash.
// Threads: libldap's calls block, so they run on this directory's own thread pool,
// never on an event loop or the cooperative pool. Each connection is used by one
// thread at a time; every call has a network and an operation timeout.
import CLDAP
public import Directory
public import Logging
public import MailCore
import NIOPosix
import Synchronization

/// `[auth.ldap]`
public struct LDAPDirectoryConfiguration: Sendable {
    /// `ldap://host:port` or `ldaps://host:port` (implicit TLS); several separated by
    /// spaces are tried in order by libldap.
    public var uri: String
    /// Upgrade `ldap://` connections with StartTLS (refuse to go on without it).
    public var startTLS: Bool
    /// PEM file of the CA for the server's certificate (else the system's CAs). The
    /// certificate is always verified (`TLS_REQCERT demand`).
    public var caFile: String?
    /// The DN the searches bind as; `nil` for anonymous searches.
    public var bindDN: String?
    public var bindPassword: String?
    /// Search base, e.g. `ou=people,dc=example,dc=com`.
    public var base: String
    public var scope: Scope
    /// Finds the entry of a login, e.g. `(&(objectClass=inetOrgPerson)(mail=%u))`.
    public var userFilter: LookupTemplate
    /// Finds the entry a recipient address delivers to (aliases:
    /// `(|(mail=%u)(mailAlternateAddress=%u))`); `userFilter` when unset.
    public var recipientFilter: LookupTemplate?
    /// Lists every user (`tsubame auth users`), e.g. `(objectClass=inetOrgPerson)`.
    public var iterateFilter: String?
    /// Finds a local domain's entry (`%d`); combined with `domains`.
    public var domainFilter: LookupTemplate?
    public var domains: Set<String>
    /// `true`: check passwords by binding as the user's DN (Dovecot `auth_bind = yes`);
    /// `false`: read `passwordAttribute` and verify its `{SCHEME}hash` here.
    public var authBind: Bool
    public var passwordAttribute: String
    /// The attribute holding the account's address (its mailbox and canonical login).
    public var mailAttribute: String
    public var timeout: Duration
    /// Connections (and threads) for lookups.
    public var maximumConnections: Int

    public enum Scope: String, Sendable {
        case base, onelevel, subtree

        var ldapValue: Int32 {
            switch self {
            case .base: 0  // LDAP_SCOPE_BASE
            case .onelevel: 1  // LDAP_SCOPE_ONELEVEL
            case .subtree: 2  // LDAP_SCOPE_SUBTREE
            }
        }
    }

    public init(
        uri: String, startTLS: Bool = false, caFile: String? = nil, bindDN: String? = nil, bindPassword: String? = nil,
        base: String, scope: Scope = .subtree, userFilter: LookupTemplate, recipientFilter: LookupTemplate? = nil,
        iterateFilter: String? = nil, domainFilter: LookupTemplate? = nil, domains: Set<String> = [],
        authBind: Bool = true, passwordAttribute: String = "userPassword", mailAttribute: String = "mail",
        timeout: Duration = .seconds(5), maximumConnections: Int = 4
    ) {
        self.uri = uri
        self.startTLS = startTLS
        self.caFile = caFile
        self.bindDN = bindDN
        self.bindPassword = bindPassword
        self.base = base
        self.scope = scope
        self.userFilter = userFilter
        self.recipientFilter = recipientFilter
        self.iterateFilter = iterateFilter
        self.domainFilter = domainFilter
        self.domains = domains
        self.authBind = authBind
        self.passwordAttribute = passwordAttribute
        self.mailAttribute = mailAttribute
        self.timeout = timeout
        self.maximumConnections = maximumConnections
    }
}

/// An LDAP user database.
public final class LDAPDirectory: AccountDirectory {
    public let configuration: LDAPDirectoryConfiguration
    private let threads: NIOThreadPool
    /// Idle connections bound as `bindDN`, for searches.
    private let idle = Mutex<[LDAPConnection]>([])
    private let logger: Logger

    public init(configuration: LDAPDirectoryConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.threads = NIOThreadPool(numberOfThreads: max(1, configuration.maximumConnections))
        threads.start()
    }

    deinit {
        threads.shutdownGracefully { _ in }
    }

    // MARK: - AccountDirectory

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        let domain = domain.lowercased()
        if configuration.domains.contains(domain) { return true }
        guard let filter = configuration.domainFilter,
            let probe = MailAddress(localPart: "postmaster", domain: domain)
        else { return false }
        return try await search(filter.expand(for: probe, escape: LDAPFilter.escape), attributes: ["1.1"], limit: 1)
            .isEmpty == false
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login), let entry = try await userEntry(address) else { return nil }
        return account(entry, login: address)
    }

    public func checkPassword(login: String, password: String) async throws(DirectoryError) -> PasswordCheck {
        guard let address = MailAddress(login), let entry = try await userEntry(address),
            let account = account(entry, login: address)
        else { return .unknownUser }
        if let hash = account.passwordHash {
            return await hash.verifyOffThread(password) ? .success(account) : .wrongPassword(account)
        }
        // RFC 4513 §5.1.2: a simple bind with a DN and an empty password is an
        // "unauthenticated" bind that many servers answer with success.
        // An empty DN with a password is an anonymous bind on some servers.
        guard !password.isEmpty, !password.utf8.contains(0), !entry.dn.isEmpty,
            password.utf8.count <= PasswordHash.maximumPasswordLength
        else { return .wrongPassword(account) }
        let configuration = self.configuration
        let ok = try await onThread { () throws -> Bool in
            let connection = try LDAPConnection(configuration)
            defer { connection.close() }
            return try connection.bind(dn: entry.dn, password: password, allowInvalidCredentials: true)
        }
        return ok ? .success(account) : .wrongPassword(account)
    }

    public func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        guard try await isLocalDomain(recipient.domain) else { return .notLocalDomain }
        let filter = configuration.recipientFilter ?? configuration.userFilter
        var candidates = [recipient]
        if let base = recipient.withoutDetail.flatMap(MailAddress.init) { candidates.append(base) }
        for candidate in candidates {
            let entries = try await search(
                filter.expand(for: candidate, escape: LDAPFilter.escape), attributes: [configuration.mailAttribute],
                limit: 2)
            // An entry without an address is no mailbox (see `mailAddress`).
            if let entry = entries.first, let address = mailAddress(entry, preferring: candidate) {
                return .deliver(local: [address], forward: [])
            }
        }
        return .unknownUser
    }

    public func logins() async throws(DirectoryError) -> [String]? {
        guard let filter = configuration.iterateFilter else { return nil }
        return try await search(filter, attributes: [configuration.mailAttribute], limit: 1_000_000)
            .compactMap { mailAddress($0)?.canonical }
    }

    // MARK: - Entries

    private func userEntry(_ address: MailAddress) async throws(DirectoryError) -> LDAPEntry? {
        var attributes = [configuration.mailAttribute]
        if !configuration.authBind { attributes.append(configuration.passwordAttribute) }
        let filter = configuration.userFilter.expand(for: address, escape: LDAPFilter.escape)
        let entries = try await search(filter, attributes: attributes, limit: 2)
        // Dovecot refuses an ambiguous login too: two entries for one filter means the
        // filter is wrong, and guessing could log into the wrong account.
        guard entries.count <= 1 else {
            throw DirectoryError(.storage, "LDAP: user_filter matched more than one entry for \(address.canonical)")
        }
        return entries.first
    }

    /// The account of an entry: its address comes from `mail_attribute`, never from
    /// what the client typed — with a filter such as `(uid=%n)` the typed domain is not
    /// checked, and `bob@other.example` must not open another Bob's mailbox. An entry
    /// without an address is not an account.
    private func account(_ entry: LDAPEntry, login: MailAddress) -> Account? {
        guard let address = mailAddress(entry, preferring: login) else {
            logger.warning(
                "LDAP entry has no usable address; not an account",
                metadata: ["dn": "\(entry.dn)", "attribute": "\(configuration.mailAttribute)"])
            return nil
        }
        guard !configuration.authBind else { return Account(address: address, passwordHash: nil) }
        let stored = entry.values(configuration.passwordAttribute).lazy.compactMap { try? PasswordHash(parsing: $0) }.first
        // No readable hash: an account nobody can log into.
        return Account(address: address, passwordHash: stored ?? PasswordHash(scheme: .init(algorithm: .crypt), encoded: "*"))
    }

    /// The entry's address: the value equal to `preferred` if there is one, else the
    /// smallest (attribute values have no order, RFC 4511 §4.1.7, so the choice must not
    /// depend on the order the server sends them in).
    private func mailAddress(_ entry: LDAPEntry, preferring preferred: MailAddress? = nil) -> MailAddress? {
        let addresses = entry.values(configuration.mailAttribute).compactMap(MailAddress.init)
        if let preferred, let match = addresses.first(where: { $0.canonical == preferred.canonical }) { return match }
        return addresses.min { $0.canonical < $1.canonical }
    }

    // MARK: - Connections

    private func search(_ filter: String, attributes: [String], limit: Int) async throws(DirectoryError) -> [LDAPEntry] {
        let configuration = self.configuration
        return try await onThread { () throws -> [LDAPEntry] in
            // A pooled connection may have been closed by the server since: one retry
            // on a fresh connection.
            for attempt in 0..<2 {
                let connection = try self.idle.withLock { $0.popLast() } ?? LDAPConnection.bound(configuration)
                do {
                    let entries = try connection.search(
                        base: configuration.base, scope: configuration.scope.ldapValue, filter: filter,
                        attributes: attributes, limit: limit, timeout: configuration.timeout)
                    self.idle.withLock { pool in
                        if pool.count < configuration.maximumConnections { pool.append(connection) } else { connection.close() }
                    }
                    return entries
                } catch {
                    connection.close()
                    if attempt == 1 || !error.isConnectionLost { throw error.directoryError }
                }
            }
            throw DirectoryError(.storage, "LDAP: search failed")
        }
    }

    private func onThread<T: Sendable>(
        _ body: @escaping @Sendable () throws -> T
    ) async throws(DirectoryError) -> T {
        do {
            return try await threads.runIfActive(body)
        } catch let error as DirectoryError {
            throw error
        } catch let error as LDAPError {
            throw error.directoryError
        } catch {
            throw DirectoryError(.storage, "LDAP: \(error)")
        }
    }
}

/// One search result: its DN and the requested attributes' values.
struct LDAPEntry: Sendable {
    var dn: String
    var attributes: [String: [String]]

    /// Attribute names are case-insensitive (RFC 4512 §2.5).
    func values(_ name: String) -> [String] {
        let wanted = name.lowercased()
        return attributes.first { $0.key.lowercased() == wanted }?.value ?? []
    }
}

struct LDAPError: Error, CustomStringConvertible {
    let code: Int32
    let operation: String
    let detail: String

    var description: String { "LDAP \(operation): \(detail)" }
    var isConnectionLost: Bool { code == -1 /* LDAP_SERVER_DOWN */ || code == -11 /* LDAP_CONNECT_ERROR */ }
    var directoryError: DirectoryError { DirectoryError(.storage, description) }
}

extension Error {
    fileprivate var isConnectionLost: Bool { (self as? LDAPError)?.isConnectionLost ?? false }
    fileprivate var directoryError: DirectoryError {
        (self as? DirectoryError) ?? (self as? LDAPError)?.directoryError ?? DirectoryError(.storage, "LDAP: \(self)")
    }
}

/// One libldap connection (`LDAP *`). Not thread-safe by itself: used by one thread
/// at a time (checked out of the pool, or made for one bind).
final class LDAPConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private var closed = false

    /// Opens (lazily, libldap connects on first use) with the options and TLS of
    /// `configuration`, and StartTLS when asked.
    init(_ configuration: LDAPDirectoryConfiguration) throws(LDAPError) {
        var ld: OpaquePointer?
        let status = ldap_initialize(&ld, configuration.uri)
        guard status == LDAP_SUCCESS, let ld else {
            throw LDAPError(code: status, operation: "initialize \(configuration.uri)", detail: Self.message(status))
        }
        handle = ld
        var version: Int32 = 3  // LDAP_VERSION3
        _ = ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)
        _ = ldap_set_option(ld, LDAP_OPT_REFERRALS, nil)  // LDAP_OPT_OFF: never chase referrals elsewhere
        let (seconds, attoseconds) = configuration.timeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &timeout)
        _ = ldap_set_option(ld, LDAP_OPT_TIMEOUT, &timeout)
        var demand: Int32 = LDAP_OPT_X_TLS_DEMAND
        _ = ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand)
        if let caFile = configuration.caFile {
            _ = caFile.withCString { ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, $0) }
        }
        var isServer: Int32 = 0
        _ = ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &isServer)
        if configuration.startTLS {
            let status = ldap_start_tls_s(ld, nil, nil)
            guard status == LDAP_SUCCESS else {
                let error = LDAPError(code: status, operation: "StartTLS to \(configuration.uri)", detail: diagnostic(status))
                close()
                throw error
            }
        }
    }

    /// A connection bound as the configured search DN (or anonymous).
    static func bound(_ configuration: LDAPDirectoryConfiguration) throws(LDAPError) -> LDAPConnection {
        let connection = try LDAPConnection(configuration)
        if let dn = configuration.bindDN {
            do {
                _ = try connection.bind(dn: dn, password: configuration.bindPassword ?? "", allowInvalidCredentials: false)
            } catch {
                connection.close()
                throw error
            }
        }
        return connection
    }

    /// A simple bind. With `allowInvalidCredentials`, wrong credentials return false
    /// instead of throwing (a user's login, not the service account's).
    func bind(dn: String, password: String, allowInvalidCredentials: Bool) throws(LDAPError) -> Bool {
        var bytes = Array(password.utf8)
        let status = bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: max(buffer.count, 1)) { pointer in
                var credential = berval(bv_len: ber_len_t(buffer.count), bv_val: buffer.isEmpty ? nil : pointer)
                return ldap_sasl_bind_s(handle, dn, nil, &credential, nil, nil, nil)
            }
        }
        // The password's bytes do not outlive the call.
        for index in bytes.indices { bytes[index] = 0 }
        if status == LDAP_SUCCESS { return true }
        if status == LDAP_INVALID_CREDENTIALS && allowInvalidCredentials { return false }
        throw LDAPError(code: status, operation: "bind as \(dn)", detail: diagnostic(status))
    }

    func search(
        base: String, scope: Int32, filter: String, attributes: [String], limit: Int, timeout: Duration
    ) throws(LDAPError) -> [LDAPEntry] {
        var cAttributes: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
        defer { for pointer in cAttributes { free(pointer) } }
        let (seconds, attoseconds) = timeout.components
        var limitTime = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        var result: OpaquePointer?
        let status = ldap_search_ext_s(
            handle, base, scope, filter, &cAttributes, 0, nil, nil, &limitTime, Int32(clamping: limit), &result)
        defer { if let result { ldap_msgfree(result) } }
        // A size limit reached still returns the entries found so far.
        guard status == LDAP_SUCCESS || status == LDAP_SIZELIMIT_EXCEEDED || status == LDAP_NO_SUCH_OBJECT else {
            throw LDAPError(code: status, operation: "search \(filter) under \(base)", detail: diagnostic(status))
        }
        var entries: [LDAPEntry] = []
        var entry = ldap_first_entry(handle, result)
        while let current = entry {
            var dn = ""
            if let pointer = ldap_get_dn(handle, current) {
                dn = String(cString: pointer)
                ldap_memfree(pointer)
            }
            var values: [String: [String]] = [:]
            for attribute in attributes where attribute != "1.1" {
                guard let list = ldap_get_values_len(handle, current, attribute) else { continue }
                var index = 0
                var strings: [String] = []
                while let value = list[index] {
                    let buffer = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
                    strings.append(String(decoding: buffer, as: UTF8.self))
                    index += 1
                }
                ldap_value_free_len(list)
                values[attribute] = strings
            }
            entries.append(LDAPEntry(dn: dn, attributes: values))
            entry = ldap_next_entry(handle, current)
        }
        return entries
    }

    func close() {
        guard !closed else { return }
        closed = true
        ldap_unbind_ext_s(handle, nil, nil)
    }

    deinit { close() }

    /// libldap's message for a status, with the server's diagnostic when it sent one.
    private func diagnostic(_ status: Int32) -> String {
        var pointer: UnsafeMutablePointer<CChar>?
        var text = Self.message(status)
        if ldap_get_option(handle, LDAP_OPT_DIAGNOSTIC_MESSAGE, &pointer) == LDAP_SUCCESS, let pointer {
            let detail = String(cString: pointer)
            if !detail.isEmpty { text += " (\(detail))" }
            ldap_memfree(pointer)
        }
        return text
    }

    private static func message(_ status: Int32) -> String {
        String(cString: ldap_err2string(status))
    }
}
