public import Logging
public import NIOCore
import NIOConcurrencyHelpers
public import NIOPosix
public import NIOSSL
public import ServiceLifecycle

/// One TCP listener serving one protocol (`smtp`, `imaps`, …), as a `Service`.
///
/// `bind` opens the socket up front, so a configuration that cannot listen fails at
/// start-up with the address in the message. `run` serves until graceful shutdown,
/// then stops accepting, tells every open session to finish (`ServerShutdownEvent`),
/// waits up to `shutdownGracePeriod` for them to close, and closes the rest.
public final class Listener<Session: LineSession>: Service, Sendable {
    public let name: String
    public let localAddress: SocketAddress
    public let shutdownGracePeriod: Duration
    private let serverChannel: any Channel
    private let connections: ConnectionRegistry
    private let limiter: ConnectionLimiter
    private let logger: Logger

    private init(
        name: String, serverChannel: any Channel, connections: ConnectionRegistry, limiter: ConnectionLimiter,
        shutdownGracePeriod: Duration, logger: Logger
    ) throws {
        self.name = name
        self.serverChannel = serverChannel
        self.connections = connections
        self.limiter = limiter
        self.shutdownGracePeriod = shutdownGracePeriod
        self.logger = logger
        guard let address = serverChannel.localAddress else { throw ChannelError.unknownLocalAddress }
        self.localAddress = address
    }

    /// Binds `address` and starts accepting.
    ///
    /// - Parameters:
    ///   - makeSession: called on the connection's event loop for each accepted client.
    ///   - refusal: the protocol's reply for a client over a connection limit, sent
    ///     before the connection is closed (e.g. `421 4.7.0 …`, `* BYE …`, `-ERR …`).
    public static func bind(
        name: String,
        address: SocketAddress,
        tlsMode: TLSMode,
        tlsContext: NIOSSLContext?,
        limits: ListenerLimits,
        shutdownGracePeriod: Duration = .seconds(30),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        refusal: @escaping @Sendable (ConnectionLimiter.Refusal) -> String,
        makeSession: @escaping @Sendable (ConnectionContext) -> Session
    ) async throws -> Listener {
        if tlsMode == .implicit && tlsContext == nil { throw ListenerError.implicitTLSWithoutContext(name) }
        let connections = ConnectionRegistry()
        let limiter = ConnectionLimiter(
            maximumTotal: limits.maximumConnections, maximumPerAddress: limits.maximumConnectionsPerAddress)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Accept nothing until `run()`: a client must never be greeted by a server
            // whose signal handlers and services are not running yet.
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.so_keepalive), value: 1)
            // Replies go out at once (no Nagle), set on each connection rather than left
            // to what the listening socket passes on.
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.initialize(
                        channel: channel, name: name, tlsMode: tlsMode, tlsContext: tlsContext, limits: limits,
                        limiter: limiter, connections: connections, logger: logger, refusal: refusal,
                        makeSession: makeSession)
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(to: address).get()
        } catch {
            throw ListenerError.cannotBind(name, address.displayString, "\(error)")
        }
        return try Listener(
            name: name, serverChannel: channel, connections: connections, limiter: limiter,
            shutdownGracePeriod: shutdownGracePeriod, logger: logger)
    }

    public func run() async throws {
        logger.info("listening", metadata: ["service": "\(name)", "address": "\(localAddress.displayString)"])
        let serverChannel = self.serverChannel
        try await serverChannel.setOption(.autoRead, value: true)
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                try? await serverChannel.closeFuture.get()
            } onGracefulShutdown: {
                serverChannel.close(promise: nil)
            }
        } onCancel: {
            serverChannel.close(promise: nil)
        }
        await drain()
    }

    /// Stops accepting and closes every connection at once (tests, and a second signal).
    public func close() async {
        try? await serverChannel.close()
        for channel in connections.all {
            try? await channel.close()
            try? await channel.closeFuture.get()
        }
    }

    /// Connections open right now.
    public var openConnections: Int { limiter.openConnections }

    private func drain() async {
        let open = connections.all
        if !open.isEmpty {
            logger.info("shutting down: finishing open sessions", metadata: ["service": "\(name)", "open": "\(open.count)"])
        }
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ServerShutdownEvent())
        }
        let deadline = ContinuousClock.now.advanced(by: shutdownGracePeriod)
        while !connections.isEmpty && ContinuousClock.now < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        for channel in connections.all {
            try? await channel.close()
            try? await channel.closeFuture.get()
        }
    }

    private static func initialize(
        channel: any Channel, name: String, tlsMode: TLSMode, tlsContext: NIOSSLContext?, limits: ListenerLimits,
        limiter: ConnectionLimiter, connections: ConnectionRegistry, logger: Logger,
        refusal: @escaping @Sendable (ConnectionLimiter.Refusal) -> String,
        makeSession: @Sendable (ConnectionContext) -> Session
    ) throws {
        let remote = channel.remoteAddress?.ipAddress ?? "unknown"
        let pipeline = channel.pipeline.syncOperations
        if tlsMode == .implicit, let tlsContext {
            try pipeline.addHandler(NIOSSLServerHandler(context: tlsContext))
        }
        if let refused = limiter.acquire(remote) {
            logger.notice(
                "connection refused: limit reached",
                metadata: ["service": "\(name)", "remote": "\(remote)", "limit": "\(refused)"])
            try pipeline.addHandler(RefusalHandler(message: refusal(refused)))
            return
        }
        let context = ConnectionContext(
            service: name, sessionID: SessionID.make(), remoteAddress: remote,
            remotePort: channel.remoteAddress?.port ?? 0, localPort: channel.localAddress?.port ?? 0,
            isImplicitTLS: tlsMode == .implicit, canStartTLS: tlsMode == .startTLS && tlsContext != nil)
        let opened = ContinuousClock.now
        connections.insert(channel)
        logger.info(
            "connection opened",
            metadata: ["service": "\(name)", "session": "\(context.sessionID)", "remote": "\(remote)"])
        channel.closeFuture.whenComplete { _ in
            limiter.release(remote)
            connections.remove(channel)
            let seconds = ContinuousClock.now - opened
            logger.info(
                "connection closed",
                metadata: ["service": "\(name)", "session": "\(context.sessionID)", "remote": "\(remote)", "duration": "\(seconds)"])
        }
        try pipeline.addHandler(IdleStateHandler(readTimeout: limits.idleTimeout))
        try pipeline.addHandler(
            LineSessionHandler(
                session: makeSession(context), context: context, maximumLineLength: limits.maximumLineLength,
                tlsContext: tlsContext, logger: logger))
    }
}

