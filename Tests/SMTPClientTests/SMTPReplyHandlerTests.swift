import NIOCore
import NIOEmbedded
import NIOSSL
import SMTPProtocol
import Testing

@testable import SMTPClient

/// The handler on an `EmbeddedChannel`: bytes in, replies and failures out, with no
/// network and no timing.
@Suite("SMTP reply handler")
struct SMTPReplyHandlerTests {
    /// RFC 3207 §4.2, the client side of CVE-2011-0411: a reply that arrives in the
    /// same read as the `220` to STARTTLS was sent in plaintext, yet would be taken as
    /// the first reply over TLS. The connection fails; no TLS handshake starts.
    @Test func failsOnRepliesInjectedBehindTheSTARTTLSReply() throws {
        let (channel, handler) = try makeChannel()
        let handshake = handler.startTLSAfterNextReply(
            tlsContext: try Self.clientContext(), serverHostname: nil, handshakeTimeout: .minutes(1))
        let reply = handler.nextReply(timeout: .minutes(1))
        let replyFailure = failure(of: reply)
        let handshakeFailure = failure(of: handshake)

        try channel.writeInbound(ByteBuffer(string: "220 go ahead\r\n250 injected\r\n"))

        #expect(replyFailure.value?.kind == .injectedAfterStartTLS)
        #expect(handshakeFailure.value?.kind == .injectedAfterStartTLS)
        #expect(!channel.isActive)
        // No ClientHello went out: the TLS handler was never added.
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    /// The same `220` alone: the TLS handler goes in front at once and says its
    /// ClientHello, and the reply is handed out.
    @Test func startsTLSRightAfterThe220() throws {
        let (channel, handler) = try makeChannel()
        _ = handler.startTLSAfterNextReply(
            tlsContext: try Self.clientContext(), serverHostname: nil, handshakeTimeout: .minutes(1))
        let reply = handler.nextReply(timeout: .minutes(1))
        let replyFailure = failure(of: reply)

        try channel.writeInbound(ByteBuffer(string: "220 go ahead\r\n"))

        #expect(replyFailure.value == nil)
        #expect(try reply.wait().code == 220)
        #expect(channel.isActive)
        // A TLS record of type handshake (22): the ClientHello.
        let hello = try channel.readOutbound(as: ByteBuffer.self)
        #expect(hello?.getInteger(at: hello?.readerIndex ?? 0, as: UInt8.self) == 22)
        _ = try? channel.close().wait()
    }

    // MARK: - Helpers

    private func makeChannel() throws -> (EmbeddedChannel, SMTPReplyHandler) {
        let channel = EmbeddedChannel()
        let handler = SMTPReplyHandler(limits: SMTPClientLimits(), eventLoop: channel.eventLoop)
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 25)).wait()
        return (channel, handler)
    }

    private static func clientContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        return try NIOSSLContext(configuration: configuration)
    }

    /// Where a future's failure lands once it fails (nil while it has not, or when it
    /// succeeded).
    private final class Failure {
        var value: SMTPClientError?
    }

    private func failure<Value>(of future: EventLoopFuture<Value>) -> Failure {
        let failure = Failure()
        future.assumeIsolated().whenFailure { error in
            failure.value = error as? SMTPClientError ?? SMTPClientError(.io, "\(error)")
        }
        return failure
    }
}
