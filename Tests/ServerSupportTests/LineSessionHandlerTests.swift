import Logging
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
