import DNS
import NIOCore
import NIOPosix
import Synchronization

/// A name server for tests, on 127.0.0.1 (UDP and TCP on the same port), answering
/// from a table. Besides honest answers it can stay silent, fail, truncate, or send
/// forgeries before the real answer, so the resolver's checks can be watched at work.
final class TestDNSServer: Sendable {
    /// How the server treats one question.
    enum Behaviour: Sendable {
        /// NOERROR with these answer and authority records (none: NODATA).
        case answer([DNSResourceRecord], authority: [DNSResourceRecord] = [])
        /// NXDOMAIN with an SOA in the authority section.
        case nameError
        /// A response with this code and nothing else.
        case failure(DNSResponseCode)
        /// No response at all.
        case silent
        /// Over UDP: a forged response with `forged` records first, then the real one.
        case forgedFirst(Forgery, forged: [DNSResourceRecord], real: [DNSResourceRecord])
        /// Over UDP: TC=1 and no records; over TCP: the records.
        case truncated([DNSResourceRecord])
        /// FORMERR to a query with an OPT record, the records to one without.
        case formatErrorWithEDNS([DNSResourceRecord])
    }

    /// What is wrong with a forged response.
    enum Forgery: String, Sendable, CaseIterable, CustomStringConvertible {
        case wrongID
        case wrongQuestion
        case wrongSourcePort
        case notAResponse
        case garbage
        var description: String { rawValue }
    }

    struct Key: Hashable, Sendable {
        var name: String
        var type: DNSRecordType
    }

    /// The port both listeners use.
    let address: SocketAddress
    private let udpChannel: any Channel
    private let tcpChannel: any Channel
    private let spooferChannel: any Channel
    private let state: TestDNSState

    /// The questions received, in order: `"udp mx example.test"`.
    var log: [String] { state.log.withLock { $0 } }

    private init(
        address: SocketAddress, udpChannel: any Channel, tcpChannel: any Channel, spooferChannel: any Channel,
        state: TestDNSState
    ) {
        self.address = address
        self.udpChannel = udpChannel
        self.tcpChannel = tcpChannel
        self.spooferChannel = spooferChannel
        self.state = state
    }

    /// Starts a server answering `table`; questions not in it get `otherwise`.
    static func start(
        _ table: [Key: Behaviour], otherwise: Behaviour = .nameError,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TestDNSServer {
        let state = TestDNSState(table: table, otherwise: otherwise)
        let spoofer = try await DatagramBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        // TCP must share the UDP port (the resolver retries the same address over TCP);
        // if another program holds the TCP port, try another pair.
        var lastError: (any Error)? = nil
        for _ in 0..<10 {
            let udp = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            TestDNSDatagramHandler(state: state, spoofer: spoofer))
                    }
                }
                .bind(host: "127.0.0.1", port: 0).get()
            guard let address = udp.localAddress, let port = address.port else {
                throw TestDNSServerError.noAddress
            }
            do {
                let tcp = try await ServerBootstrap(group: group)
                    .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
                    .childChannelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(TestDNSStreamHandler(state: state))
                        }
                    }
                    .bind(host: "127.0.0.1", port: port).get()
                return TestDNSServer(
                    address: address, udpChannel: udp, tcpChannel: tcp, spooferChannel: spoofer, state: state)
            } catch {
                lastError = error
                try? await udp.close()
            }
        }
        try? await spoofer.close()
        throw lastError ?? TestDNSServerError.noAddress
    }

    func stop() async {
        try? await udpChannel.close()
        try? await tcpChannel.close()
        try? await spooferChannel.close()
    }
}

enum TestDNSServerError: Error {
    case noAddress
}

/// The table and the log, shared by the listeners' handlers.
final class TestDNSState: Sendable {
    let table: [TestDNSServer.Key: TestDNSServer.Behaviour]
    let otherwise: TestDNSServer.Behaviour
    let log = Mutex<[String]>([])

    init(table: [TestDNSServer.Key: TestDNSServer.Behaviour], otherwise: TestDNSServer.Behaviour) {
        self.table = table
        self.otherwise = otherwise
    }

    /// One reply to send, and whether it goes out from the spoofer's port.
    struct Reply {
        var bytes: [UInt8]
        var fromSpoofer = false
    }

