import Directory
import Foundation
import IMAPProtocol
import IMAPServer
import Logging
import MailCore
import MailStore
import NIOCore
import SASL
import ServerSupport

/// An `AuthenticationClock` that never sleeps: failed logins are answered at once.
struct InstantClock: AuthenticationClock {
    var now: ContinuousClock.Instant { ContinuousClock.now }
    func sleep(for duration: Duration) async throws {}
}

/// Two accounts with `{PLAIN}` passwords (the scheme does not matter to IMAP).
struct TestAccounts: AccountDirectory {
    static let alice = "alice@example.test"
    static let bob = "bob@example.test"
    static let passwords = [alice: "alice-pw", bob: "bob-pw"]

    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { domain == "example.test" }

    /// Has SCRAM-SHA-256 keys (and only those).
    static let carol = "carol@example.test"
    static let carolPassword = "carol-pw"
    static let carolHash = try? PasswordHash.make(carolPassword, algorithm: .scramSHA256)

    func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login) else { return nil }
        if address.canonical == Self.carol { return Account(address: address, passwordHash: Self.carolHash) }
        guard let password = Self.passwords[address.canonical] else { return nil }
        return Account(address: address, passwordHash: try? PasswordHash.make(password, algorithm: .plain))
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        Self.passwords[recipient.canonical] == nil ? .unknownUser : .deliver(local: [recipient], forward: [])
    }
}

/// A user database that cannot be read.
struct BrokenDirectory: AccountDirectory {
    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        throw DirectoryError(.storage, "database is locked")
    }

    func account(login: String) async throws(DirectoryError) -> Account? {
        throw DirectoryError(.storage, "database is locked")
    }

    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        throw DirectoryError(.storage, "database is locked")
    }
}

/// What the tests share: one store, one authenticator, the services built on them.
struct IMAPTestServer {
    let store: InMemoryMailStore
    let notifier: MailboxChangeNotifier
    let services: IMAPServices

    init(
        allowPlaintextAuth: Bool = false, limits: IMAPLimits = IMAPLimits(),
        idleCheckInterval: Duration = .milliseconds(20), useNotifier: Bool = true,
        directory: any AccountDirectory = TestAccounts(), mechanisms: [SASLMechanism] = [.plain, .login],
        sharing other: IMAPTestServer? = nil
    ) {
        // Sharing another server's store: a restart, with nothing in memory but the store.
        let notifier = other?.notifier ?? MailboxChangeNotifier()
        self.notifier = notifier
        store = other?.store ?? InMemoryMailStore(notifier: notifier)
        var logger = Logger(label: "imap-test")
        logger.logLevel = .critical
        let authenticator = Authenticator(directory: directory, clock: InstantClock(), logger: logger)
        services = IMAPServices(
            authenticator: authenticator, store: store, notifier: useNotifier ? notifier : nil, logger: logger,
            mechanisms: mechanisms, allowPlaintextAuth: allowPlaintextAuth, limits: limits, idleCheckInterval: idleCheckInterval)
    }

    /// A connection; implicit TLS (993) unless `tls` is false, when STARTTLS is offered.
    func client(tls: Bool = true, canStartTLS: Bool? = nil) -> IMAPTestClient {
        IMAPTestClient(services: services, tls: tls, canStartTLS: canStartTLS ?? !tls)
    }

    /// A connection, greeted and logged in as `user`.
    func loggedIn(_ user: String = TestAccounts.alice) async -> IMAPTestClient {
        let client = client()
        _ = await client.start()
        let reply = await client.command("L1 LOGIN \(user) \(TestAccounts.passwords[user]!)")
        precondition(reply.last?.hasPrefix("L1 OK") == true, "login failed: \(reply)")
        return client
    }

    /// A connection with INBOX selected.
    func selected(_ user: String = TestAccounts.alice, mailbox: String = "INBOX") async -> IMAPTestClient {
        let client = await loggedIn(user)
        let reply = await client.command("S1 SELECT \(mailbox)")
        precondition(reply.last?.hasPrefix("S1 OK") == true, "select failed: \(reply)")
        return client
    }
}

