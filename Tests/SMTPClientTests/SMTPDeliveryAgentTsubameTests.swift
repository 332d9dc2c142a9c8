import DNS
import Directory
import Foundation
import Logging
import MailCore
import MailQueue
import MailStore
import NIOCore
import NIOPosix
import NIOSSL
import SASL
import SMTPClient
import SMTPProtocol
import SMTPServer
import ServerSupport
import Synchronization
import Testing

/// The client against Tsubame's own SMTP server, started in process on 127.0.0.1:
/// a submission listener with STARTTLS on a self-signed certificate and AUTH.
@Suite("SMTP delivery agent against Tsubame's server")
struct SMTPDeliveryAgentTsubameTests {
    static let alice = NextHop.Credentials(username: "alice@example.test", password: "correct horse")

    @Test func deliversWithSTARTTLSAndAuthPlain() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: Self.alice)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
        #expect(results[0].status == "2.0.0")
        #expect(results[0].diagnostic.hasPrefix("smtp; 250 2.0.0"))
        #expect(results[0].remoteMTA == "mail.example.test[127.0.0.1]")
        let delivered = server.delivery.messages
        #expect(delivered.count == 1)
        let text = String(decoding: delivered.first?.message ?? [], as: UTF8.self)
        // RFC 3848: "ESMTPSA" — the server saw TLS and a login.
        #expect(text.contains("with ESMTPSA"))
        #expect(text.hasSuffix(String(decoding: plainMessage, as: UTF8.self)))
        #expect(delivered.first?.recipients.map(\.canonical) == ["bob@example.test"])
    }

    /// A wrong smarthost password defers (like Postfix), with the server's reply.
    @Test func wrongPasswordDefers() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let wrong = NextHop.Credentials(username: "alice@example.test", password: "wrong")
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: wrong)))
        #expect(
            results == [
                RecipientResult(
                    address: "bob@example.test", outcome: .deferred, status: "4.7.8",
                    diagnostic:
                        "SASL authentication failed; server mail.example.test[127.0.0.1] said: 535 5.7.8 Error: authentication failed",
                    remoteMTA: "mail.example.test[127.0.0.1]")
            ])
        #expect(server.delivery.messages.isEmpty)
    }

    @Test func requiredSTARTTLSThatIsNotOfferedDefers() async throws {
        let server = try await TsubameHarness.start(offersTLS: false)
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: Self.alice)))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.0")
        #expect(results[0].diagnostic == "TLS is required, but was not offered by host mail.example.test[127.0.0.1]")
    }

    /// The certificate checks out against the CA file, for the host name as SNI.
    @Test func verifiesTheCertificateAgainstACAFile() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        var nextHop = server.nextHop(credentials: Self.alice)
        nextHop.verifyCertificate = true
        nextHop.caFile = TsubameHarness.certificate.caPath
        let results = await agent.deliver(
            makeRequest(sender: "alice@example.test", recipients: ["bob@example.test"], nextHop: nextHop))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
    }

    /// A certificate for another name does not verify, even from the right CA (the
    /// host name is checked, RFC 6125).
    @Test func refusesACertificateForAnotherName() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        var resolver = TsubameHarness.resolver
        resolver.hosts["other.example.test"] = .success(["127.0.0.1"])
        let agent = makeAgent(resolver)
        let nextHop = NextHop(
            target: .host("other.example.test", port: server.port), tls: .starttls, verifyCertificate: true,
            caFile: TsubameHarness.certificate.caPath, credentials: Self.alice)
        let results = await agent.deliver(
            makeRequest(sender: "alice@example.test", recipients: ["bob@example.test"], nextHop: nextHop))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.5")
        #expect(server.delivery.messages.isEmpty)
    }

    /// A certificate from a private CA does not verify against the system roots:
    /// deferred, and the password never went out.
    @Test func refusesAnUnverifiableCertificate() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        var nextHop = server.nextHop(credentials: Self.alice)
        nextHop.verifyCertificate = true
        let results = await agent.deliver(
            makeRequest(sender: "alice@example.test", recipients: ["bob@example.test"], nextHop: nextHop))
        #expect(results.map(\.outcome) == [.deferred])
        #expect(results[0].status == "4.7.5")
        #expect(results[0].diagnostic.hasPrefix("TLS handshake with mail.example.test[127.0.0.1] failed"))
        #expect(server.delivery.messages.isEmpty)
    }

    /// SCRAM-SHA-256 when the server offers it (and the server proves itself).
    @Test func authenticatesWithSCRAM() async throws {
        let server = try await TsubameHarness.start(mechanisms: [.scramSHA256])
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: Self.alice)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
    }

    @Test func authenticatesWithLOGIN() async throws {
        let server = try await TsubameHarness.start(mechanisms: [.login])
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: Self.alice)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
    }

    /// RFC 8314: TLS from the first byte (port 465).
    @Test func deliversOverImplicitTLS() async throws {
        let server = try await TsubameHarness.start(tlsMode: .implicit)
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(tls: .implicit, credentials: Self.alice)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered])
    }

    /// Opportunistic TLS upgrades when STARTTLS is offered, so AUTH can follow.
    @Test func opportunisticTLSUpgrades() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let agent = makeAgent(TsubameHarness.resolver)
        let results = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test", "nobody@example.test"],
                nextHop: server.nextHop(tls: .opportunistic, credentials: Self.alice)))
        await agent.shutdown()
        #expect(results.map(\.outcome) == [.delivered, .bounced])
        #expect(results[1].status == "5.1.1")
    }

    /// The attempt's log line has the queue ID, relay, outcome and status — and never
    /// the password or the message.
    @Test func logsOneLinePerAttemptWithoutSecrets() async throws {
        let server = try await TsubameHarness.start()
        defer { Task { await server.stop() } }
        let records = LogRecords()
        let agent = SMTPDeliveryAgent(
            heloName: testHeloName, resolver: TsubameHarness.resolver, group: MultiThreadedEventLoopGroup.singleton,
            timeouts: testTimeouts, logger: Logger(label: "test") { _ in CapturingLogHandler(records: records) })
        _ = await agent.deliver(
            makeRequest(
                sender: "alice@example.test", recipients: ["bob@example.test"],
                nextHop: server.nextHop(credentials: Self.alice),
                queueID: "QID42"))
        await agent.shutdown()
        let info = records.lines.filter { $0.level == .info }
        #expect(info.count == 1)
        let line = info.first?.text ?? ""
        #expect(line.contains("QID42"))
        #expect(line.contains("mail.example.test[127.0.0.1]:\(server.port)"))
        #expect(line.contains("delivered"))
        #expect(line.contains("2.0.0"))
        for record in records.lines {
            #expect(!record.text.contains("correct horse"))
            #expect(!record.text.contains("Hello."))
        }
    }
}

