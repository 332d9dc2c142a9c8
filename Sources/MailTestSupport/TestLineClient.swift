public import NIOCore
public import NIOPosix
import NIOSSL

/// A scripted line client for tests: connect, `send`, `readLine`, `startTLS`.
///
/// It speaks raw bytes, so a test can send exactly what an attacker would (pipelined
/// commands in one packet, over-long lines, bare LFs) and read exactly what the server
/// answered.
public final class TestLineClient: Sendable {
    public enum ClientError: Error {
        case timeout
        case closed
    }

    private let channel: any Channel
    private let lines: AsyncStream<String>
    private let iterator: IteratorBox

    private init(channel: any Channel, lines: AsyncStream<String>) {
        self.channel = channel
        self.lines = lines
        self.iterator = IteratorBox(lines.makeAsyncIterator())
    }

    /// Connects to `host:port`; with `implicitTLS` the TLS handshake starts at once
    /// (certificates are not verified: tests use self-signed ones).
    public static func connect(
        host: String = "127.0.0.1", port: Int, implicitTLS: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestLineClient {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if implicitTLS {
                        try channel.pipeline.syncOperations.addHandler(try Self.makeTLSHandler())
                    }
                    try channel.pipeline.syncOperations.addHandler(LineCollector(continuation: continuation))
                }
            }
            .connect(host: host, port: port).get()
        return TestLineClient(channel: channel, lines: stream)
    }

    /// Sends `text` exactly as given (add `\r\n` yourself).
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    public func send(bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// The next line without CRLF; throws `.closed` at end of stream, `.timeout` after `timeout`.
    public func readLine(timeout: Duration = .seconds(10)) async throws -> String {
        let iterator = self.iterator
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask { await iterator.next() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ClientError.timeout
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let line = first else { throw ClientError.closed }
            return line
        }
    }

    /// Reads lines until one starts with `prefix`; returns all read lines, that one last.
    public func readUntil(prefix: String, timeout: Duration = .seconds(10)) async throws -> [String] {
        var collected: [String] = []
        while true {
            let line = try await readLine(timeout: timeout)
            collected.append(line)
            if line.hasPrefix(prefix) { return collected }
        }
    }

    /// Starts the TLS handshake on the open connection (after the server's go-ahead).
    public func startTLS() async throws {
        let handler = try Self.makeTLSHandler()
        try await channel.eventLoop.submit {
            try self.channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }.get()
    }

    /// Whether the server closes the connection within `timeout` (pending lines are skipped).
    public func waitForClose(timeout: Duration = .seconds(10)) async throws -> Bool {
        do {
            while true { _ = try await readLine(timeout: timeout) }
        } catch ClientError.closed {
            return true
        } catch ClientError.timeout {
            return false
        }
    }

    public func close() async {
        try? await channel.close()
    }

    private static func makeTLSHandler() throws -> NIOSSLClientHandler {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLClientHandler(context: NIOSSLContext(configuration: configuration), serverHostname: nil)
    }
}

/// Holds the stream's iterator so that successive reads continue where the last one
/// stopped. Reads are sequential in tests (one reader per client).
private final class IteratorBox: @unchecked Sendable {
    // Invariant: only one `next()` runs at a time — `readLine` is awaited by the single
    // test task that owns the client; no test reads one client from two tasks.
    private var iterator: AsyncStream<String>.AsyncIterator

    init(_ iterator: AsyncStream<String>.AsyncIterator) { self.iterator = iterator }

    func next() async -> String? { await iterator.next() }
}

private final class LineCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let continuation: AsyncStream<String>.Continuation
    private var buffer = ByteBuffer()

    init(continuation: AsyncStream<String>.Continuation) { self.continuation = continuation }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - buffer.readerIndex
            var line = buffer.readString(length: length) ?? ""
            buffer.moveReaderIndex(forwardBy: 1)
            if line.hasSuffix("\r") { line.removeLast() }
            continuation.yield(line)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish()
        context.close(promise: nil)
    }
}
