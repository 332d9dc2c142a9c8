import DNS
import NIOCore
import NIOPosix
import Synchronization

/// A scripted SMTP server on 127.0.0.1, port 0: it answers each command with the
/// reply its script gives, records the dialogue of every connection, and can misbehave
/// on purpose (never answer, drop the connection mid-message, send hostile replies,
/// hold pipelined replies back).
///
/// Replies are raw text: `"250 2.1.0 Ok"`, or several lines joined with `\r\n`; a final
/// CRLF is added when missing. Nothing is checked for validity, so tests can send
/// whatever a broken or hostile server would.
final class FakeSMTPServer: Sendable {
    /// What the server says; `script(connectionIndex)` picks one per connection.
    struct Script: Sendable {
        /// nil: never say anything (a server that accepted the connection and hangs).
        var greeting: String? = "220 mx.remote.test ESMTP fake"
        var ehlo: String = "250-mx.remote.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES"
        var helo: String = "250 mx.remote.test"
        var mail: String = "250 2.1.0 Ok"
        /// The RCPT reply for an address (as written between the angle brackets).
        var rcpt: @Sendable (String) -> String = { _ in "250 2.1.5 Ok" }
        var data: String = "354 End data with <CR><LF>.<CR><LF>"
        var endOfData: String = "250 2.0.0 Ok: queued as FAKE1"
        /// The reply to a BDAT chunk that is not the last.
        var chunk: String = "250 2.0.0 Ok: chunk received"
        var rset: String = "250 2.0.0 Ok"
        var startTLS: String = "454 4.7.0 TLS not available"
        var auth: String = "535 5.7.8 Error: authentication failed"
        /// Close the connection once this many message octets have arrived.
        var dropAfterMessageBytes: Int?
        /// Answer MAIL and RCPT only once DATA has arrived (a client that does not
        /// pipeline waits for ever, and times out).
        var holdRepliesUntilData = false
        /// Record a violation when a command arrives together with the next one (a
        /// client that pipelines against a server that did not offer it).
        var recordPipelinedInput = false
        /// Answer DATA with `data` even when MAIL or every RCPT was refused (a broken
        /// server); otherwise such a DATA gets 554, as RFC 2920 §3.1 expects.
        var acceptDataWithoutRecipients = false
        /// Answer QUIT only once this many connections have sent it, then all at once:
        /// a client that quits its connections one after another never gets there, and
        /// each connection it closes before the answer is a violation.
        var holdQuitUntil: Int?
    }

    /// What one connection saw.
    struct Dialogue: Sendable, Equatable {
        /// Command lines without CRLF; a message appears as `<message N octets>`.
        var lines: [String] = []
        /// The message octets as they came on the wire (DATA: dot-stuffed, without the
        /// final `.` line; BDAT: the chunks joined).
        var messages: [[UInt8]] = []
        var violations: [String] = []
        /// The connection has closed (either side).
        var isClosed = false
    }

    private let channel: any Channel
    let recorder: Recorder

    var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: any Channel, recorder: Recorder) {
        self.channel = channel
        self.recorder = recorder
    }

    static func start(_ script: @escaping @Sendable (Int) -> Script) async throws -> FakeSMTPServer {
        let recorder = Recorder()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let index = recorder.newConnection()
                    try channel.pipeline.syncOperations.addHandler(
                        FakeSMTPHandler(script: script(index), index: index, recorder: recorder))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return FakeSMTPServer(channel: channel, recorder: recorder)
    }

    static func start(_ script: Script = Script()) async throws -> FakeSMTPServer {
        try await start { _ in script }
    }

    func stop() async {
        try? await channel.close()
    }

    var connections: Int { recorder.connectionCount }
    func dialogue(_ index: Int = 0) -> Dialogue { recorder.dialogue(index) }

    final class Recorder: Sendable {
        private let state = Mutex<[Dialogue]>([])
        /// Connections waiting for the answer to their QUIT (`Script.holdQuitUntil`),
        /// and how many connections have said QUIT.
        private let quits = Mutex<(held: [Int: any Channel], count: Int)>(([:], 0))

        /// Holds the QUIT of connection `index`; returns every held connection when
        /// `until` connections have said QUIT, for them to be answered.
        func holdQuit(_ index: Int, channel: any Channel, until: Int) -> [any Channel] {
            quits.withLock { quits in
                quits.count += 1
                quits.held[index] = channel
                guard quits.count >= until else { return [] }
                defer { quits.held = [:] }
                return Array(quits.held.values)
            }
        }

        /// Forgets connection `index`; true when its QUIT was still unanswered.
        func releaseQuit(_ index: Int) -> Bool {
            quits.withLock { $0.held.removeValue(forKey: index) != nil }
        }

        func newConnection() -> Int {
            state.withLock { dialogues in
                dialogues.append(Dialogue())
                return dialogues.count - 1
            }
        }

        var connectionCount: Int { state.withLock { $0.count } }

        func dialogue(_ index: Int) -> Dialogue {
            state.withLock { $0.indices.contains(index) ? $0[index] : Dialogue() }
        }

        func record(_ index: Int, _ change: (inout Dialogue) -> Void) {
            state.withLock { dialogues in
                if dialogues.indices.contains(index) { change(&dialogues[index]) }
            }
        }
    }
}