/// Drives one `IMAPSession` as `LineSessionHandler` does, without sockets: frames input
/// into lines (raw bytes while the session wants them), performs the actions, and
/// collects what the session sends.
///
/// `.run` work is awaited at once and its event handed to `complete` (reading stops
/// meanwhile, as in the handler); `.spawn` work is kept for the test to run
/// (`runSpawned`); `.startTLS` is recorded and the handshake reported done at once.
final class IMAPTestClient {
    private(set) var session: IMAPSession
    private var input = ByteBuffer()
    private var output: [UInt8] = []
    private var isSkippingLongLine = false
    let maximumLineLength: Int
    /// `.close` was performed.
    private(set) var isClosed = false
    /// `.startTLS` actions performed.
    private(set) var tlsStarts = 0
    /// `.spawn` work not run yet.
    private(set) var spawned: [@Sendable () async -> IMAPSession.Event] = []
    /// `.send` actions performed (a batched FETCH sends several).
    private(set) var sendCount = 0

    init(services: IMAPServices, tls: Bool, canStartTLS: Bool, maximumLineLength: Int = 12288) {
        let context = ConnectionContext(
            service: "imap", sessionID: "T1", remoteAddress: "192.0.2.1", remotePort: 50_000,
            localPort: tls ? 993 : 143, isImplicitTLS: tls, canStartTLS: canStartTLS)
        session = IMAPSession(context: context, services: services)
        self.maximumLineLength = maximumLineLength
    }

    // MARK: - Input

    /// The greeting lines.
    func start() async -> [String] {
        await perform(session.start())
        return takeLines()
    }

    /// Sends `text` as it is (add CRLF yourself).
    func send(_ text: String) async {
        await send(bytes: Array(text.utf8))
    }

    func send(bytes: [UInt8]) async {
        guard !isClosed else { return }
        input.writeBytes(bytes)
        await processInput()
    }

    /// Sends one command (CRLF added) and returns the response lines up to and including
    /// the tagged one; later output stays for `takeLines`.
    func command(_ text: String) async -> [String] {
        await send(text + "\r\n")
        let tag = String(text.prefix { $0 != " " })
        return takeLines(through: tag)
    }

    /// `command`'s answer as one string, CRLFs included (for literal contents).
    func commandText(_ text: String) async -> String {
        await command(text).map { $0 + "\r\n" }.joined()
    }

    /// The output not read yet, as lines without CRLF.
    func takeLines() -> [String] {
        let text = String(decoding: output, as: UTF8.self)
        output = []
        var lines = text.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// The output not read yet, as sent.
    func takeOutput() -> [UInt8] {
        defer { output = [] }
        return output
    }

    /// Lines up to and including the first that starts with `tag `; all when there is none.
    private func takeLines(through tag: String) -> [String] {
        let lines = takeLines()
        guard let end = lines.firstIndex(where: { $0.hasPrefix(tag + " ") }) else { return lines }
        let rest = lines[(end + 1)...]
        if !rest.isEmpty { output = Array(rest.map { $0 + "\r\n" }.joined().utf8) }
        return Array(lines[...end])
    }

    // MARK: - Session events

    /// Runs the spawned work (IDLE's wait) and hands its events to the session. Work
    /// spawned meanwhile is kept for the next call.
    func runSpawned() async {
        let works = spawned
        spawned = []
        for work in works {
            let event = await work()
            guard !isClosed else { continue }
            await perform(session.complete(event))
        }
    }

    /// Hands an event to the session as if work had produced it.
    func complete(_ event: IMAPSession.Event) async {
        await perform(session.complete(event))
    }

    func idleTimeout() async {
        await perform(session.idleTimeout())
    }

    func shutdown() async {
        await perform(session.shutdown())
    }

    /// The peer's going is noticed at once (LineSessionHandler's channelInactive), while
    /// work may still be in flight.
    func loseConnection() {
        session.connectionLost()
    }

    /// The peer went away: the session releases what it holds.
    func disconnect() async {
        isClosed = true
        await performAfterClose(session.connectionClosed())
    }

    // MARK: - Framing (LineSessionHandler.processBuffer)

    private func processInput() async {
        while !isClosed {
            if session.wantsRawInput {
                guard input.readableBytes > 0 else { break }
                let before = input.readableBytes
                let actions = session.receive(raw: &input)
                await perform(actions)
                if input.readableBytes == before && actions.isEmpty { break }
                continue
            }
            guard let newline = input.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                if input.readableBytes > maximumLineLength + 1 {
                    input.clear()
                    if !isSkippingLongLine {
                        isSkippingLongLine = true
                        await perform(session.lineTooLong())
                    }
                }
                break
            }
            let length = newline - input.readerIndex
            guard var line = input.readSlice(length: length) else { break }
            input.moveReaderIndex(forwardBy: 1)
            if isSkippingLongLine {
                isSkippingLongLine = false
                continue
            }
            if line.readableBytesView.last == UInt8(ascii: "\r") {
                line.moveWriterIndex(to: line.writerIndex - 1)
            }
            if line.readableBytes > maximumLineLength {
                await perform(session.lineTooLong())
                continue
            }
            await perform(session.receive(line: line))
        }
        if input.readableBytes == 0 { input.clear() }
    }

