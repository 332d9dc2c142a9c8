import NIOCore
import NIOPosix

/// One try of one query against one server: UDP, then TCP when the answer is truncated.
///
/// A try has one deadline for both legs. Replies are matched to the query as RFC 5452
/// §4 asks: from the server's address and port (the UDP socket is also connected, so
/// the kernel drops other sources), with the query's ID, QR set, and the query's
/// question. A datagram that fails any check, or does not parse, is ignored and the try
/// keeps waiting until its deadline, so a spoofer cannot end it early with a forgery.
/// Each try uses a fresh socket (a fresh random source port) and a fresh ID.
///
/// Nothing here blocks: the work runs on a NIO event loop and the caller awaits a
/// future; cancelling the task fails the try at once.
///
/// - SeeAlso: RFC 1035 §4.2 (UDP, TCP framing), RFC 7766 §5, §8 (TCP after TC=1),
///   RFC 5452 §4, §9.2 (accepting answers, randomness)
struct DNSTransport: Sendable {
    let group: any EventLoopGroup
    let timeout: Duration

    /// Sends `query` to `server` and returns the matching response; throws
    /// `DNSError(.temporary)` on timeout, network failure or an unusable TCP answer.
    func exchange(_ query: DNSMessage, server: SocketAddress) async throws(DNSError) -> DNSMessage {
        let bytes: [UInt8]
        do {
            bytes = try query.encoded()
        } catch {
            throw DNSError(.noSuchName, "cannot ask about this name: \(error)")
        }
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        let response = try await exchangeOverUDP(bytes, query: query, server: server, deadline: deadline)
        guard response.header.isTruncated else { return response }
        // RFC 7766 §5: a truncated UDP answer is retried over TCP with the same server.
        return try await exchangeOverTCP(bytes, query: query, server: server, deadline: deadline)
    }

    private func exchangeOverUDP(_ bytes: [UInt8], query: DNSMessage, server: SocketAddress, deadline: NIODeadline)
        async throws(DNSError) -> DNSMessage
    {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: DNSMessage.self)
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(
                ChannelOptions.recvAllocator,
                value: FixedSizeRecvByteBufferAllocator(capacity: DNSLimits.maximumUDPReceiveSize)
            )
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSDatagramHandler(server: server, query: query, promise: promise))
                }
            }
        return try await perform(promise: promise, deadline: deadline, transport: "UDP", server: server) {
            // Connected UDP: the kernel picks a random ephemeral port and delivers only
            // datagrams from the server, and an ICMP "port unreachable" ends the try at
            // once (ECONNREFUSED) instead of at the deadline.
            bootstrap.connect(to: server).flatMap { channel in
                channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: bytes)))
                    .map { channel }
            }
        }
    }

    private func exchangeOverTCP(_ bytes: [UInt8], query: DNSMessage, server: SocketAddress, deadline: NIODeadline)
        async throws(DNSError) -> DNSMessage
    {
        let eventLoop = group.next()
        let promise = eventLoop.makePromise(of: DNSMessage.self)
        let remaining = deadline - NIODeadline.now()
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(max(remaining, .milliseconds(1)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        DNSStreamHandler(query: query, promise: promise))
                }
            }
        // RFC 1035 §4.2.2: a two-octet length, then the message.
        let framed = ByteBuffer(bytes: [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xFF)] + bytes)
        return try await perform(promise: promise, deadline: deadline, transport: "TCP", server: server) {
            bootstrap.connect(to: server).flatMap { channel in
                channel.writeAndFlush(framed).map { channel }
            }
        }
    }

    /// Opens the channel with `open`, waits for `promise` until `deadline`, and closes
    /// the channel whatever happens.
    private func perform(
        promise: EventLoopPromise<DNSMessage>, deadline: NIODeadline, transport: String, server: SocketAddress,
        open: () -> EventLoopFuture<any Channel>
    ) async throws(DNSError) -> DNSMessage {
        let eventLoop = promise.futureResult.eventLoop
        let timeout = eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(DNSTransportFailure.timeout)
        }
        let opened = open()
        opened.whenFailure { promise.fail($0) }
        do {
            let response = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                promise.fail(CancellationError())
            }
            timeout.cancel()
            opened.whenSuccess { $0.close(promise: nil) }
            return response
        } catch {
            timeout.cancel()
            opened.whenSuccess { $0.close(promise: nil) }
            throw DNSError(.temporary, Self.describe(error, transport: transport, server: server))
        }
    }

    private static func describe(_ error: any Error, transport: String, server: SocketAddress) -> String {
        switch error {
        case DNSTransportFailure.timeout: return "no answer from \(server) over \(transport) in time"
        case DNSTransportFailure.closed: return "\(server) closed the \(transport) connection before answering"
        case DNSTransportFailure.mismatch: return "\(server) answered another question over \(transport)"
        case DNSTransportFailure.unusable(let parseError):
            return "unusable answer from \(server) over \(transport): \(parseError)"
        case is CancellationError: return "lookup cancelled"
        default: return "\(transport) query to \(server) failed: \(error)"
        }
    }
}

