public import Directory
public import Foundation
public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
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
    public let directory: SQLiteDirectory
    public let authenticator: Authenticator
    /// The bound address of each enabled service (the real port when 0 was asked).
    public let boundAddresses: [ServiceKind: SocketAddress]
    private let group: ServiceGroup

    private init(
        configuration: Configuration, dataDirectory: String, directory: SQLiteDirectory, authenticator: Authenticator,
        boundAddresses: [ServiceKind: SocketAddress], group: ServiceGroup
    ) {
        self.configuration = configuration
        self.dataDirectory = dataDirectory
        self.directory = directory
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
        var policy = ThrottlePolicy()
        policy.window = configuration.auth.failureWindow
        policy.initialDelay = configuration.auth.failureDelay
        policy.maximumDelay = configuration.auth.maximumFailureDelay
        policy.refuseAfterFailuresPerAddress = configuration.auth.maximumFailuresPerAddress
        policy.refuseAfterFailuresPerAccount = configuration.auth.maximumFailuresPerAccount
        let authenticator = Authenticator(
            directory: directory, policy: policy, logger: Logger(label: "tsubame.auth"))

        let enabled = configuration.listen.services.compactMap { entry in entry.address.map { (entry.service, $0) } }
        let tlsContext = enabled.isEmpty ? nil : try makeTLSContext(configuration, dataDirectory: dataDirectory, logger: logger)

        var services: [any Service] = []
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
                    logger: logger)
                listeners.append(listener)
                services.append(listener)
                bound[service] = listener.localAddress
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
            authenticator: authenticator, boundAddresses: bound, group: group)
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
        logger: Logger
    ) async throws -> any ClosableListener {
        var limits = ListenerLimits()
        limits.maximumConnections = configuration.limits.maximumConnections
        limits.maximumConnectionsPerAddress = configuration.limits.maximumConnectionsPerAddress
        limits.maximumLineLength = configuration.limits.maximumLineLength
        let dialect = PlaceholderSession.Dialect(service)
        switch dialect {
        case .smtp: limits.idleTimeout = timeAmount(configuration.limits.smtpIdleTimeout)
        case .imap: limits.idleTimeout = timeAmount(configuration.limits.imapIdleTimeout)
        case .pop3: limits.idleTimeout = timeAmount(configuration.limits.pop3IdleTimeout)
        }
        let hostname = configuration.hostname
        return try await Listener<PlaceholderSession>.bind(
            name: service.rawValue, address: address, tlsMode: service.tlsMode, tlsContext: tlsContext, limits: limits,
            shutdownGracePeriod: configuration.limits.shutdownGrace, logger: logger,
            refusal: { _ in PlaceholderSession.refusalMessage(dialect, hostname: hostname) },
            makeSession: { context in PlaceholderSession(dialect: dialect, context: context, hostname: hostname) })
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
