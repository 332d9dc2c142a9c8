import Foundation
import IMAPProtocol
import MailTestSupport
import Testing

@testable import IMAPServer

/// `\0user\0password` in base64: an AUTHENTICATE PLAIN response (RFC 4616).
func plainResponse(_ user: String, _ password: String) -> String {
    Data(Array("\0\(user)\0\(password)".utf8)).base64EncodedString()
}

@Suite("IMAP session: greeting, TLS, login, logout, errors")
struct IMAPSessionLoginTests {
    let server = IMAPTestServer()

    // MARK: - Greeting and CAPABILITY

    /// RFC 9051 §7.1.1: the greeting may carry CAPABILITY, sparing the client a round trip.
    @Test func greetingCarriesCapabilitiesOnImplicitTLS() async {
        let client = server.client()
        let greeting = await client.start()
        #expect(
            greeting == [
                "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ENABLE IDLE AUTH=PLAIN AUTH=LOGIN] Tsubame ready."
            ])
    }

    /// RFC 9051 §6.2.3, §7.2.2: on a plaintext port without `allow_plaintext`, LOGIN is
    /// disabled and no plaintext mechanism is offered until STARTTLS.
    @Test func plaintextConnectionAnnouncesStartTLSAndLoginDisabled() async {
        let client = server.client(tls: false)
        let greeting = await client.start()
        #expect(
            greeting == [
                "* OK [CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ENABLE IDLE STARTTLS LOGINDISABLED] Tsubame ready."
            ])
    }

    @Test func capabilityCommandListsTheSameAsTheGreeting() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 CAPABILITY")
        #expect(
            reply == [
                "* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ENABLE IDLE AUTH=PLAIN AUTH=LOGIN",
                "a1 OK Capability completed",
            ])
    }

    @Test func capabilitiesAfterLoginNameTheExtensions() async throws {
        let client = await server.loggedIn()
        let reply = await client.command("a1 CAPABILITY")
        let line = try #require(reply.first)
        for capability in ["IMAP4rev2", "UIDPLUS", "MOVE", "IDLE", "ESEARCH", "SPECIAL-USE", "UTF8=ACCEPT", "UNSELECT"] {
            #expect(line.split(separator: " ").contains(Substring(capability)), "\(capability)")
        }
        #expect(!line.contains("AUTH="))
        #expect(!line.contains("LOGINDISABLED"))
        #expect(reply.last == "a1 OK Capability completed")
    }

    // MARK: - STARTTLS and LOGINDISABLED

    @Test func loginOnPlaintextIsRefusedWithPrivacyRequired() async {
        let client = server.client(tls: false)
        _ = await client.start()
        let reply = await client.command("a1 LOGIN alice@example.test alice-pw")
        #expect(reply == ["a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections"])
    }

    @Test func authenticatePlainOnPlaintextIsRefusedWithPrivacyRequired() async {
        let client = server.client(tls: false)
        _ = await client.start()
        let reply = await client.command("a1 AUTHENTICATE PLAIN " + plainResponse("alice@example.test", "alice-pw"))
        #expect(reply == ["a1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure connections"])
    }

    /// RFC 9051 §6.2.1: `OK Begin TLS negotiation now`, then the handshake; the
    /// capabilities change afterwards (no STARTTLS, no LOGINDISABLED).
    @Test func startTLSThenLogin() async {
        let client = server.client(tls: false)
        _ = await client.start()
        let reply = await client.command("a1 STARTTLS")
        #expect(reply == ["a1 OK Begin TLS negotiation now"])
        #expect(client.tlsStarts == 1)
        let capabilities = await client.command("a2 CAPABILITY")
        #expect(
            capabilities.first == "* CAPABILITY IMAP4rev1 IMAP4rev2 SASL-IR LITERAL- ENABLE IDLE AUTH=PLAIN AUTH=LOGIN")
        let login = await client.command("a3 LOGIN alice@example.test alice-pw")
        #expect(login.count == 1)
        #expect(login.first?.hasPrefix("a3 OK [CAPABILITY IMAP4rev1 IMAP4rev2 ") == true)
    }

    /// Commands pipelined behind STARTTLS are plaintext injection and never run
    /// (CVE-2011-0411).
    @Test func commandsPipelinedBehindStartTLSAreDropped() async {
        let client = server.client(tls: false)
        _ = await client.start()
        await client.send("a1 STARTTLS\r\na2 NOOP\r\n")
        #expect(client.takeLines() == ["a1 OK Begin TLS negotiation now"])
    }

    @Test func startTLSOnTLSIsRefused() async {
        let client = server.client()
        _ = await client.start()
        #expect(await client.command("a1 STARTTLS") == ["a1 BAD TLS is already active"])
        #expect(client.tlsStarts == 0)
    }

    @Test func plaintextLoginAllowedByConfiguration() async {
        let server = IMAPTestServer(allowPlaintextAuth: true)
        let client = server.client(tls: false)
        let greeting = await client.start()
        #expect(greeting.first?.contains("LOGINDISABLED") == false)
        #expect(greeting.first?.contains("AUTH=PLAIN") == true)
        let login = await client.command("a1 LOGIN alice@example.test alice-pw")
        #expect(login.first?.hasPrefix("a1 OK [CAPABILITY") == true)
    }

    // MARK: - LOGIN

    @Test func loginSucceedsWithCapabilities() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a001 LOGIN alice@example.test alice-pw")
        #expect(reply.count == 1)
        let line = reply[0]
        #expect(line.hasPrefix("a001 OK [CAPABILITY IMAP4rev1 IMAP4rev2 "))
        #expect(line.hasSuffix("] Logged in"))
        #expect(line.contains(" UIDPLUS "))
    }

    @Test func loginWithQuotedAndLiteralArguments() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 LOGIN \"alice@example.test\" {8}\r\n")
        #expect(client.takeLines() == ["+ Ready for literal data"])
        await client.send("alice-pw\r\n")
        #expect(client.takeLines().first?.hasPrefix("a1 OK [CAPABILITY") == true)
    }

    @Test func wrongPasswordIsAuthenticationFailed() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 LOGIN alice@example.test wrong")
        #expect(reply == ["a1 NO [AUTHENTICATIONFAILED] Authentication failed"])
        // Still not authenticated.
        #expect(await client.command("a2 SELECT INBOX") == ["a2 BAD Please log in first"])
    }

    @Test func unknownUserLooksLikeAWrongPassword() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 LOGIN mallory@example.test secret")
        #expect(reply == ["a1 NO [AUTHENTICATIONFAILED] Authentication failed"])
    }

    @Test func secondLoginIsRefused() async {
        let client = await server.loggedIn()
        #expect(await client.command("a1 LOGIN bob@example.test bob-pw") == ["a1 BAD Already logged in"])
    }

    // MARK: - AUTHENTICATE

    /// RFC 4959: SASL-IR, the initial response on the command line.
    @Test func authenticatePlainWithInitialResponse() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 AUTHENTICATE PLAIN " + plainResponse("alice@example.test", "alice-pw"))
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 OK [CAPABILITY IMAP4rev1") == true)
        #expect(await client.command("a2 SELECT INBOX").last == "a2 OK [READ-WRITE] SELECT completed")
    }

    /// RFC 9051 §6.2.2: an empty challenge ("+ "), then the client's base64 response.
    @Test func authenticatePlainWithContinuation() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 AUTHENTICATE PLAIN\r\n")
        #expect(client.takeLines() == ["+ "])
        let reply = await client.command(plainResponse("alice@example.test", "alice-pw"))
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 OK [CAPABILITY") == true)
    }

    @Test func authenticatePlainWithWrongPassword() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 AUTHENTICATE PLAIN " + plainResponse("alice@example.test", "nope"))
        #expect(reply == ["a1 NO [AUTHENTICATIONFAILED] Authentication failed"])
    }

    /// RFC 9051 §6.2.2: "*" cancels, answered with a tagged BAD.
    @Test func authenticateCancelledWithStar() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 AUTHENTICATE PLAIN\r\n")
        #expect(client.takeLines() == ["+ "])
        await client.send("*\r\n")
        #expect(client.takeLines() == ["a1 BAD Authentication cancelled"])
        // The next line is a command again.
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
    }

    @Test func authenticateWithInvalidBase64IsBad() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 AUTHENTICATE PLAIN\r\n")
        _ = client.takeLines()
        await client.send("!!!not base64!!!\r\n")
        let reply = client.takeLines()
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
    }

    @Test func authenticateLoginMechanism() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 AUTHENTICATE LOGIN\r\n")
        // RFC draft-murchison-sasl-login: "Username:" and "Password:" challenges.
        #expect(client.takeLines() == ["+ " + Data("Username:".utf8).base64EncodedString()])
        await client.send(Data("alice@example.test".utf8).base64EncodedString() + "\r\n")
        #expect(client.takeLines() == ["+ " + Data("Password:".utf8).base64EncodedString()])
        let reply = await client.command(Data("alice-pw".utf8).base64EncodedString())
        #expect(reply.first?.hasPrefix("a1 OK [CAPABILITY") == true)
    }

    @Test func unknownMechanismIsRefused() async {
        let client = server.client()
        _ = await client.start()
        #expect(await client.command("a1 AUTHENTICATE KERBEROS_V4") == ["a1 NO [CANNOT] Unsupported authentication mechanism"])
    }

    // MARK: - Not authenticated

    @Test func commandsBeforeLoginAreBad() async {
        let client = server.client()
        _ = await client.start()
        for (index, command) in ["SELECT INBOX", "LIST \"\" \"*\"", "CREATE x", "STATUS INBOX (MESSAGES)", "IDLE"]
            .enumerated()
        {
            #expect(await client.command("b\(index) \(command)") == ["b\(index) BAD Please log in first"])
        }
        #expect(await client.command("c1 NOOP") == ["c1 OK NOOP completed"])
    }

    // MARK: - LOGOUT

    /// RFC 9051 §6.1.3: `* BYE`, the tagged OK, and the server closes the connection.
    @Test func logoutSaysByeAndCloses() async {
        let client = await server.selected()
        #expect(server.store.openHandles == 1)
        let reply = await client.command("a1 LOGOUT")
        #expect(reply == ["* BYE Logging out", "a1 OK Logout completed"])
        #expect(client.isClosed)
        // The selected mailbox is released.
        #expect(server.store.openHandles == 0)
    }

    @Test func logoutBeforeLogin() async {
        let client = server.client()
        _ = await client.start()
        #expect(await client.command("a1 LOGOUT") == ["* BYE Logging out", "a1 OK Logout completed"])
        #expect(client.isClosed)
    }

    @Test func linesAfterLogoutAreIgnored() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 LOGOUT\r\na2 NOOP\r\n")
        #expect(client.takeLines() == ["* BYE Logging out", "a1 OK Logout completed"])
    }

    @Test func idleTimeoutSaysBye() async {
        let client = await server.loggedIn()
        await client.idleTimeout()
        #expect(client.takeLines() == ["* BYE Autologout; idle for too long"])
        #expect(client.isClosed)
    }

    @Test func shutdownSaysBye() async {
        let client = await server.loggedIn()
        await client.shutdown()
        #expect(client.takeLines() == ["* BYE Server shutting down"])
        #expect(client.isClosed)
    }

    @Test func disconnectReleasesTheSelectedMailbox() async {
        let client = await server.selected()
        #expect(server.store.openHandles == 1)
        await client.disconnect()
        #expect(server.store.openHandles == 0)
    }

    // MARK: - Errors and limits

    @Test func unknownCommandIsBad() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 FROBNICATE")
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
        #expect(!client.isClosed)
    }

    /// Twenty BADs in a row: the client is not speaking IMAP; the server hangs up.
    @Test func twentyConsecutiveBadsCloseTheConnection() async {
        let client = await server.loggedIn()
        for index in 1..<20 {
            let reply = await client.command("x\(index) FROBNICATE")
            #expect(reply.first?.hasPrefix("x\(index) BAD") == true)
            #expect(!client.isClosed)
        }
        await client.send("x20 FROBNICATE\r\n")
        let lines = client.takeLines()
        #expect(lines.first?.hasPrefix("x20 BAD") == true)
        #expect(lines.last == "* BYE Too many invalid commands")
        #expect(client.isClosed)
    }

    @Test func aGoodCommandResetsTheErrorCount() async {
        let client = await server.loggedIn()
        for index in 1..<20 { _ = await client.command("x\(index) FROBNICATE") }
        #expect(await client.command("n1 NOOP") == ["n1 OK NOOP completed"])
        for index in 1..<20 { _ = await client.command("y\(index) FROBNICATE") }
        #expect(!client.isClosed)
    }

    /// RFC 7888 §4: a literal over the limit is refused before any of it is read.
    @Test func literalTooBigIsRefusedWithoutContinuation() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 LOGIN {999999999}\r\n")
        let reply = client.takeLines()
        #expect(reply == ["a1 BAD [TOOBIG] Literal too large"])
        #expect(!client.session.wantsRawInput)
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
    }

    /// RFC 7889: an APPEND message over APPENDLIMIT is `NO [TOOBIG]`, and no "+".
    @Test func appendOverTheLimitIsTooBig() async {
        var limits = IMAPLimits()
        limits.maximumMessageSize = 1000
        let server = IMAPTestServer(limits: limits)
        let client = await server.loggedIn()
        await client.send("a1 APPEND INBOX {1001}\r\n")
        #expect(client.takeLines() == ["a1 NO [TOOBIG] Message too large"])
        #expect(!client.session.wantsRawInput)
    }

    /// A non-synchronising literal over LITERAL-'s 4096 is already on its way: it is read
    /// and thrown away, and the command refused.
    @Test func nonSynchronizingLiteralOverLiteralMinusIsDiscarded() async {
        let client = await server.loggedIn()
        let data = String(repeating: "x", count: 5000)
        await client.send("a1 APPEND INBOX {5000+}\r\n" + data + "\r\n")
        #expect(client.takeLines() == ["a1 BAD [TOOBIG] Non-synchronizing literal too large"])
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
        #expect(server.store.contents(of: "INBOX", account: TestAccounts.alice)?.messages.isEmpty == true)
    }

    /// A line over the connection's limit cannot be framed safely: BYE and close.
    @Test func overlongLineClosesTheConnection() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 LOGIN " + String(repeating: "a", count: 20000) + "\r\n")
        #expect(client.takeLines() == ["* BYE Line too long"])
        #expect(client.isClosed)
    }

    /// RFC 4616 §2: acting as another user (an authorization identity) is not supported.
    @Test func authenticatePlainAsAnotherUserIsRefused() async {
        let client = server.client()
        _ = await client.start()
        let response = Data(Array("bob@example.test\0alice@example.test\0alice-pw".utf8)).base64EncodedString()
        #expect(await client.command("a1 AUTHENTICATE PLAIN " + response) == ["a1 NO [AUTHORIZATIONFAILED] Authorization failed"])
        let same = Data(Array("alice@example.test\0alice@example.test\0alice-pw".utf8)).base64EncodedString()
        #expect(await client.command("a2 AUTHENTICATE PLAIN " + same).first?.hasPrefix("a2 OK [CAPABILITY") == true)
    }

    /// The user database is down: a temporary failure, not a wrong password.
    @Test func unavailableDirectoryIsATemporaryFailure() async {
        let server = IMAPTestServer(directory: BrokenDirectory())
        let client = server.client()
        _ = await client.start()
        #expect(
            await client.command("a1 LOGIN alice@example.test alice-pw")
                == ["a1 NO [UNAVAILABLE] Temporary authentication failure, try again later"])
    }

    /// A non-synchronising literal too large even to skip: the stream cannot be kept in step.
    @Test func hugeNonSynchronizingLiteralClosesTheConnection() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 LOGIN {99999999999+}\r\n")
        #expect(client.takeLines() == ["* BYE Literal too large"])
        #expect(client.isClosed)
    }

    @Test func noopAndCapabilityDoNotNeedLogin() async {
        let client = server.client()
        _ = await client.start()
        #expect(await client.command("a1 NOOP") == ["a1 OK NOOP completed"])
        #expect(await client.command("a2 CAPABILITY").last == "a2 OK Capability completed")
    }

    // MARK: - SCRAM-SHA-256 (RFC 7677, RFC 5802)

    func scramExchange(password: String) async -> (client: IMAPTestClient, final: [String], expectedServerFinal: String?) {
        let server = IMAPTestServer(mechanisms: [.scramSHA256, .plain])
        let client = server.client(tls: false)
        let greeting = await client.start()
        // Not a plaintext mechanism: offered before TLS.
        precondition(greeting.first?.contains("AUTH=SCRAM-SHA-256") == true)
        let scram = SCRAMTestClient(username: TestAccounts.carol, password: password, nonce: "rOprNGfwEbeRWgbNEkqO")
        await client.send("a1 AUTHENTICATE SCRAM-SHA-256 " + Data(scram.clientFirst.utf8).base64EncodedString() + "\r\n")
        let challenge = client.takeLines()
        guard challenge.count == 1, challenge[0].hasPrefix("+ "),
            let decoded = Data(base64Encoded: String(challenge[0].dropFirst(2))),
            let (message, serverFinal) = scram.clientFinal(serverFirst: String(decoding: decoded, as: UTF8.self))
        else { return (client, challenge, nil) }
        await client.send(Data(message.utf8).base64EncodedString() + "\r\n")
        return (client, client.takeLines(), serverFinal)
    }

    @Test func scramLogin() async throws {
        let (client, final, expected) = await scramExchange(password: TestAccounts.carolPassword)
        let serverFinal = try #require(expected)
        #expect(final == ["+ " + Data(serverFinal.utf8).base64EncodedString()])
        await client.send("\r\n")
        let reply = client.takeLines()
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 OK [CAPABILITY") == true)
        #expect(await client.command("a2 SELECT INBOX").last == "a2 OK [READ-WRITE] SELECT completed")
    }

    @Test func scramWithWrongPassword() async {
        let (client, final, _) = await scramExchange(password: "wrong")
        #expect(final == ["a1 NO [AUTHENTICATIONFAILED] Authentication failed"])
        #expect(await client.command("a2 SELECT INBOX") == ["a2 BAD Please log in first"])
    }

    /// A command line over `maximumCommandLength` (but within the connection's line
    /// limit) is refused by the framer; the connection stays usable.
    @Test func commandLineOverTheLimitIsTooBig() async {
        let client = server.client()
        _ = await client.start()
        let reply = await client.command("a1 LOGIN " + String(repeating: "a", count: 9000) + " x")
        #expect(reply == ["a1 BAD [TOOBIG] Command line too long"])
        #expect(!client.isClosed)
        #expect(await client.command("a2 NOOP") == ["a2 OK NOOP completed"])
    }

    /// Junk that announces a literal never gets a "+": the server does not read data
    /// for a command it will refuse anyway.
    @Test func unknownCommandWithLiteralGetsNoContinuation() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 FROBNICATE {5}\r\n")
        let reply = client.takeLines()
        #expect(reply.count == 1)
        #expect(reply.first?.hasPrefix("a1 BAD") == true)
        #expect(!client.session.wantsRawInput)
    }

    @Test func pipelinedCommandsAreAnsweredInOrder() async {
        let client = await server.loggedIn()
        await client.send("a1 NOOP\r\na2 SELECT INBOX\r\na3 NOOP\r\n")
        let lines = client.takeLines()
        #expect(lines.first == "a1 OK NOOP completed")
        #expect(lines.contains("a2 OK [READ-WRITE] SELECT completed"))
        #expect(lines.last == "a3 OK NOOP completed")
    }

    @Test func bareLineFeedsEndLinesToo() async {
        let client = server.client()
        _ = await client.start()
        await client.send("a1 NOOP\na2 NOOP\n")
        #expect(client.takeLines() == ["a1 OK NOOP completed", "a2 OK NOOP completed"])
    }
}
