import NIOCore
import NIOPosix
import NIOSSL
import SMTPProtocol
import Synchronization

/// One TCP connection to one address of a server, seen from async code: send
/// commands, read replies, switch to TLS — each with a deadline. Every call hops to the
/// channel's event loop and back; nothing here blocks a loop.
///
/// Cancellation: cancelling the task that waits closes the connection, which ends the
/// wait at once with `.cancelled` instead of after the step's timeout (minutes, RFC 5321
/// §4.5.3.2). A connection whose task was cancelled is closed for good.
final class SMTPClientConnection: Sendable {
    let channel: any Channel
    private let handler: NIOLoopBound<SMTPReplyHandler>
    /// The name the client connected to (an MX host, the smarthost, or the literal).
    let host: String
    let address: String
    let port: Int

    private init(
        channel: any Channel, handler: NIOLoopBound<SMTPReplyHandler>, host: String, address: String, port: Int
    ) {
        self.channel = channel
        self.handler = handler
        self.host = host
        self.address = address
        self.port = port
    }

    /// `host[address]`, the form of RFC 3464's Remote-MTA and of Postfix's logs.
    var remoteMTA: String { "\(host)[\(address)]" }
    /// `host[address]:port`, for logs.
    var relay: String { "\(remoteMTA):\(port)" }

    /// Connects to `address` (an IP literal), with TLS from the first byte when
    /// `implicitTLS` is given (RFC 8314).
    static func connect(
        host: String, address: String, port: Int, implicitTLS: NIOSSLContext?, serverHostname: String?,
        limits: SMTPClientLimits, group: any EventLoopGroup, timeout: Duration
    ) async throws(SMTPClientError) -> SMTPClientConnection {
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: address, port: port)
        } catch {
            throw SMTPClientError(.connect, "not an IP address")
        }
        if Task.isCancelled { throw SMTPClientError(.cancelled) }
        // The channel exists (the initializer runs) before the connect does, so a
        // cancellation can close it mid-connect; one that comes before the initializer
        // makes the initializer fail.
        let pending = PendingConnect()
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(timeout))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard pending.opened(channel) else { throw SMTPClientError(.cancelled) }
                    if let implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: implicitTLS, serverHostname: serverHostname))
                    }
                    try channel.pipeline.syncOperations.addHandler(
                        SMTPReplyHandler(limits: limits, eventLoop: channel.eventLoop))
                }
            }
        let channel: any Channel
        do {
            channel = try await withTaskCancellationHandler {
                try await bootstrap.connect(to: socketAddress).get()
            } onCancel: {
                pending.cancel()
            }
        } catch {
            if Task.isCancelled { throw SMTPClientError(.cancelled) }
            throw Self.connectError(error)
        }
        if Task.isCancelled {
            channel.close(promise: nil)
            throw SMTPClientError(.cancelled)
        }
        do {
            let handler = try await channel.eventLoop.submit {
                NIOLoopBound(
                    try channel.pipeline.syncOperations.handler(type: SMTPReplyHandler.self),
                    eventLoop: channel.eventLoop)
            }.get()
            return SMTPClientConnection(channel: channel, handler: handler, host: host, address: address, port: port)
        } catch {
            channel.close(promise: nil)
            throw SMTPClientError(.connectionClosed)
        }
    }

    /// The next reply within `timeout`.
    func readReply(timeout: Duration) async throws(SMTPClientError) -> SMTPReply {
        let handler = self.handler
        return try await wait(
            for: channel.eventLoop.flatSubmit { handler.value.nextReply(timeout: TimeAmount(timeout)) })
    }

    /// Writes `commands` in one write (RFC 2920: a pipelined group goes out together).
    func send(_ commands: [SMTPClientCommand], timeout: Duration) async throws(SMTPClientError) {
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { command.encode(into: &buffer) }
        try await write(buffer, timeout: timeout)
    }

    /// Writes raw octets (message content) within `timeout`.
    func write(_ buffer: ByteBuffer, timeout: Duration) async throws(SMTPClientError) {
        let handler = self.handler
        try await wait(for: channel.eventLoop.flatSubmit { handler.value.write(buffer, timeout: TimeAmount(timeout)) })
    }

    /// Sends STARTTLS and reads the reply; on `220` the TLS handshake runs before this
    /// returns (RFC 3207 §4). Returns the reply; throws when the handshake fails.
    func startTLS(
        tlsContext: NIOSSLContext, serverHostname: String?, timeout: Duration
    ) async throws(SMTPClientError) -> SMTPReply {
        let handler = self.handler
        let handshake = channel.eventLoop.flatSubmit {
            handler.value.startTLSAfterNextReply(
                tlsContext: tlsContext, serverHostname: serverHostname, handshakeTimeout: TimeAmount(timeout))
        }
        try await send([.startTLS], timeout: timeout)
        let reply = try await readReply(timeout: timeout)
        guard reply.code == 220 else {
            // Failed already ("not started"), or fails as the connection closes.
            _ = try? await wait(for: handshake)
            return reply
        }
        try await wait(for: handshake)
        return reply
    }

    /// Whether the connection is open and in step: nothing unread from the server.
    func isIdleAndHealthy() async -> Bool {
        let handler = self.handler
        return (try? await channel.eventLoop.submit { handler.value.isIdleAndHealthy }.get()) ?? false
    }

    /// Says QUIT, waits up to `timeout` for the reply, and closes (RFC 5321 §4.1.1.10).
    func quit(timeout: Duration) async {
        if (try? await send([.quit], timeout: timeout)) != nil {
            _ = try? await readReply(timeout: timeout)
        }
        await close()
    }

    func close() async {
        try? await channel.close()
    }

    /// Waits for `future` (which a closed connection fails); cancelling the waiting
    /// task closes the connection, so the wait ends at once with `.cancelled`.
    private func wait<Value: Sendable>(for future: EventLoopFuture<Value>) async throws(SMTPClientError) -> Value {
        let channel = self.channel
        do {
            return try await withTaskCancellationHandler {
                try await future.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            if Task.isCancelled { throw SMTPClientError(.cancelled) }
            throw SMTPReplyHandler.translate(error)
        }
    }

    /// What went wrong while connecting, in the system's words.
    static func connectError(_ error: any Error) -> SMTPClientError {
        switch error {
        case let error as IOError:
            return SMTPClientError(.connect, error.plainWords)
        case let error as ChannelError:
            if case .connectTimeout = error { return SMTPClientError(.connect, "Connection timed out") }
            return SMTPClientError(.connect, "\(error)")
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.last { return connectError(first.error) }
            return SMTPClientError(.connect, "\(error)")
        default:
            return SMTPClientError(.connect, "\(error)")
        }
    }
}

/// The channel of a connection being made, for a cancellation to close (it runs on any
/// thread, hence the lock; never held across I/O).
private final class PendingConnect: Sendable {
    private let state = Mutex<(channel: (any Channel)?, isCancelled: Bool)>((nil, false))

    /// Records the new channel; false when the connect was cancelled already.
    func opened(_ channel: any Channel) -> Bool {
        state.withLock { state in
            guard !state.isCancelled else { return false }
            state.channel = channel
            return true
        }
    }

    func cancel() {
        let channel = state.withLock { state in
            state.isCancelled = true
            return state.channel
        }
        channel?.close(promise: nil)
    }
}