/// The server side of one fake connection (event-loop confined).
private final class FakeSMTPHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Mode {
        case command
        case data(received: [UInt8])
        case chunk(remaining: Int, isLast: Bool)
        case closed
    }

    private let script: FakeSMTPServer.Script
    private let index: Int
    private let recorder: FakeSMTPServer.Recorder
    private var buffer = ByteBuffer()
    private var mode = Mode.command
    private var chunks: [UInt8] = []
    private var held: [String] = []
    private var messageBytes = 0
    /// Whether MAIL and at least one RCPT of the current transaction got a 2xx.
    private var mailAccepted = false
    private var recipientsAccepted = 0

    init(script: FakeSMTPServer.Script, index: Int, recorder: FakeSMTPServer.Recorder) {
        self.script = script
        self.index = index
        self.recorder = recorder
    }

    func channelActive(context: ChannelHandlerContext) {
        if let greeting = script.greeting { send(greeting, context) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasQuitHeld = recorder.releaseQuit(index)
        recorder.record(index) { dialogue in
            dialogue.isClosed = true
            if wasQuitHeld { dialogue.violations.append("closed before QUIT was answered") }
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        process(context)
    }

    private func process(_ context: ChannelHandlerContext) {
        while true {
            switch mode {
            case .closed:
                return
            case .command:
                let view = buffer.readableBytesView
                guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else { return }
                var line = Array(view[view.startIndex..<newline])
                buffer.moveReaderIndex(forwardBy: newline - view.startIndex + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                let text = String(decoding: line, as: UTF8.self)
                let pipelined = buffer.readableBytes > 0
                recorder.record(index) { $0.lines.append(text) }
                if script.recordPipelinedInput && pipelined {
                    recorder.record(index) { $0.violations.append("pipelined after \(text)") }
                }
                command(text, context)
            case .data(var received):
                let available = Array(buffer.readableBytesView)
                buffer.moveReaderIndex(forwardBy: available.count)
                received += available
                if countMessageBytes(available.count, context) { return }
                // The end is CRLF "." CRLF, or "." CRLF right at the start.
                if received.starts(with: Array(".\r\n".utf8)) {
                    finishData(message: [], rest: Array(received.dropFirst(3)), context)
                } else if let end = Self.find(Array("\r\n.\r\n".utf8), in: received) {
                    finishData(
                        message: Array(received[..<(end + 2)]), rest: Array(received[(end + 5)...]), context)
                } else {
                    mode = .data(received: received)
                    return
                }
            case .chunk(let remaining, let isLast):
                let take = min(remaining, buffer.readableBytes)
                guard take > 0 || remaining == 0 else { return }
                chunks += buffer.readBytes(length: take) ?? []
                if countMessageBytes(take, context) { return }
                guard take == remaining else {
                    mode = .chunk(remaining: remaining - take, isLast: isLast)
                    return
                }
                mode = .command
                if isLast {
                    let message = chunks
                    chunks = []
                    recorder.record(index) {
                        $0.lines.append("<message \(message.count) octets>")
                        $0.messages.append(message)
                    }
                    send(script.endOfData, context)
                } else {
                    send(script.chunk, context)
                }
            }
        }
    }

    /// Counts message octets; true when the script drops the connection now.
    private func countMessageBytes(_ count: Int, _ context: ChannelHandlerContext) -> Bool {
        messageBytes += count
        if let limit = script.dropAfterMessageBytes, messageBytes >= limit {
            mode = .closed
            context.close(promise: nil)
            return true
        }
        return false
    }

    private func finishData(message: [UInt8], rest: [UInt8], _ context: ChannelHandlerContext) {
        recorder.record(index) {
            $0.lines.append("<message \(message.count) octets>")
            $0.messages.append(message)
        }
        var remaining = ByteBuffer(bytes: rest)
        remaining.writeBuffer(&buffer)
        buffer = remaining
        mode = .command
        send(script.endOfData, context)
    }

    private func command(_ line: String, _ context: ChannelHandlerContext) {
        let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        switch verb {
        case "EHLO": send(script.ehlo, context)
        case "HELO": send(script.helo, context)
        case "MAIL":
            mailAccepted = script.mail.hasPrefix("2")
            recipientsAccepted = 0
            reply(script.mail, context)
        case "RCPT":
            let address =
                line.split(separator: "<", maxSplits: 1).last?.split(separator: ">").first.map(String.init) ?? ""
            let answer = script.rcpt(address)
            if mailAccepted && answer.hasPrefix("2") { recipientsAccepted += 1 }
            reply(answer, context)
        case "DATA":
            for text in held { send(text, context) }
            held = []
            guard script.acceptDataWithoutRecipients || (mailAccepted && recipientsAccepted > 0) else {
                send("554 5.5.1 Error: no valid recipients", context)
                return
            }
            send(script.data, context)
            if script.data.hasPrefix("354") { mode = .data(received: []) }
        case "BDAT":
            let words = line.split(separator: " ")
            let size = words.count > 1 ? Int(words[1]) ?? 0 : 0
            let isLast = words.count > 2 && words[2].uppercased() == "LAST"
            mode = .chunk(remaining: size, isLast: isLast)
        case "RSET":
            mailAccepted = false
            recipientsAccepted = 0
            send(script.rset, context)
        case "NOOP": send("250 2.0.0 Ok", context)
        case "STARTTLS": send(script.startTLS, context)
        case "AUTH": send(script.auth, context)
        case "QUIT":
            mode = .closed
            guard let until = script.holdQuitUntil else {
                send("221 2.0.0 Bye", context)
                context.close(promise: nil)
                return
            }
            for channel in recorder.holdQuit(index, channel: context.channel, until: until) {
                channel.writeAndFlush(ByteBuffer(string: "221 2.0.0 Bye\r\n")).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
        default: send("502 5.5.2 Error: command not recognized", context)
        }
    }

    /// MAIL and RCPT replies, held back until DATA when the script says so.
    private func reply(_ text: String, _ context: ChannelHandlerContext) {
        if script.holdRepliesUntilData {
            held.append(text)
        } else {
            send(text, context)
        }
    }

    /// Sends `text` with a final CRLF; an empty text sends nothing (a silent server).
    private func send(_ text: String, _ context: ChannelHandlerContext) {
        guard context.channel.isActive, !text.isEmpty else { return }
        let wire = text.hasSuffix("\r\n") ? text : text + "\r\n"
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: wire)), promise: nil)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count)
        where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

/// A `HostResolver` that answers from tables: MX lookups by domain, addresses by host.
struct FakeResolver: HostResolver {
    var exchangers: [String: Result<MailExchangerLookup, DNSError>] = [:]
    var hosts: [String: Result<[String], DNSError>] = [:]

    func mailExchangers(for domain: String) async throws(DNSError) -> MailExchangerLookup {
        guard let answer = exchangers[domain] else { return .noSuchDomain }
        return try answer.get()
    }

    func addresses(of host: String) async throws(DNSError) -> [String] {
        guard let answer = hosts[host] else { throw DNSError(.noSuchName, "\(host): no such host") }
        return try answer.get()
    }
}