    // MARK: - Actions

    private func perform(_ actions: [SessionAction<IMAPSession.Event>]) async {
        for action in actions {
            guard !isClosed else { return }
            switch action {
            case .send(let bytes):
                output.append(contentsOf: bytes.readableBytesView)
                sendCount += 1
            case .startTLS:
                tlsStarts += 1
                // Whatever was pipelined behind STARTTLS is dropped.
                input.clear()
                await perform(session.tlsEstablished(TLSInfo(version: "TLSv1.3")))
            case .run(let work):
                let event = await work()
                await perform(session.complete(event))
            case .spawn(let work):
                spawned.append(work)
            case .close:
                isClosed = true
                input.clear()
                // The handler closes the channel; the session then hears it is gone.
                await performAfterClose(session.connectionClosed())
                return
            }
        }
    }

    private func performAfterClose(_ actions: [SessionAction<IMAPSession.Event>]) async {
        for case .run(let work) in actions {
            let event = await work()
            await performAfterClose(session.complete(event))
        }
    }
}

// MARK: - Messages

enum Messages {
    /// RFC 9051 §7.5.2's example message, CRLF line ends.
    static let rfcExample = crlf("""
        Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)
        From: Terry Gray <gray@cac.washington.edu>
        Subject: IMAP4rev2 WG mtg summary and minutes
        To: imap@cac.washington.edu
        Cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>
        Message-Id: <B27397-0100000@cac.washington.edu>
        MIME-Version: 1.0
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

        Hello Joe, do you think we can meet at 3:30 tomorrow?

        """)

    /// RFC 9051 §6.3.12's APPEND example.
    static let append = crlf("""
        Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
        From: Fred Foobar <foobar@Blurdybloop.example>
        Subject: afternoon meeting
        To: mooch@owatagu.siam.edu.example
        Message-Id: <B27397-0100000@Blurdybloop.example>
        MIME-Version: 1.0
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

        Hello Joe, do you think we can meet at 3:30 tomorrow?

        """)

    /// A multipart message with a base64 attachment (for BINARY).
    static let multipart = crlf("""
        From: Alice <alice@example.test>
        To: Bob <bob@example.test>
        Subject: =?UTF-8?B?44GT44KT44Gr44Gh44Gv?= report
        Date: Tue, 1 Jul 2003 10:52:37 +0200
        MIME-Version: 1.0
        Content-Type: multipart/mixed; boundary="b1"

        --b1
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: base64

        SGVsbG8sIHdvcmxkIQ==
        --b1
        Content-Type: application/octet-stream
        Content-Transfer-Encoding: base64

        AAECAw==
        --b1--

        """)

    /// A small message with the given headers and body.
    static func simple(
        from: String = "carol@example.net", subject: String = "Hello", body: String = "Just saying hi.",
        extraHeaders: String = ""
    ) -> String {
        crlf("From: \(from)\nTo: alice@example.test\nSubject: \(subject)\n\(extraHeaders)\n\(body)\n")
    }

    /// `text` with every LF made CRLF.
    static func crlf(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
    }
}
