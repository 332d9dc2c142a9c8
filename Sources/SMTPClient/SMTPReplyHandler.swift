#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOSSL
import NIOTLS
import SMTPProtocol

/// The channel handler of an outbound SMTP connection: it frames the server's replies
/// (`SMTPReplyDecoder`), hands them out one at a time to whoever asked
/// (`nextReply(timeout:)`), writes with a deadline, and performs the switch to TLS
/// after STARTTLS.
///
/// Event-loop confined; every method runs on the channel's loop (the async side goes
/// through `SMTPClientConnection`). It holds no session state: what to send and what a
/// reply means is the session's business.
///
/// STARTTLS (RFC 3207 §4.2, §5): `startTLSAfterNextReply` arms the handler before the
/// command is written. When the next reply is a `220`, the TLS handler goes in front
/// *in the same event-loop turn* as the reply was decoded, so no later byte can be
/// read as plaintext; and a byte that already arrived behind the `220` is an injection
/// attempt (the client side of CVE-2011-0411): the connection fails.
///
/// Bounded: the decoder bounds a reply; while nobody waits for one, reading stops once
/// `SMTPClientLimits.maximumBufferedReplyBytes` are buffered, so a server that talks
/// unasked to a cached connection cannot fill memory.
final class SMTPReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private struct Waiter {
        let promise: EventLoopPromise<SMTPReply>
        let timeout: Scheduled<Void>
    }

    private struct PendingStartTLS {
        let tlsContext: NIOSSLContext
        let serverHostname: String?
        let handshakeTimeout: TimeAmount
        let handshake: EventLoopPromise<Void>
    }

    private var decoder: SMTPReplyDecoder
    private let maximumBufferedBytes: Int
    private var buffer = ByteBuffer()
    private var waiter: Waiter?
    /// Set once; every later call fails with it.
    private var failure: SMTPClientError?
    private var isReadHeldBack = false
    private var pendingStartTLS: PendingStartTLS?
    private var handshake: (promise: EventLoopPromise<Void>, timeout: Scheduled<Void>)?
    private var context: ChannelHandlerContext?
    /// The channel's loop, for answers after the handler has left the pipeline.
    private let eventLoop: any EventLoop

    init(limits: SMTPClientLimits, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.decoder = SMTPReplyDecoder(limits: limits)
        self.maximumBufferedBytes = limits.maximumBufferedReplyBytes
    }

    // MARK: - Requests from the session

    /// The next reply; fails with `.timeout` (and closes the connection) when none is
    /// complete within `timeout`.
    func nextReply(timeout: TimeAmount) -> EventLoopFuture<SMTPReply> {
        guard let context else {
            return eventLoop.makeFailedFuture(
                SMTPClientError(.connectionClosed, "connection not open"))
        }
        if let failure { return context.eventLoop.makeFailedFuture(failure) }
        guard waiter == nil else {
            // A programming error in the session; fail the read rather than trap.
            return context.eventLoop.makeFailedFuture(SMTPClientError(.io, "two replies awaited at once"))
        }
        let promise = context.eventLoop.makePromise(of: SMTPReply.self)
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self else { return }
            self.fail(SMTPClientError(.timeout))
        }
        waiter = Waiter(promise: promise, timeout: scheduled)
        decodeBuffered()
        if waiter != nil && isReadHeldBack {
            isReadHeldBack = false
            context.read()
        }
        return promise.futureResult
    }

    /// Writes `data`; fails with `.timeout` (and closes the connection) when the write
    /// has not completed within `timeout` (RFC 5321 §4.5.3.2.5: a server that stops
    /// reading the message).
    func write(_ data: ByteBuffer, timeout: TimeAmount) -> EventLoopFuture<Void> {
        guard let context else {
            return eventLoop.makeFailedFuture(
                SMTPClientError(.connectionClosed, "connection not open"))
        }
        if let failure { return context.eventLoop.makeFailedFuture(failure) }
        let written = context.eventLoop.makePromise(of: Void.self)
        let result = context.eventLoop.makePromise(of: Void.self)
        let scheduled = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self else { return }
            self.fail(SMTPClientError(.timeout))
        }
        written.futureResult.assumeIsolated().whenComplete { [weak self] outcome in
            scheduled.cancel()
            switch outcome {
            case .success:
                result.succeed(())
            case .failure(let error):
                result.fail(self?.failure ?? Self.translate(error))
            }
        }
        context.writeAndFlush(wrapOutboundOut(data), promise: written)
        return result.futureResult
    }

    /// Arms the switch to TLS: if the next reply is `220`, the TLS handler is added
    /// before that reply is handed out. The returned future completes when the
    /// handshake has (or fails with the reason, or `.timeout`); it fails at once with
    /// `.tls` "not started" when the reply is not `220`.
    func startTLSAfterNextReply(
        tlsContext: NIOSSLContext, serverHostname: String?, handshakeTimeout: TimeAmount
    ) -> EventLoopFuture<Void> {
        guard let context else {
            return eventLoop.makeFailedFuture(
                SMTPClientError(.connectionClosed, "connection not open"))
        }
        if let failure { return context.eventLoop.makeFailedFuture(failure) }
        guard pendingStartTLS == nil && handshake == nil else {
            // A programming error in the session; fail rather than trap.
            return context.eventLoop.makeFailedFuture(SMTPClientError(.tls, "STARTTLS already in progress"))
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        pendingStartTLS = PendingStartTLS(
            tlsContext: tlsContext, serverHostname: serverHostname, handshakeTimeout: handshakeTimeout,
            handshake: promise)
        return promise.futureResult
    }

    /// Whether the connection can carry another transaction: open, no failure, and no
    /// byte from the server that nobody asked for.
    var isIdleAndHealthy: Bool {
        guard let context, failure == nil, context.channel.isActive else { return false }
        return buffer.readableBytes == 0 && !decoder.isInsideReply
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        buffer = context.channel.allocator.buffer(capacity: 512)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        fail(SMTPClientError(.connectionClosed))
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        guard failure == nil else { return }
        buffer.writeBuffer(&incoming)
        decodeBuffered()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(SMTPClientError(.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(Self.translate(error))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event, let handshake {
            self.handshake = nil
            handshake.timeout.cancel()
            handshake.promise.succeed(())
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        // Hold reading back while nobody waits and enough is buffered.
        if waiter == nil && buffer.readableBytes >= maximumBufferedBytes {
            isReadHeldBack = true
            return
        }
        context.read()
    }

    // MARK: - Decoding

    private func decodeBuffered() {
        guard let current = waiter else { return }
        let reply: SMTPReply
        do {
            guard let decoded = try decoder.decode(&buffer) else { return }
            reply = decoded
        } catch {
            fail(SMTPClientError(.badReply(error.kind), error.description))
            return
        }
        if let pending = pendingStartTLS {
            pendingStartTLS = nil
            guard beginTLS(pending, after: reply) else { return }
        }
        waiter = nil
        current.timeout.cancel()
        current.promise.succeed(reply)
        buffer.discardReadBytes()
    }

    /// RFC 3207 §4.2: after `220`, the TLS negotiation starts at once. Returns false
    /// when the connection failed instead.
    private func beginTLS(_ pending: PendingStartTLS, after reply: SMTPReply) -> Bool {
        guard reply.code == 220 else {
            pending.handshake.fail(SMTPClientError(.tls, "STARTTLS was not accepted"))
            return true
        }
        guard let context else { return false }
        guard buffer.readableBytes == 0 else {
            pending.handshake.fail(SMTPClientError(.injectedAfterStartTLS))
            fail(SMTPClientError(.injectedAfterStartTLS, "data after the STARTTLS reply"))
            return false
        }
        do {
            let tls = try NIOSSLClientHandler(context: pending.tlsContext, serverHostname: pending.serverHostname)
            try context.pipeline.syncOperations.addHandler(tls, position: .first)
        } catch {
            let translated = Self.translate(error)
            pending.handshake.fail(translated)
            fail(translated)
            return false
        }
        let timeout = context.eventLoop.assumeIsolated().scheduleTask(in: pending.handshakeTimeout) { [weak self] in
            guard let self else { return }
            self.fail(SMTPClientError(.timeout))
        }
        handshake = (pending.handshake, timeout)
        return true
    }

    // MARK: - Failure

    /// Records the first failure, fails whatever waits, and closes the connection.
    private func fail(_ error: SMTPClientError) {
        if failure == nil { failure = error }
        let reason = failure ?? error
        if let current = waiter {
            waiter = nil
            current.timeout.cancel()
            current.promise.fail(reason)
        }
        if let pending = pendingStartTLS {
            pendingStartTLS = nil
            pending.handshake.fail(reason)
        }
        if let handshake {
            self.handshake = nil
            handshake.timeout.cancel()
            handshake.promise.fail(reason)
        }
        if let context, context.channel.isActive { context.close(promise: nil) }
    }

    /// The network stack's errors in the taxonomy of `SMTPClientError`.
    static func translate(_ error: any Error) -> SMTPClientError {
        switch error {
        case let error as SMTPClientError:
            return error
        case let error as NIOSSLError:
            return SMTPClientError(.tls, "\(error)")
        case let error as BoringSSLError:
            return SMTPClientError(.tls, "\(error)")
        case let error as NIOSSLExtraError:
            return SMTPClientError(.tls, "\(error)")
        case let error as IOError:
            return SMTPClientError(.connectionClosed, error.plainWords)
        case let error as ChannelError:
            switch error {
            case .ioOnClosedChannel, .alreadyClosed, .eof, .outputClosed, .inputClosed:
                return SMTPClientError(.connectionClosed)
            default:
                return SMTPClientError(.io, "\(error)")
            }
        default:
            return SMTPClientError(.io, "\(error)")
        }
    }
}

@available(*, unavailable)
extension SMTPReplyHandler: Sendable {}

extension IOError {
    /// `strerror` of the error code: "Connection refused", "Connection reset by peer".
    var plainWords: String { Self.systemMessage(errnoCode) ?? "\(self)" }

    static func systemMessage(_ code: CInt) -> String? {
        guard let text = strerror(code) else { return nil }
        return String(cString: text)
    }
}