// MARK: - The server under test

/// Tsubame's SMTP listener with an in-memory directory and a capturing mailbox store.
struct TsubameHarness {
    let listener: Listener<SMTPSession>
    let delivery: CapturingDelivery

    var port: Int { listener.localAddress.port ?? 0 }

    static var resolver: FakeResolver {
        var resolver = FakeResolver()
        resolver.hosts["mail.example.test"] = .success(["127.0.0.1"])
        return resolver
    }

    struct Certificate: Sendable {
        /// The CA that signed the server's certificate (for `caFile`).
        let caPath: String
        let context: NIOSSLContext?
    }

    /// One CA-signed certificate for `mail.example.test` per test run.
    static let certificate: Certificate = {
        do {
            let authority = try TestCertificateAuthority.make(serverName: "mail.example.test")
            return Certificate(
                caPath: authority.caCertificatePath,
                context: try TLSCertificates.serverContext(
                    certificatePath: authority.serverCertificatePath, keyPath: authority.serverKeyPath))
        } catch {
            return Certificate(caPath: "", context: nil)
        }
    }()

    static func start(
        offersTLS: Bool = true, tlsMode: TLSMode = .startTLS, mechanisms: [SASLMechanism] = [.plain]
    ) async throws -> TsubameHarness {
        let hash = try PasswordHash.make("correct horse", algorithm: .scramSHA256)
        let directory = TestDirectory(accounts: ["alice@example.test": hash, "bob@example.test": hash])
        var policy = ThrottlePolicy()
        policy.initialDelay = .zero
        let quiet = Logger(label: "test.server") { _ in SwiftLogNoOpLogHandler() }
        let delivery = CapturingDelivery()
        let spool = Spool(
            directory: FileManager.default.temporaryDirectory.appendingPathComponent(
                "tsubame-client-spool-\(UUID().uuidString)"
            ).path)
        let services = SMTPServices(
            directory: directory, authenticator: Authenticator(directory: directory, policy: policy, logger: quiet),
            delivery: delivery, spool: spool, logger: quiet, now: { 0 })
        var smtp = SMTPServerStateMachine.Configuration(role: .submission, hostname: "mail.example.test")
        smtp.mechanisms = mechanisms
        let configuration = smtp
        guard let context = certificate.context else { throw TLSSetupError("no test certificate") }
        let listener = try await Listener<SMTPSession>.bind(
            name: "submission", address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), tlsMode: tlsMode,
            tlsContext: offersTLS ? context : nil, limits: ListenerLimits(), shutdownGracePeriod: .seconds(1),
            logger: quiet, refusal: { _ in "421 4.7.0 too many connections\r\n" },
            makeSession: { SMTPSession(configuration: configuration, context: $0, services: services) })
        Task { try await listener.run() }
        return TsubameHarness(listener: listener, delivery: delivery)
    }

    func stop() async { await listener.close() }

    func nextHop(tls: NextHop.TLSPolicy = .starttls, credentials: NextHop.Credentials?) -> NextHop {
        NextHop(target: .host("mail.example.test", port: port), tls: tls, credentials: credentials)
    }
}

struct TestDirectory: AccountDirectory {
    let accounts: [String: PasswordHash]

    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { domain == "example.test" }

    func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login), let hash = accounts[address.canonical] else { return nil }
        return Account(address: address, passwordHash: hash)
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        guard recipient.domain == "example.test" else { return .notLocalDomain }
        return accounts[recipient.canonical] == nil ? .unknownUser : .deliver(local: [recipient], forward: [])
    }
}

/// A mailbox store that keeps what it was given.
final class CapturingDelivery: MessageDelivery {
    struct Delivered: Sendable {
        let message: [UInt8]
        let recipients: [MailAddress]
    }

    private let state = Mutex<[Delivered]>([])

    var messages: [Delivered] { state.withLock { $0 } }

    func deliver(_ message: [UInt8], to recipients: [MailAddress]) async throws(StoreError) {
        state.withLock { $0.append(Delivered(message: message, recipients: recipients)) }
    }
}

// MARK: - Log capture

final class LogRecords: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let text: String
    }

    private let state = Mutex<[Record]>([])

    var lines: [Record] { state.withLock { $0 } }

    func append(_ record: Record) { state.withLock { $0.append(record) } }
}

struct CapturingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = self.metadata.merging(event.metadata ?? [:]) { $1 }
        let text =
            "\(event.message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        records.append(LogRecords.Record(level: event.level, text: text))
    }
}
