public import Directory
import Foundation
public import Logging
public import NIOCore
import NIOPosix
import MailQueue
import MailStore
import MaildirStore
import NIOSSL
import DovecotAuthProtocol
import POP3Protocol
import POP3Server
import IMAPProtocol
import IMAPServer
import DovecotAuthServer
import LDAPDirectory
import SQLDirectory
import NIOConcurrencyHelpers
import SASL
import SMTPProtocol
import SMTPServer
import ServerSupport
public import ServiceLifecycle
public import UnixSignals

/// The running mail server: the directory, the authenticator and one listener per
/// enabled service, run as one `ServiceGroup`.
///
/// `start` does everything that can fail because of the environment — data directory,
/// database, certificate, binding every port — before anything serves, so a bad
/// configuration stops the program with one clear message and nothing half-started.
public final class Server: Sendable {
    public let configuration: Configuration
    public let dataDirectory: String
    /// The embedded directory (what `tsubame user …` manages).
    public let directory: SQLiteDirectory
    /// Every configured user database, in order (`[auth] sources`).
    public let userDatabases: DirectoryChain
    public let authenticator: Authenticator
    /// The bound address of each enabled service (the real port when 0 was asked).
    public let boundAddresses: [ServiceKind: SocketAddress]
    private let group: ServiceGroup

    private init(
        configuration: Configuration, dataDirectory: String, directory: SQLiteDirectory, userDatabases: DirectoryChain,
        authenticator: Authenticator, boundAddresses: [ServiceKind: SocketAddress], group: ServiceGroup
    ) {
        self.configuration = configuration
        self.dataDirectory = dataDirectory
        self.directory = directory
        self.userDatabases = userDatabases
        self.authenticator = authenticator
        self.boundAddresses = boundAddresses
        self.group = group
    }

    /// Paths inside the data directory.
    public enum Paths {
        public static func directoryDatabase(_ data: String) -> String { data + "/directory.sqlite" }
        public static func certificate(_ data: String) -> String { data + "/tls/cert.pem" }
        public static func key(_ data: String) -> String { data + "/tls/key.pem" }
        public static func configuration(_ data: String) -> String { data + "/tsubame.toml" }
        /// Maildirs: `<data>/mail/<domain>/<user>/` (Dovecot's `maildir:~/%d/%n`).
        public static func mail(_ data: String) -> String { data + "/mail" }
        /// The outbound spool.
        public static func queue(_ data: String) -> String { data + "/queue" }
    }

