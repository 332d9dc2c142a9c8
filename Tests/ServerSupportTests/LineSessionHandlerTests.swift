import Logging
import Synchronization
import NIOCore
import NIOEmbedded
import ServerSupport
import Testing

@Suite("LineSessionHandler without sockets")
struct LineSessionHandlerTests {
    static func makeChannel() throws -> EmbeddedChannel {
        let context = ConnectionContext(
            service: "test", sessionID: "S1", remoteAddress: "192.0.2.1", remotePort: 1, localPort: 2,
            isImplicitTLS: false, canStartTLS: false)
        let handler = LineSessionHandler(
            session: EchoSession(context: context), context: context, maximumLineLength: 100, tlsContext: nil,
            logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.2", port: 25)).wait()
        return channel
    }

    static func lines(_ channel: EmbeddedChannel) throws -> [String] {
        var lines: [String] = []
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            lines += (buffer.readString(length: buffer.readableBytes) ?? "").split(separator: "\r\n").map(String.init)
        }
        return lines
    }

    /// A client that never reads its replies must not make the server queue replies
    /// without bound: while the socket is not writable, input waits unprocessed.
    @Test func stopsAnsweringWhileTheSocketIsNotWritable() throws {
        let channel = try Self.makeChannel()
        #expect(try Self.lines(channel) == ["HELLO tls=false starttls=false"])
        channel.isWritable = false
        try channel.writeInbound(ByteBuffer(string: "one\r\ntwo\r\n"))
        #expect(try Self.lines(channel).isEmpty)
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        #expect(try Self.lines(channel) == ["ECHO one", "ECHO two"])
    }
}

/// A session that takes a resource in two asynchronous steps (like POP3: log in, then
/// lock and open the maildrop) and must give it back when the connection ends.
struct LockingSession: LineSession {
    enum Event: Sendable { case loggedIn, opened, first, second, woke, nothing }

    let journal: Journal
    var holdsLock = false

    mutating func start() -> [SessionAction<Event>] { [] }

    mutating func receive(line input: ByteBuffer) -> [SessionAction<Event>] {
        let text = String(decoding: input.readableBytesView, as: UTF8.self)
        journal.append("line \(text)")
        switch text {
        case "LOGIN":
            return [.run {
                try? await Task.sleep(for: .milliseconds(100))
                return .loggedIn
            }]
        case "TWO":
            // Two pieces of work at once; the next line must wait for both.
            return [
                .run {
                    try? await Task.sleep(for: .milliseconds(20))
                    return .first
                },
                .run {
                    try? await Task.sleep(for: .milliseconds(150))
                    return .second
                },
            ]
        case "WAIT":
            // Like IMAP IDLE: work that waits while the client may go on sending.
            return [.spawn {
                try? await Task.sleep(for: .milliseconds(150))
                return .woke
            }]
        default:
            return [.send(ByteBuffer(string: "ECHO \(text)\r\n"))]
        }
    }

    mutating func lineTooLong() -> [SessionAction<Event>] { [] }

    mutating func complete(_ event: Event) -> [SessionAction<Event>] {
        journal.append("event \(event)")
        switch event {
        case .loggedIn:
            let journal = self.journal
            return [.run {
                journal.append("lock taken")
                return .opened
            }]
        case .opened:
            holdsLock = true
            return [.send(ByteBuffer(string: "OPENED\r\n"))]
        case .woke:
            return [.send(ByteBuffer(string: "WOKE\r\n"))]
        case .first, .second, .nothing:
            return []
        }
    }

    mutating func tlsEstablished(_ info: TLSInfo) -> [SessionAction<Event>] { [] }
    mutating func idleTimeout() -> [SessionAction<Event>] { [] }
    mutating func shutdown() -> [SessionAction<Event>] { [.close] }

    mutating func connectionClosed() -> [SessionAction<Event>] {
        guard holdsLock else { return [] }
        holdsLock = false
        let journal = self.journal
        return [.run {
            journal.append("lock released")
            return .nothing
        }]
    }
}

final class Journal: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

