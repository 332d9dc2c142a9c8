public import Logging
public import NIOCore
public import NIOSSL
import NIOTLS

#if canImport(Glibc)
import Glibc
#endif

/// Drives one `LineSession`: frames input into lines, performs the session's actions,
/// and owns the STARTTLS switch.
///
/// Framing: a line ends at LF (a preceding CR is dropped). At most
/// `maximumLineLength` octets are buffered for one line; past that the session hears
/// `lineTooLong()` once and the rest of that line is skipped as it arrives.
///
/// While a `.run` action is in flight, reading stops (`autoRead` off), so a client that
/// pipelines cannot make the server buffer without bound.
///
/// STARTTLS: when the session returns `.startTLS`, the reply already sent is flushed
/// to the socket first, then `NIOSSLServerHandler` is added at the front of the
/// pipeline in the same event-loop turn, and every byte received after the command line
/// is dropped. Plaintext a client pipelined behind STARTTLS therefore never runs as a
/// command, before or after the handshake (RFC 3207 §4.2, CVE-2011-0411).
public final class LineSessionHandler<Session: LineSession>: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var session: Session
    private let context: ConnectionContext
    private let maximumLineLength: Int
    private let tlsContext: NIOSSLContext?
    private let logger: Logger
    private var buffer = ByteBuffer()
    private var isSkippingLongLine = false
    /// `.run` actions in flight. A session may start more than one at once (POP3 records
    /// a SCRAM outcome while it opens the maildrop): reading resumes when all are done.
    private var running = 0
    private var isBusy: Bool { running > 0 }
    private var eventLoop: (any EventLoop)?
    private var isClosing = false
    private var isUpgrading = false
    /// The channel is closed; `connectionClosed` is due once no work is in flight.
    private var isInactive = false
    private var closedNotified = false
    /// Replies written during `processBuffer` and not flushed yet.
    private var hasUnflushedWrites = false
    private var channelContext: ChannelHandlerContext?
    /// `.run` work held back until the socket drains: a session that answers in batches
    /// (a large IMAP FETCH) produces the next batch only once the last one is on its way.
    private var deferredWork: [@Sendable () async -> Session.Event] = []

    public init(
        session: Session, context: ConnectionContext, maximumLineLength: Int, tlsContext: NIOSSLContext?,
        logger: Logger
    ) {
        self.session = session
        self.context = context
        self.maximumLineLength = maximumLineLength
        self.tlsContext = tlsContext
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        channelContext = context
        eventLoop = context.eventLoop
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        channelContext = nil
    }

    public func channelActive(context: ChannelHandlerContext) {
        perform(session.start(), context: context)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        isInactive = true
        session.connectionLost()
        notifyClosed()
        context.fireChannelInactive()
    }

    /// Tells the session the connection is gone, once no work is in flight, and runs the
    /// clean-up it asks for.
    private func notifyClosed() {
        guard !closedNotified, !isBusy else { return }
        closedNotified = true
        performAfterClose(session.connectionClosed())
    }

    /// Actions of a session whose connection is gone: only `.run` means anything, and
    /// its result goes back to the session like any other (a login that succeeds after
    /// the client left opens a maildrop, whose lock the session must then release).
    private func performAfterClose(_ actions: [SessionAction<Session.Event>]) {
        for case .run(let work) in actions {
            run(work, context: nil)
        }
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isClosing else { return }
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        processBuffer(context: context)
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tlsEvent = event as? TLSUserEvent, case .handshakeCompleted = tlsEvent, isUpgrading {
            isUpgrading = false
            let version = tlsVersion(context: context)
            perform(session.tlsEstablished(TLSInfo(version: version)), context: context)
            acknowledgeNow(context: context)
        } else if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Reading is paused while work runs (a store, a password check): that
            // silence is ours, not the client's — unless the work waits for the
            // client to read what it was sent, which it has not done for the whole
            // idle time: a stalled client.
            guard !isBusy || !deferredWork.isEmpty else { return }
            if !deferredWork.isEmpty {
                logger.info("client stopped reading", metadata: ["session": "\(self.context.sessionID)"])
                // The held-back work will never run: it must not keep the session busy.
                running -= deferredWork.count
                deferredWork = []
                isClosing = true
                context.close(promise: nil)
                return
            }
            perform(session.idleTimeout(), context: context)
        } else if event is ServerShutdownEvent {
            perform(session.shutdown(), context: context)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    public func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            if !deferredWork.isEmpty {
                let works = deferredWork
                deferredWork = []
                running -= works.count
                for work in works { run(work, context: context) }
            }
            if !isBusy && !isClosing { resumeReading(context: context) }
            processBuffer(context: context)
        } else {
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        }
        context.fireChannelWritabilityChanged()
    }

    /// The client's TLS Finished is acknowledged at once. A TLS 1.3 server has nothing
    /// to send after it (BoringSSL holds its session tickets until the first write), so
    /// the kernel delays the ACK, and a client with Nagle's algorithm on (most: Python,
    /// OpenSSL's s_client) holds its first command — EHLO after STARTTLS, the first
    /// command on 465/993/995 — until that ACK: 40 ms per connection. Linux's
    /// TCP_QUICKACK sends a scheduled ACK right away; elsewhere this does nothing.
    private func acknowledgeNow(context: ChannelHandlerContext) {
        #if canImport(Glibc)
        let quickAck = ChannelOptions.Types.SocketOption(
            level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_QUICKACK))
        context.channel.setOption(quickAck, value: 1).whenComplete { _ in }
        #endif
    }

    private func resumeReading(context: ChannelHandlerContext) {
        guard context.channel.isWritable else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // TLS failures, resets: nothing useful can be said to the peer.
        logger.debug("connection error", metadata: ["session": "\(self.context.sessionID)", "error": "\(error)"])
        context.close(promise: nil)
    }

    // MARK: - Framing

    private func processBuffer(context: ChannelHandlerContext) {
        // A client that does not read its replies must not make us queue them without
        // bound: stop processing (and reading) until the socket drains.
        while !isBusy && !isClosing && !isUpgrading && context.channel.isWritable {
            if session.wantsRawInput {
                guard buffer.readableBytes > 0 else { break }
                let before = buffer.readableBytes
                let actions = session.receive(raw: &buffer)
                perform(actions, context: context, flush: false)
                // Stop when the session took nothing: it waits for more bytes.
                if buffer.readableBytes == before && actions.isEmpty { break }
                continue
            }
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                // + 1: the CR of a line of exactly the maximum may be here already.
                if buffer.readableBytes > maximumLineLength + 1 {
                    buffer.clear()
                    if !isSkippingLongLine {
                        isSkippingLongLine = true
                        perform(session.lineTooLong(), context: context, flush: false)
                    }
                }
                break
            }
            let length = newline - buffer.readerIndex
            guard var line = buffer.readSlice(length: length) else { break }
            buffer.moveReaderIndex(forwardBy: 1)
            if isSkippingLongLine {
                // The tail of an over-long line: drop it, the session was told already.
                isSkippingLongLine = false
                continue
            }
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            if line.readableBytes > maximumLineLength {
                perform(session.lineTooLong(), context: context, flush: false)
                continue
            }
            perform(session.receive(line: line), context: context, flush: false)
        }
        if hasUnflushedWrites {
            hasUnflushedWrites = false
            context.flush()
        }
        if buffer.readableBytes == 0 {
            buffer.clear()
        } else if buffer.readerIndex > 4096 {
            buffer.discardReadBytes()
        }
    }

    // MARK: - Actions

    /// - Parameter flush: false while `processBuffer` works through pipelined lines: the
    ///   replies go out in one flush (one write system call) when the lines run out.
    private func perform(_ actions: [SessionAction<Session.Event>], context: ChannelHandlerContext, flush: Bool = true) {
        var wrote = false
        for action in actions {
            guard !isClosing else { return }
            switch action {
            case .send(let bytes):
                context.write(wrapOutboundOut(bytes), promise: nil)
                wrote = true
            case .startTLS:
                context.flush()
                wrote = false
                hasUnflushedWrites = false
                startTLS(context: context)
            case .run(let work):
                if wrote || hasUnflushedWrites {
                    context.flush()
                    wrote = false
                    hasUnflushedWrites = false
                }
                if !context.channel.isWritable {
                    // Counted as running (reading stays off) until it can start.
                    running += 1
                    context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                    deferredWork.append(work)
                    continue
                }
                run(work, context: context)
            case .spawn(let work):
                if wrote || hasUnflushedWrites {
                    context.flush()
                    wrote = false
                    hasUnflushedWrites = false
                }
                spawn(work, context: context)
            case .close:
                isClosing = true
                buffer.clear()
                context.writeAndFlush(wrapOutboundOut(ByteBuffer()), promise: nil)
                context.close(promise: nil)
                return
            }
        }
        if wrote {
            if flush { context.flush() } else { hasUnflushedWrites = true }
        }
    }

    private func startTLS(context: ChannelHandlerContext) {
        guard let tlsContext else {
            logger.error("session asked for STARTTLS without a TLS context", metadata: ["session": "\(self.context.sessionID)"])
            isClosing = true
            context.close(promise: nil)
            return
        }
        // Whatever the client sent after the STARTTLS line is plaintext injection.
        buffer.clear()
        isSkippingLongLine = false
        isUpgrading = true
        do {
            try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext), position: .first)
        } catch {
            isClosing = true
            context.close(promise: nil)
        }
    }

    private func run(_ work: @escaping @Sendable () async -> Session.Event, context: ChannelHandlerContext?) {
        guard let loop = context?.eventLoop ?? eventLoop else { return }
        running += 1
        context?.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
        let promise = loop.makePromise(of: Session.Event.self)
        promise.completeWithTask { await work() }
        promise.futureResult.assumeIsolated().whenSuccess { [self] event in
            self.running -= 1
            if self.isInactive {
                // Nobody to answer: the session still takes the result (it may hold
                // something that must be released), then hears that the peer is gone.
                self.performAfterClose(self.session.complete(event))
                self.notifyClosed()
                return
            }
            guard let context = self.channelContext else { return }
            self.perform(self.session.complete(event), context: context)
            // `complete` may have started the next piece of work already.
            guard !self.isClosing, !self.isBusy else { return }
            self.resumeReading(context: context)
            self.processBuffer(context: context)
        }
    }

    private func spawn(_ work: @escaping @Sendable () async -> Session.Event, context: ChannelHandlerContext) {
        let promise = context.eventLoop.makePromise(of: Session.Event.self)
        promise.completeWithTask { await work() }
        promise.futureResult.assumeIsolated().whenSuccess { [self] event in
            guard !self.isInactive, !self.isClosing, let context = self.channelContext else { return }
            self.perform(self.session.complete(event), context: context)
            guard !self.isClosing, !self.isBusy else { return }
            self.processBuffer(context: context)
        }
    }

    private func tlsVersion(context: ChannelHandlerContext) -> String {
        guard let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let version = handler.tlsVersion
        else { return "TLS" }
        switch version {
        case .tlsv13: return "TLSv1.3"
        case .tlsv12: return "TLSv1.2"
        default: return "\(version)"
        }
    }
}

@available(*, unavailable)
extension LineSessionHandler: Sendable {}

/// Sent down every live connection's pipeline when the server begins to shut down.
public struct ServerShutdownEvent: Sendable {
    public init() {}
}
