import DNS
import Logging
import MailQueue
import NIOCore
import NIOPosix
import SMTPClient
import SMTPProtocol

// Helpers shared by the SMTPClient suites.

/// The name the client under test says in EHLO; a server calling itself this is "us".
let testHeloName = "tsubame.test"

/// Generous enough never to fire in a healthy test, even when the whole test suite
/// loads both cores (the in-process server's tasks then wait for a thread), and short
/// enough that a broken test fails in a minute rather than after RFC 5321's ten.
/// Tests that need a timeout to fire set their own.
let testTimeouts: SMTPClientTimeouts = {
    var timeouts = SMTPClientTimeouts()
    for path: WritableKeyPath<SMTPClientTimeouts, Duration> in [
        \.connect, \.greeting, \.hello, \.tlsHandshake, \.authentication, \.mail, \.rcpt, \.data, \.dataBlock,
        \.endOfData, \.reset,
    ] {
        timeouts[keyPath: path] = .seconds(60)
    }
    timeouts.quit = .seconds(2)
    timeouts.connectionCacheTime = .seconds(60)
    return timeouts
}()

let plainMessage = Array("From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: test\r\n\r\nHello.\r\n".utf8)

func makeAgent(
    _ resolver: FakeResolver, timeouts: SMTPClientTimeouts = testTimeouts, limits: SMTPClientLimits = SMTPClientLimits()
) -> SMTPDeliveryAgent {
    SMTPDeliveryAgent(
        heloName: testHeloName, resolver: resolver, group: MultiThreadedEventLoopGroup.singleton, timeouts: timeouts,
        logger: Logger(label: "test.smtpclient") { _ in SwiftLogNoOpLogHandler() }, limits: limits)
}

/// A resolver where `mx.remote.test` is 127.0.0.1.
func loopbackResolver() -> FakeResolver {
    var resolver = FakeResolver()
    resolver.hosts["mx.remote.test"] = .success(["127.0.0.1"])
    return resolver
}

func makeRequest(
    sender: String = "alice@example.test", recipients: [String] = ["bob@remote.test"],
    nextHop: NextHop, message: [UInt8] = plainMessage, smtpUTF8: Bool = false, bodyType: String? = nil,
    envelopeID: String? = nil, ret: String? = nil, notify: [String]? = nil, withORCPT: Bool = false,
    queueID: String = "Q1"
) -> OutboundRequest {
    OutboundRequest(
        queueID: queueID, sender: sender,
        recipients: recipients.map { address in
            Envelope.Recipient(
                address: address, notify: notify, originalRecipient: withORCPT ? "rfc822;\(address)" : nil)
        },
        envelopeID: envelopeID, ret: ret, bodyType: bodyType, smtpUTF8: smtpUTF8, message: message, nextHop: nextHop)
}

extension FakeSMTPServer {
    /// The next hop `[mx.remote.test]:port` (no MX lookup), no TLS.
    func host(tls: NextHop.TLSPolicy = .none, credentials: NextHop.Credentials? = nil) -> NextHop {
        NextHop(target: .host("mx.remote.test", port: port), tls: tls, credentials: credentials)
    }
}