/// Why a try ended without a response (mapped to a `DNSError` detail by `describe`).
enum DNSTransportFailure: Error {
    case timeout
    case closed
    case mismatch
    case unusable(DNSMessageError)
}

extension DNSMessage {
    /// Whether this message is the response to `query` (RFC 5452 §4.2, RFC 1035
    /// §7.3): QR set, the same ID and opcode, and the same single question (names compare
    /// case-insensitively; both are in lowercased presentation form). A response without
    /// a question is accepted only as a failure (FORMERR, SERVFAIL, NOTIMP, REFUSED): some
    /// servers drop the question from those, and a forged failure can only make us try
    /// the next server.
    func isResponse(to query: DNSMessage) -> Bool {
        guard header.isResponse, header.id == query.header.id, header.opcode == query.header.opcode else {
            return false
        }
        if questions.isEmpty {
            return responseCode != .noError && responseCode != .nameError
        }
        return questions.count == 1 && questions == query.questions
    }
}

/// Waits on a connected UDP channel for the datagram that answers `query`.
///
/// Event-loop confined. Datagrams from elsewhere, that do not parse, or that answer
/// something else are dropped; the first match completes the promise.
final class DNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let server: SocketAddress
    private let query: DNSMessage
    private let promise: EventLoopPromise<DNSMessage>

    init(server: SocketAddress, query: DNSMessage, promise: EventLoopPromise<DNSMessage>) {
        self.server = server
        self.query = query
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        // RFC 5452 §4.1: only the server we asked, from the port we asked.
        guard envelope.remoteAddress == server else { return }
        guard let message = try? DNSMessage(parsing: envelope.data.readableBytesView),
            message.isResponse(to: query)
        else { return }
        promise.succeed(message)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ECONNREFUSED from an ICMP port unreachable, or a send failure.
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSTransportFailure.closed)
    }
}

@available(*, unavailable)
extension DNSDatagramHandler: Sendable {}

/// Reads one length-prefixed message from a TCP connection (RFC 1035 §4.2.2).
///
/// Event-loop confined. At most 2 + 65535 octets are kept: the promise completes as
/// soon as one whole message is there, and later bytes are ignored. Unlike UDP, a
/// mismatching or malformed answer on our own connection fails the try.
final class DNSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let query: DNSMessage
    private let promise: EventLoopPromise<DNSMessage>
    private var buffer = ByteBuffer()
    private var isDone = false

    init(query: DNSMessage, promise: EventLoopPromise<DNSMessage>) {
        self.query = query
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !isDone else { return }
        var chunk = Self.unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            let body = buffer.getBytes(at: buffer.readerIndex + 2, length: Int(length))
        else { return }
        isDone = true
        buffer = ByteBuffer()
        do {
            let message = try DNSMessage(parsing: body)
            guard message.isResponse(to: query) else {
                promise.fail(DNSTransportFailure.mismatch)
                return
            }
            promise.succeed(message)
        } catch {
            promise.fail(DNSTransportFailure.unusable(error))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSTransportFailure.closed)
    }
}

@available(*, unavailable)
extension DNSStreamHandler: Sendable {}