/// Why a listener could not start.
public enum ListenerError: Error, CustomStringConvertible {
    case cannotBind(String, String, String)
    case implicitTLSWithoutContext(String)

    public var description: String {
        switch self {
        case .cannotBind(let name, let address, let reason):
            return "[listen] \(name): cannot listen on \(address): \(reason)"
        case .implicitTLSWithoutContext(let name):
            return "[listen] \(name): implicit TLS needs a certificate"
        }
    }
}

/// The live connections of one listener, for shutdown.
final class ConnectionRegistry: Sendable {
    private let channels = NIOLockedValueBox([ObjectIdentifier: any Channel]())

    func insert(_ channel: any Channel) {
        channels.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
    }

    func remove(_ channel: any Channel) {
        channels.withLockedValue { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    var all: [any Channel] { channels.withLockedValue { Array($0.values) } }
    var isEmpty: Bool { channels.withLockedValue { $0.isEmpty } }
}

/// Says the protocol's "too many connections" line and closes.
final class RefusalHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let message: String

    init(message: String) { self.message = message }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: message))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension RefusalHandler: Sendable {}

/// Short random session identifiers, shown to clients and written in every log line.
public enum SessionID {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")
        return String((0..<10).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }
}

extension SocketAddress {
    /// `127.0.0.1:25` or `[::1]:25`, for logs and errors.
    public var displayString: String {
        guard let ip = ipAddress else { return description }
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return "\(host):\(port ?? 0)"
    }
}