    /// The replies to `bytes`, in order; none for an unparsable query or `.silent`.
    func replies(to bytes: [UInt8], overTCP: Bool) -> [Reply] {
        guard let query = try? DNSMessage(parsing: bytes), let question = query.questions.first else { return [] }
        log.withLock {
            $0.append("\(overTCP ? "tcp" : "udp") \(question.type.description.lowercased()) \(question.name)")
        }
        let behaviour = table[TestDNSServer.Key(name: question.name, type: question.type)] ?? otherwise
        func response(
            _ answers: [DNSResourceRecord], authority: [DNSResourceRecord] = [], code: DNSResponseCode = .noError,
            truncated: Bool = false
        ) -> DNSMessage {
            DNSMessage(
                header: DNSHeader(
                    id: query.header.id, isResponse: true, isTruncated: truncated,
                    isRecursionDesired: query.header.isRecursionDesired, isRecursionAvailable: true,
                    isAuthenticData: answers.contains { $0.type == .tlsa }, responseCode: code),
                questions: query.questions, answers: answers, authorities: authority,
                opt: query.opt == nil ? nil : OPTRecord())
        }
        func encode(_ message: DNSMessage) -> [UInt8] {
            (try? message.encoded()) ?? []
        }
        switch behaviour {
        case .answer(let answers, let authority):
            return [Reply(bytes: encode(response(answers, authority: authority)))]
        case .nameError:
            return [Reply(bytes: encode(response([], authority: [Self.soa(question.name)], code: .nameError)))]
        case .failure(let code):
            return [Reply(bytes: encode(response([], code: code)))]
        case .silent:
            return []
        case .truncated(let answers):
            return [Reply(bytes: encode(overTCP ? response(answers) : response([], truncated: true)))]
        case .formatErrorWithEDNS(let answers):
            return [Reply(bytes: encode(query.opt == nil ? response(answers) : response([], code: .formatError)))]
        case .forgedFirst(let forgery, let forged, let real):
            var forgedMessage = response(forged)
            var forgedReply = Reply(bytes: [])
            switch forgery {
            case .wrongID:
                forgedMessage.header.id ^= 0x5555
            case .wrongQuestion:
                forgedMessage.questions = [DNSQuestion(name: "other." + question.name, type: question.type)]
            case .wrongSourcePort:
                forgedReply.fromSpoofer = true
            case .notAResponse:
                forgedMessage.header.isResponse = false
            case .garbage:
                forgedReply.bytes = Array(encode(forgedMessage).prefix(20))
            }
            if forgedReply.bytes.isEmpty { forgedReply.bytes = encode(forgedMessage) }
            return overTCP
                ? [Reply(bytes: encode(response(real)))] : [forgedReply, Reply(bytes: encode(response(real)))]
        }
    }

    static func soa(_ name: String) -> DNSResourceRecord {
        DNSResourceRecord(
            name: name.split(separator: ".").suffix(2).joined(separator: "."), ttl: 300,
            data: .soa(
                SOARecord(
                    primaryNameServer: "ns.example.test", responsibleMailbox: "hostmaster.example.test", serial: 1,
                    refresh: 3600, retry: 600, expire: 86400, minimum: 300)))
    }
}

/// Answers datagrams, sending forgeries from the spoofer's channel when asked to.
final class TestDNSDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let state: TestDNSState
    private let spoofer: any Channel

    init(state: TestDNSState, spoofer: any Channel) {
        self.state = state
        self.spoofer = spoofer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        let client = envelope.remoteAddress
        let replies = state.replies(to: Array(envelope.data.readableBytesView), overTCP: false)
        let channel = context.channel
        // Send in order: each reply leaves only after the previous one was written.
        var chain = context.eventLoop.makeSucceededVoidFuture()
        for reply in replies {
            let datagram = AddressedEnvelope(remoteAddress: client, data: ByteBuffer(bytes: reply.bytes))
            let spoofer = self.spoofer
            chain = chain.flatMap {
                reply.fromSpoofer ? spoofer.writeAndFlush(datagram) : channel.writeAndFlush(datagram)
            }
        }
    }
}

/// Answers length-prefixed queries on one TCP connection.
final class TestDNSStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let state: TestDNSState
    private var buffer = ByteBuffer()

    init(state: TestDNSState) {
        self.state = state
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = Self.unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            let query = buffer.getBytes(at: buffer.readerIndex + 2, length: Int(length))
        {
            buffer.moveReaderIndex(forwardBy: 2 + Int(length))
            for reply in state.replies(to: query, overTCP: true) {
                var framed = ByteBuffer()
                framed.writeInteger(UInt16(reply.bytes.count))
                framed.writeBytes(reply.bytes)
                context.writeAndFlush(Self.wrapOutboundOut(framed), promise: nil)
            }
        }
    }
}