@Suite("LineSessionHandler: work in flight when the connection ends")
struct LineSessionHandlerCloseTests {
    static func makeChannel(_ journal: Journal) throws -> EmbeddedChannel {
        let context = ConnectionContext(
            service: "test", sessionID: "S1", remoteAddress: "192.0.2.1", remotePort: 1, localPort: 2,
            isImplicitTLS: false, canStartTLS: false)
        let handler = LineSessionHandler(
            session: LockingSession(journal: journal), context: context, maximumLineLength: 100, tlsContext: nil,
            logger: Logger(label: "test"))
        let channel = EmbeddedChannel(handler: handler)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.2", port: 25)).wait()
        return channel
    }

    /// Runs the embedded loop until `done` or about two seconds have passed.
    static func settle(_ channel: EmbeddedChannel, until done: () -> Bool) async throws {
        for _ in 0..<200 where !done() {
            channel.embeddedEventLoop.run()
            try await Task.sleep(for: .milliseconds(10))
        }
        channel.embeddedEventLoop.run()
    }

    /// The client leaves while its login is being checked: the login still succeeds,
    /// the session still takes the lock — and must hear the connection is gone after
    /// that, so that it gives the lock back (found in review: it was never released).
    @Test func resourceTakenAfterTheClientLeftIsReleased() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "LOGIN\r\n"))
        _ = try? channel.close().wait()
        try await Self.settle(channel) { journal.all.contains("event nothing") }
        #expect(journal.all == ["line LOGIN", "event loggedIn", "lock taken", "event opened", "lock released", "event nothing"])
    }

    /// Two pieces of work at once: input waits until both are done, and nothing is lost.
    @Test func inputWaitsForEveryPieceOfWork() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "TWO\r\nNEXT\r\n"))
        try await Self.settle(channel) { journal.all.contains("line NEXT") }
        #expect(journal.all == ["line TWO", "event first", "event second", "line NEXT"])
        var reply = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(reply.readString(length: reply.readableBytes) == "ECHO NEXT\r\n")
        _ = try? channel.finish()
    }

    /// `.spawn`: the line after it is read at once, and the work's result still arrives.
    @Test func spawnedWorkDoesNotHoldBackInput() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "WAIT\r\nNEXT\r\n"))
        channel.embeddedEventLoop.run()
        #expect(journal.all == ["line WAIT", "line NEXT"])
        try await Self.settle(channel) { journal.all.contains("event woke") }
        #expect(journal.all == ["line WAIT", "line NEXT", "event woke"])
        var output = ""
        while var reply = try channel.readOutbound(as: ByteBuffer.self) {
            output += reply.readString(length: reply.readableBytes) ?? ""
        }
        #expect(output == "ECHO NEXT\r\nWOKE\r\n")
        _ = try? channel.finish()
    }

    /// A spawned result that arrives after the client left is dropped.
    @Test func spawnedResultAfterCloseIsDropped() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "WAIT\r\n"))
        _ = try? channel.close().wait()
        try await Task.sleep(for: .milliseconds(300))
        channel.embeddedEventLoop.run()
        #expect(!journal.all.contains("event woke"))
    }

    /// Work asked for while the socket does not drain waits until it does (a batched
    /// IMAP FETCH produces its next batch only then).
    @Test func workWaitsForTheSocketToDrain() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "LOGIN\r\n"))
        channel.embeddedEventLoop.run()
        channel.isWritable = false
        try await Self.settle(channel) { journal.all.contains("event loggedIn") }
        try await Task.sleep(for: .milliseconds(50))
        channel.embeddedEventLoop.run()
        #expect(journal.all == ["line LOGIN", "event loggedIn"])
        channel.isWritable = true
        channel.pipeline.fireChannelWritabilityChanged()
        try await Self.settle(channel) { journal.all.contains("event opened") }
        #expect(journal.all == ["line LOGIN", "event loggedIn", "lock taken", "event opened"])
        _ = try? channel.finish()
    }

    /// A client that stops reading while work waits for the socket to drain is closed at
    /// the idle timeout, and the held-back work does not keep the session busy.
    @Test func stalledReaderIsClosedAtTheIdleTimeout() async throws {
        let journal = Journal()
        let channel = try Self.makeChannel(journal)
        try channel.writeInbound(ByteBuffer(string: "LOGIN\r\n"))
        channel.embeddedEventLoop.run()
        channel.isWritable = false
        try await Self.settle(channel) { journal.all.contains("event loggedIn") }
        #expect(channel.isActive)
        channel.pipeline.fireUserInboundEventTriggered(IdleStateHandler.IdleStateEvent.read)
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(!journal.all.contains("lock taken"))
    }
}