    /// Prepares the data directory and binds every enabled service.
    ///
    /// - Parameter signals: signals that start a graceful shutdown (SIGTERM, SIGINT
    ///   for `tsubame serve`; none in tests, which call `shutdown()`).
    public static func start(
        configuration: Configuration, dataDirectory: String, signals: [UnixSignal] = [], logger: Logger
    ) async throws -> Server {
        try FileManager.default.createDirectory(
            atPath: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let directory = try SQLiteDirectory(path: Paths.directoryDatabase(dataDirectory))
        let databases = try userDatabases(configuration, dataDirectory: dataDirectory, sqlite: directory)
        let userDatabases = databases.chain
        var policy = ThrottlePolicy()
        policy.window = configuration.auth.failureWindow
        policy.initialDelay = configuration.auth.failureDelay
        policy.maximumDelay = configuration.auth.maximumFailureDelay
        policy.refuseAfterFailuresPerAddress = configuration.auth.maximumFailuresPerAddress
        policy.refuseAfterFailuresPerAccount = configuration.auth.maximumFailuresPerAccount
        let authenticator = Authenticator(
            directory: userDatabases, policy: policy, logger: Logger(label: "tsubame.auth"))

        // One store and one notifier for every protocol: sessions that have the same
        // mailbox open share its state, and IDLE hears of deliveries at once.
        let notifier = MailboxChangeNotifier()
        let mailStore = MaildirMailboxStore(root: Paths.mail(dataDirectory), notifier: notifier)
        let delivery = MaildirDelivery(root: Paths.mail(dataDirectory), hostname: configuration.hostname, notifier: notifier)
        // Mail for other domains: spooled by submission, delivered by the queue runner
        // (which starts at once when something is spooled).
        let spool = Spool(directory: Paths.queue(dataDirectory))
        let queueService = try OutboundWiring.makeRunner(
            configuration, spool: spool, delivery: delivery, directory: userDatabases,
            group: MultiThreadedEventLoopGroup.singleton)
        let queueRunner = queueService.runner
        spool.observeEnqueues { id in queueRunner.enqueued(id) }
        let smtpServices = SMTPServices(
            directory: userDatabases, authenticator: authenticator,
            delivery: delivery,
            spool: spool, logger: Logger(label: "tsubame.smtp"),
            senderAllowances: configuration.smtp.senderAllowances,
            now: { Int64(Date().timeIntervalSince1970) })

        let pop3Services = POP3Services(
            authenticator: authenticator, store: mailStore,
            uidlFormat: try UIDLFormat(parsing: configuration.pop3.uidlFormat),
            retrieveMarksSeen: configuration.pop3.retrieveMarksSeen,
            loginDelay: configuration.pop3.loginDelay.map { LoginDelay(seconds: Int($0.components.seconds)) },
            logger: Logger(label: "tsubame.pop3"))

        let mechanisms = configuration.smtp.authMechanisms.compactMap(SASLMechanism.init(name:))
        var imapLimits = IMAPLimits()
        imapLimits.maximumMessageSize = configuration.smtp.maximumMessageSize
        let imapServices = IMAPServices(
            authenticator: authenticator, store: mailStore, notifier: notifier, logger: Logger(label: "tsubame.imap"),
            mechanisms: mechanisms, allowPlaintextAuth: configuration.auth.allowPlaintext, limits: imapLimits)

        let enabled = configuration.listen.services.compactMap { entry in entry.address.map { (entry.service, $0) } }
        let tlsContext = enabled.isEmpty ? nil : try makeTLSContext(configuration, dataDirectory: dataDirectory, logger: logger)

        // First in the group, so shut down last: sessions finishing their work may still log in.
        var services: [any Service] = databases.services
        // After the user databases (bounces look up local domains), before the
        // listeners: it stops after every session has handed over its mail.
        services.append(queueService)
        var bound: [ServiceKind: SocketAddress] = [:]
        var listeners: [any ClosableListener] = []
        do {
            for (service, address) in enabled {
                let socketAddress: SocketAddress
                do {
                    socketAddress = try SocketAddress.makeAddressResolvingHost(address.host, port: address.port)
                } catch {
                    throw ListenerError.cannotBind(service.rawValue, address.description, "\(error)")
                }
                let listener = try await bindListener(
                    service, address: socketAddress, configuration: configuration, tlsContext: tlsContext,
                    smtpServices: smtpServices, pop3Services: pop3Services, imapServices: imapServices,
                    logger: logger)
                listeners.append(listener)
                services.append(listener)
                bound[service] = listener.localAddress
            }
            if !configuration.authSocket.path.isEmpty {
                let listener = try await bindAuthSocket(configuration, authenticator: authenticator, logger: logger)
                listeners.append(listener)
                services.append(listener)
            }
        } catch {
            for listener in listeners { await listener.close() }
            throw error
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) }, gracefulShutdownSignals: signals, logger: logger))
        return Server(
            configuration: configuration, dataDirectory: dataDirectory, directory: directory,
            userDatabases: userDatabases, authenticator: authenticator, boundAddresses: bound, group: group)
    }

    /// Serves until a shutdown signal or `shutdown()`, then finishes open sessions
    /// (bounded by `[limits] shutdown_grace`) and returns.
    public func run() async throws {
        try await group.run()
    }

    /// Starts a graceful shutdown, as SIGTERM does.
    public func shutdown() async {
        await group.triggerGracefulShutdown()
    }

    private static func makeTLSContext(
        _ configuration: Configuration, dataDirectory: String, logger: Logger
    ) throws -> NIOSSLContext {
        if let certificate = configuration.tls.certificate, let key = configuration.tls.key {
            return try TLSCertificates.serverContext(certificatePath: certificate, keyPath: key)
        }
        let certificate = Paths.certificate(dataDirectory)
        let key = Paths.key(dataDirectory)
        if !FileManager.default.fileExists(atPath: certificate) {
            logger.notice(
                "no [tls] certificate configured: making a self-signed one",
                metadata: ["hostname": "\(configuration.hostname)", "path": "\(certificate)"])
        }
        try TLSCertificates.ensureSelfSigned(hostname: configuration.hostname, certificatePath: certificate, keyPath: key)
        return try TLSCertificates.serverContext(certificatePath: certificate, keyPath: key)
    }

    private static func bindListener(
        _ service: ServiceKind, address: SocketAddress, configuration: Configuration, tlsContext: NIOSSLContext?,
        smtpServices: SMTPServices, pop3Services: POP3Services, imapServices: IMAPServices, logger: Logger
    ) async throws -> any ClosableListener {
        var limits = ListenerLimits()
        limits.maximumConnections = configuration.limits.maximumConnections
        limits.maximumConnectionsPerAddress = configuration.limits.maximumConnectionsPerAddress
        limits.maximumLineLength = configuration.limits.maximumLineLength
        let hostname = configuration.hostname
        let grace = configuration.limits.shutdownGrace
        switch service {
        case .smtp, .submission, .submissions:
            limits.idleTimeout = timeAmount(configuration.limits.smtpIdleTimeout)
            let smtp = smtpConfiguration(configuration, role: service == .smtp ? .mx : .submission)
            // RFC 5321 §4.5.3.1.4 and RFC 4954 §4: a command line is short; AUTH data
            // lines may reach 12288 octets.
            limits.maximumLineLength = max(smtp.limits.maximumCommandLineLength, 12288)
            return try await Listener<SMTPSession>.bind(
                name: service.rawValue, address: address, tlsMode: service.tlsMode, tlsContext: tlsContext,
                limits: limits, shutdownGracePeriod: grace, logger: logger,
                refusal: { _ in String(buffer: SMTPReply.tooManyConnections(hostname).encoded) },
                makeSession: { context in SMTPSession(configuration: smtp, context: context, services: smtpServices) })
        case .pop3, .pop3s:
            limits.idleTimeout = timeAmount(configuration.limits.pop3IdleTimeout)
            let mechanisms = configuration.smtp.authMechanisms.compactMap(SASLMechanism.init(name:))
            let allowPlaintext = configuration.auth.allowPlaintext
            let maximumLineLength = limits.maximumLineLength
            let loginDelay = configuration.pop3.loginDelay.map { Int($0.components.seconds) }
            let expire = configuration.pop3.expire
            return try await Listener<POP3Session>.bind(
                name: service.rawValue, address: address, tlsMode: service.tlsMode, tlsContext: tlsContext,
                limits: limits, shutdownGracePeriod: grace, logger: logger,
                refusal: { _ in "-ERR [SYS/TEMP] Too many connections, try again later\r\n" },
                makeSession: { context in
                    var pop3 = POP3ServerStateMachine.Configuration(hostname: hostname, sessionID: context.sessionID)
                    pop3.mechanisms = mechanisms
                    pop3.allowPlaintextAuth = allowPlaintext
                    pop3.canStartTLS = context.canStartTLS
                    pop3.isTLS = context.isImplicitTLS
                    pop3.maximumLineLength = maximumLineLength
                    pop3.loginDelaySeconds = loginDelay
                    pop3.expire = expire
                    return POP3Session(configuration: pop3, context: context, services: pop3Services)
                })
        case .imap, .imaps:
            limits.idleTimeout = timeAmount(configuration.limits.imapIdleTimeout)
            // The framer refuses over-long commands itself (IMAPLimits) and must see them
            // to do so cleanly: the connection's line limit sits above its own.
            limits.maximumLineLength = max(limits.maximumLineLength, imapServices.limits.maximumCommandLength) + 1024
            return try await Listener<IMAPSession>.bind(
                name: service.rawValue, address: address, tlsMode: service.tlsMode, tlsContext: tlsContext,
                limits: limits, shutdownGracePeriod: grace, logger: logger,
                refusal: { _ in "* BYE [UNAVAILABLE] Too many connections, try again later\r\n" },
                makeSession: { context in IMAPSession(context: context, services: imapServices) })
        }
    }

    /// The `[auth] sources` chain; `sqlite` is the embedded directory. Reads the
    /// password files; throws a message for the operator when one is unreadable.
    public static func userDatabases(
        _ configuration: Configuration, dataDirectory: String, sqlite: SQLiteDirectory,
        logger: Logger = Logger(label: "tsubame.auth")
    ) throws -> UserDatabases {
        var sources: [DirectoryChain.Source] = []
        var services: [any Service] = []
        for source in configuration.auth.sources {
            switch source {
            case "sql":
                guard let sql = configuration.auth.sql else { continue }
                let directory = try SQLDirectory(configuration: try sqlConfiguration(sql), logger: logger)
                services.append(directory)
                sources.append(.init(name: "sql (\(sql.host):\(sql.port)/\(sql.database))", directory: directory))
            case "ldap":
                guard let ldap = configuration.auth.ldap else { continue }
                let directory = LDAPDirectory(configuration: try ldapConfiguration(ldap), logger: logger)
                let loopback = ["ldap://127.", "ldap://localhost", "ldap://[::1]"]
                if !ldap.startTLS, ldap.uri.split(separator: " ").contains(where: { uri in
                    uri.hasPrefix("ldap://") && !loopback.contains(where: { uri.hasPrefix($0) })
                }) {
                    logger.warning(
                        "[auth.ldap] talks to the directory without TLS: bind passwords cross the network in clear; use ldaps:// or starttls = true",
                        metadata: ["uri": "\(ldap.uri)"])
                }
                sources.append(.init(name: "ldap (\(ldap.uri))", directory: directory))
            case _ where source.hasPrefix("passwd-file:"):
                let path = String(source.dropFirst("passwd-file:".count))
                sources.append(.init(name: "passwd-file (\(path))", directory: PasswdFileDirectory(path: path)))
            default:
                sources.append(.init(name: "sqlite (\(Paths.directoryDatabase(dataDirectory)))", directory: sqlite))
            }
        }
        return UserDatabases(chain: DirectoryChain(sources: sources), services: services)
    }

    static func sqlConfiguration(_ sql: Configuration.Auth.SQL) throws -> SQLDirectoryConfiguration {
        func template(_ text: String?, _ key: String) throws -> SQLQueryTemplate? {
            guard let text else { return nil }
            do {
                return try SQLQueryTemplate(parsing: text)
            } catch {
                throw ConfigurationProblem("[auth.sql] \(key): \(error)")
            }
        }
        return SQLDirectoryConfiguration(
            host: sql.host, port: sql.port, user: sql.user,
            password: try sql.password ?? sql.passwordFile.map { try readSecret($0, key: "[auth.sql] password_file") },
            database: sql.database, tls: SQLDirectoryConfiguration.TLS(rawValue: sql.tls) ?? .prefer, caFile: sql.caFile,
            passwordQuery: try template(sql.passwordQuery, "password_query")!,
            userQuery: try template(sql.userQuery, "user_query"),
            iterateQuery: try template(sql.iterateQuery, "iterate_query"),
            domainQuery: try template(sql.domainQuery, "domain_query"), domains: Set(sql.domains),
            maximumConnections: sql.maximumConnections, queryTimeout: sql.timeout)
    }

    static func ldapConfiguration(_ ldap: Configuration.Auth.LDAP) throws -> LDAPDirectoryConfiguration {
        func template(_ text: String?, _ key: String) throws -> LookupTemplate? {
            guard let text else { return nil }
            do {
                return try LookupTemplate(parsing: text)
            } catch {
                throw ConfigurationProblem("[auth.ldap] \(key): \(error)")
            }
        }
        return LDAPDirectoryConfiguration(
            uri: ldap.uri, startTLS: ldap.startTLS, caFile: ldap.caFile, bindDN: ldap.bindDN,
            bindPassword: try ldap.bindPassword
                ?? ldap.bindPasswordFile.map { try readSecret($0, key: "[auth.ldap] bind_password_file") },
            base: ldap.base, scope: LDAPDirectoryConfiguration.Scope(rawValue: ldap.scope) ?? .subtree,
            userFilter: try template(ldap.userFilter, "user_filter")!,
            recipientFilter: try template(ldap.recipientFilter, "recipient_filter"), iterateFilter: ldap.iterateFilter,
            domainFilter: try template(ldap.domainFilter, "domain_filter"), domains: Set(ldap.domains),
            authBind: ldap.authBind, passwordAttribute: ldap.passwordAttribute, mailAttribute: ldap.mailAttribute,
            timeout: ldap.timeout, maximumConnections: ldap.maximumConnections)
    }

    /// The first line of a password file.
    private static func readSecret(_ path: String, key: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationProblem("\(key): cannot read \(path)")
        }
        let text = String(decoding: data, as: UTF8.self)
        return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
    }

    /// The Dovecot-protocol auth socket: a stale socket file is replaced, then mode and
    /// owner are set before anything is accepted (a Listener accepts only in `run()`).
    private static func bindAuthSocket(
        _ configuration: Configuration, authenticator: Authenticator, logger: Logger
    ) async throws -> any ClosableListener {
        let socket = configuration.authSocket
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: socket.path, isDirectory: &isDirectory), !isDirectory.boolValue {
            try? FileManager.default.removeItem(atPath: socket.path)
        }
        var limits = ListenerLimits()
        limits.maximumConnections = configuration.limits.maximumConnections
        // Every client is "local": one Postfix smtpd process is one connection.
        limits.maximumConnectionsPerAddress = configuration.limits.maximumConnections
        limits.maximumLineLength = DovecotAuthLimits().maximumLineLength
        limits.idleTimeout = .hours(24 * 365)
        let cookie = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        let mechanisms = configuration.smtp.authMechanisms.compactMap(SASLMechanism.init(name:))
        let allowPlaintext = configuration.auth.allowPlaintext
        let connections = ManagedAtomicCounter()
        let listener = try await Listener<DovecotAuthSession>.bind(
            name: "auth_socket", address: try SocketAddress(unixDomainSocketPath: socket.path), tlsMode: .startTLS,
            tlsContext: nil, limits: limits, shutdownGracePeriod: .seconds(1), logger: logger,
            refusal: { _ in "" },
            makeSession: { context in
                DovecotAuthSession(
                    configuration: .init(
                        mechanisms: mechanisms, serverPID: Int(getpid()), connectionID: connections.next(),
                        cookie: cookie, allowPlaintext: allowPlaintext),
                    context: context, authenticator: authenticator)
            })
        guard chmod(socket.path, mode_t(socket.mode)) == 0 else {
            await listener.close()
            throw ListenerError.cannotBind("auth_socket", socket.path, "chmod: \(String(cString: strerror(errno)))")
        }
        if socket.user != nil || socket.group != nil {
            let uid = socket.user.map { name in getpwnam(name)?.pointee.pw_uid } ?? uid_t.max
            let gid = socket.group.map { name in getgrnam(name)?.pointee.gr_gid } ?? gid_t.max
            guard let uid, let gid, chown(socket.path, uid, gid) == 0 else {
                await listener.close()
                throw ListenerError.cannotBind(
                    "auth_socket", socket.path, "cannot give it to \(socket.user ?? "-"):\(socket.group ?? "-") (unknown name, or not root)")
            }
        }
        return listener
    }

    static func smtpConfiguration(
        _ configuration: Configuration, role: SMTPServerStateMachine.Role
    ) -> SMTPServerStateMachine.Configuration {
        var smtp = SMTPServerStateMachine.Configuration(role: role, hostname: configuration.hostname)
        smtp.limits.maximumMessageSize = configuration.smtp.maximumMessageSize
        smtp.limits.maximumRecipients = configuration.smtp.maximumRecipients
        smtp.limits.maximumErrors = configuration.smtp.maximumErrors
        smtp.limits.maximumCommandLineLength = min(configuration.limits.maximumLineLength, 2048)
        smtp.allowPlaintextAuth = configuration.auth.allowPlaintext
        smtp.mechanisms = configuration.smtp.authMechanisms.compactMap(SASLMechanism.init(name:))
        smtp.bareLineEndings = configuration.smtp.bareLineEndings == "normalize" ? .normalize : .reject
        smtp.receivedHeaderShowsTLS = configuration.smtp.receivedHeaderTLS
        smtp.receivedHeaderShowsLogin = configuration.smtp.receivedHeaderLogin
        return smtp
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// A bound listener of any protocol, for start-up clean-up.
protocol ClosableListener: Service {
    var localAddress: SocketAddress { get }
    func close() async
}

extension Listener: ClosableListener {}

/// Connection numbers for the auth socket's CUID.
final class ManagedAtomicCounter: Sendable {
    private let value = NIOLockedValueBox(0)

    func next() -> Int { value.withLockedValue { $0 += 1; return $0 } }
}

/// The configured user databases and what must run while they are used.
public struct UserDatabases: Sendable {
    public let chain: DirectoryChain
    /// Background work the databases need (PostgreSQL's connection pool).
    public let services: [any Service]

    /// Runs `body` with the databases' services running (for one-off commands such
    /// as `tsubame auth test`; the server runs them in its ServiceGroup).
    public func withRunning<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try? await service.run() } }
            defer { group.cancelAll() }
            return try await body()
        }
    }
}

/// A configuration value that cannot be used (a password file that cannot be read).
public struct ConfigurationProblem: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
