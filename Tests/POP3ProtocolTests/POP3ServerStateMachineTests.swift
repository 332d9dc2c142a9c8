import MailTestSupport
import Foundation
import NIOCore
import SASL
import Testing

@testable import POP3Protocol

// MARK: - Greeting and CAPA

@Suite("POP3 session: greeting and CAPA")
struct POP3SessionGreetingTests {
    @Test func greetsWithTheSessionID() {
        var machine = makeMachine()
        let actions = machine.greeting()
        #expect(sentText(actions) == "+OK Tsubame POP3 ready (S1)\r\n")
        #expect(actions.count == 1)
    }

    /// Plain port, STLS possible, no plaintext logins: no USER, no PLAIN/LOGIN.
    @Test func capaOnAPlainConnection() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "CAPA")
        #expect(
            sentText(actions)
                == "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
                + "STLS\r\nIMPLEMENTATION Tsubame\r\n.\r\n")
    }

    /// SCRAM does not reveal the password, so it is offered without TLS.
    @Test func capaOffersSCRAMWithoutTLS() {
        var machine = makeMachine { $0.mechanisms = [.plain, .login, .scramSHA256] }
        let text = sentText(send(&machine, "CAPA"))
        #expect(text.contains("\r\nSASL SCRAM-SHA-256\r\n"))
        #expect(!text.contains("\r\nUSER\r\n"))
        #expect(!text.contains("PLAIN"))
    }

    @Test func capaUnderTLS() {
        var machine = makeMachine(isTLS: true, canStartTLS: false) {
            $0.mechanisms = [.plain, .login, .scramSHA256]
            $0.expire = "NEVER"
            $0.loginDelaySeconds = 60
        }
        #expect(
            sentText(send(&machine, "CAPA"))
                == "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nPIPELINING\r\nAUTH-RESP-CODE\r\n"
                + "USER\r\nSASL PLAIN LOGIN SCRAM-SHA-256\r\nEXPIRE NEVER\r\nLOGIN-DELAY 60\r\n"
                + "IMPLEMENTATION Tsubame\r\n.\r\n")
    }

    @Test func capaWithPlaintextAllowed() {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        let text = sentText(send(&machine, "CAPA"))
        #expect(text.contains("\r\nUSER\r\nSASL PLAIN LOGIN\r\nSTLS\r\n"))
    }

    @Test func capaWithoutMechanismsHasNoSASLLine() {
        var machine = makeMachine(isTLS: true) { $0.mechanisms = [] }
        let text = sentText(send(&machine, "CAPA"))
        #expect(!text.contains("SASL"))
        #expect(text.contains("\r\nUSER\r\n"))
    }

    /// STLS is announced only where it can be used: not in TRANSACTION.
    @Test func capaInTransaction() {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        _ = machine.greeting()
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        _ = machine.authenticationFinished(.success("alice@example.test"))
        _ = machine.maildropOpened(.opened(rfcMaildrop))
        let text = sentText(send(&machine, "CAPA"))
        #expect(text.hasPrefix("+OK Capability list follows\r\nTOP\r\nUIDL\r\n"))
        #expect(!text.contains("STLS"))
        #expect(text.hasSuffix("IMPLEMENTATION Tsubame\r\n.\r\n"))
    }
}

// MARK: - AUTHORIZATION: USER and PASS

@Suite("POP3 session: USER and PASS")
struct POP3SessionUserPassTests {
    @Test func userPassLogsIn() {
        var machine = makeMachine(isTLS: true)
        _ = machine.greeting()
        #expect(sentText(send(&machine, "USER alice@example.test")) == "+OK\r\n")
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"])
        #expect(machine.isWaiting)
        #expect(
            summary(machine.authenticationFinished(.success("alice@example.test"))) == [
                "openMaildrop alice@example.test"
            ])
        #expect(machine.isWaiting)
        #expect(!machine.isInTransaction)
        let opened = machine.maildropOpened(.opened(rfcMaildrop))
        #expect(sentText(opened) == "+OK Logged in.\r\n")
        #expect(!machine.isWaiting)
        #expect(machine.isInTransaction)
        #expect(machine.user == "alice@example.test")
    }

    /// The maildrop opened is the one the authenticator named (its canonical form).
    @Test func theAuthenticatorsNameOpensTheMaildrop() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER Alice@Example.Test")
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword Alice@Example.Test secret"])
        #expect(
            summary(machine.authenticationFinished(.success("alice@example.test"))) == [
                "openMaildrop alice@example.test"
            ])
    }

    @Test func passwordIsTheRestOfTheLine() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        #expect(
            summary(send(&machine, "PASS  correct horse battery staple ")) == [
                "verifyPassword alice@example.test  correct horse battery staple "
            ])
    }

    /// Dovecot's `disable_plaintext_auth` wording, with RFC 3206's [AUTH].
    @Test(arguments: ["USER alice@example.test", "PASS secret"])
    func plaintextRefusedWithoutTLS(_ line: String) {
        var machine = makeMachine()
        _ = machine.greeting()
        #expect(
            sentText(send(&machine, line))
                == "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections\r\n")
    }

    @Test func plaintextAllowedByConfiguration() {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        #expect(summary(send(&machine, "USER alice@example.test")) == ["+OK"])
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func passWithoutUser() {
        var machine = makeMachine(isTLS: true)
        #expect(sentText(send(&machine, "PASS secret")) == "-ERR No username given.\r\n")
    }

    @Test func secondUserReplacesTheFirst() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER bob@example.test")
        send(&machine, "USER alice@example.test")
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func failedLoginForgetsTheUser() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS wrong")
        #expect(sentText(machine.authenticationFinished(.failure)) == "-ERR [AUTH] Authentication failed.\r\n")
        #expect(!machine.isWaiting)
        #expect(sentText(send(&machine, "PASS secret")) == "-ERR No username given.\r\n")
        send(&machine, "USER alice@example.test")
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func throttledLogin() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        #expect(
            sentText(machine.authenticationFinished(.throttled))
                == "-ERR [LOGIN-DELAY] Too many failed logins; try again later\r\n")
    }

    @Test func temporaryAuthenticationFailure() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        #expect(
            sentText(machine.authenticationFinished(.temporaryFailure))
                == "-ERR [SYS/TEMP] Temporary authentication failure\r\n")
    }

    @Test func maildropInUse() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        _ = machine.authenticationFinished(.success("alice@example.test"))
        #expect(
            sentText(machine.maildropOpened(.inUse)) == "-ERR [IN-USE] Mailbox is locked by another POP3 session\r\n")
        #expect(!machine.isInTransaction)
        #expect(machine.user == nil)
        // Back in AUTHORIZATION: the client may try again.
        #expect(summary(send(&machine, "USER alice@example.test")) == ["+OK"])
        #expect(sentText(send(&machine, "STAT")) == "-ERR Command not valid in this state\r\n")
    }

    /// RFC 2449 §6.8: a login sooner than LOGIN-DELAY after the last one.
    @Test func loginDelayRefusal() {
        var machine = makeMachine(isTLS: true) { $0.loginDelaySeconds = 60 }
        #expect(sentText(send(&machine, "CAPA")).contains("LOGIN-DELAY 60\r\n"))
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        _ = machine.authenticationFinished(.success("alice@example.test"))
        #expect(
            sentText(machine.maildropOpened(.loginDelay))
                == "-ERR [LOGIN-DELAY] Logged in too recently; wait 60 seconds between logins\r\n")
        #expect(!machine.isInTransaction)
        #expect(machine.user == nil)
    }

    @Test func maildropFailure() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        _ = machine.authenticationFinished(.success("alice@example.test"))
        #expect(sentText(machine.maildropOpened(.failed)) == "-ERR [SYS/TEMP] Cannot open the mailbox\r\n")
        #expect(!machine.isInTransaction)
    }

    @Test func apopIsRefused() {
        var machine = makeMachine(isTLS: true)
        #expect(
            sentText(send(&machine, "APOP mrose c4c9334bac560ecc979e58001b3e22fb")) == "-ERR APOP is not enabled\r\n")
    }

    @Test func quitInAuthorization() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "QUIT")
        #expect(summary(actions) == ["+OK Logging out", "close"])
        #expect(machine.isClosed)
        #expect(send(&machine, "NOOP").isEmpty)
    }

    /// RFC 1939 §5: the TRANSACTION commands are not valid before login.
    @Test(arguments: ["STAT", "LIST", "LIST 1", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 0", "UIDL", "UIDL 1"])
    func transactionCommandsBeforeLogin(_ line: String) {
        var machine = makeMachine(isTLS: true)
        _ = machine.greeting()
        #expect(sentText(send(&machine, line)) == "-ERR Command not valid in this state\r\n")
        #expect(!machine.isClosed)
    }

    /// RFC 1939 §4: the AUTHORIZATION commands are not valid after login.
    @Test(arguments: ["USER bob@example.test", "PASS secret", "APOP bob 0123", "AUTH", "AUTH PLAIN", "STLS"])
    func authorizationCommandsAfterLogin(_ line: String) {
        var machine = loggedIn()
        #expect(sentText(send(&machine, line)) == "-ERR Command not valid in this state\r\n")
        #expect(machine.isInTransaction)
    }
}

// MARK: - STLS

@Suite("POP3 session: STLS")
struct POP3SessionSTLSTests {
    @Test func stlsThenLogin() {
        var machine = makeMachine()
        _ = machine.greeting()
        #expect(summary(send(&machine, "STLS")) == ["+OK Begin TLS negotiation", "startTLS"])
        #expect(machine.tlsEstablished().isEmpty)
        // RFC 2595 §4: after TLS, CAPA changes: USER, no STLS.
        let capabilities = sentText(send(&machine, "CAPA"))
        #expect(capabilities.contains("\r\nUSER\r\n"))
        #expect(capabilities.contains("\r\nSASL PLAIN LOGIN\r\n"))
        #expect(!capabilities.contains("STLS"))
        #expect(summary(send(&machine, "USER alice@example.test")) == ["+OK"])
        #expect(summary(send(&machine, "PASS secret")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func stlsTwiceIsRefused() {
        var machine = makeMachine()
        send(&machine, "STLS")
        _ = machine.tlsEstablished()
        #expect(sentText(send(&machine, "STLS")) == "-ERR TLS is already active.\r\n")
    }

    @Test func stlsOnImplicitTLS() {
        var machine = makeMachine(isTLS: true, canStartTLS: false)
        #expect(sentText(send(&machine, "STLS")) == "-ERR TLS is already active.\r\n")
    }

    @Test func stlsWithoutTLSConfigured() {
        var machine = makeMachine(canStartTLS: false)
        #expect(sentText(send(&machine, "STLS")) == "-ERR TLS support isn't enabled.\r\n")
        #expect(!sentText(send(&machine, "CAPA")).contains("STLS"))
    }

    @Test func stlsAfterUserIsRefused() {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        send(&machine, "USER alice@example.test")
        #expect(sentText(send(&machine, "STLS")) == "-ERR STLS is not allowed after USER\r\n")
    }

    @Test func stlsInTransactionIsRefused() {
        var machine = loggedIn()
        #expect(sentText(send(&machine, "STLS")) == "-ERR Command not valid in this state\r\n")
    }

    /// RFC 2595 §4: a command pipelined behind STLS must never run, in plaintext or
    /// after the handshake; the machine closes the connection if one is fed.
    @Test func commandPipelinedBehindSTLSClosesTheConnection() {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        send(&machine, "STLS")
        #expect(summary(send(&machine, "USER mallory@example.test")) == ["close"])
        #expect(machine.isClosed)
        #expect(machine.tlsEstablished().isEmpty)
    }

    @Test func tlsEstablishedOutsideSTLSIsIgnored() {
        var machine = makeMachine()
        #expect(machine.tlsEstablished().isEmpty)
        // Still not secure: plaintext logins remain refused.
        #expect(
            summary(send(&machine, "USER alice@example.test")) == [
                "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections"
            ])
    }
}

// MARK: - AUTH

@Suite("POP3 session: AUTH PLAIN and LOGIN")
struct POP3SessionAuthTests {
    @Test func authWithoutArgumentsListsTheMechanisms() {
        var machine = makeMachine(isTLS: true) { $0.mechanisms = [.plain, .login, .scramSHA256] }
        #expect(sentText(send(&machine, "AUTH")) == "+OK\r\nPLAIN\r\nLOGIN\r\nSCRAM-SHA-256\r\n.\r\n")
    }

    @Test func authListWithoutTLSShowsOnlySCRAM() {
        var machine = makeMachine { $0.mechanisms = [.plain, .login, .scramSHA256] }
        #expect(sentText(send(&machine, "AUTH")) == "+OK\r\nSCRAM-SHA-256\r\n.\r\n")
    }

    @Test func plainWithInitialResponse() {
        var machine = makeMachine(isTLS: true)
        #expect(
            summary(send(&machine, "AUTH PLAIN \(plainAliceSecret)")) == ["verifyPassword alice@example.test secret"])
        #expect(
            summary(machine.authenticationFinished(.success("alice@example.test"))) == [
                "openMaildrop alice@example.test"
            ])
        #expect(sentText(machine.maildropOpened(.opened([]))) == "+OK Logged in.\r\n")
        #expect(sentText(send(&machine, "STAT")) == "+OK 0 0\r\n")
    }

    @Test func lowerCaseMechanismName() {
        var machine = makeMachine(isTLS: true)
        #expect(
            summary(send(&machine, "auth plain \(plainAliceSecret)")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func plainWithoutInitialResponse() {
        var machine = makeMachine(isTLS: true)
        // RFC 5034 §4: an empty challenge is "+ ".
        #expect(sentText(send(&machine, "AUTH PLAIN")) == "+ \r\n")
        #expect(!machine.isWaiting)
        #expect(summary(send(&machine, plainAliceSecret)) == ["verifyPassword alice@example.test secret"])
    }

    /// RFC 5034 §4: "=" is an empty initial response — not the same as none. PLAIN's
    /// message cannot be empty, so the exchange fails; the session goes on.
    @Test func plainWithEmptyInitialResponse() {
        var machine = makeMachine(isTLS: true)
        #expect(sentText(send(&machine, "AUTH PLAIN =")) == "-ERR Invalid authentication data.\r\n")
        #expect(
            summary(send(&machine, "AUTH PLAIN \(plainAliceSecret)")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func loginExchange() {
        var machine = makeMachine(isTLS: true)
        #expect(sentText(send(&machine, "AUTH LOGIN")) == "+ VXNlcm5hbWU6\r\n")  // "Username:"
        #expect(sentText(send(&machine, base64("alice@example.test"))) == "+ UGFzc3dvcmQ6\r\n")  // "Password:"
        #expect(summary(send(&machine, base64("pass word"))) == ["verifyPassword alice@example.test pass word"])
        #expect(
            summary(machine.authenticationFinished(.success("alice@example.test"))) == [
                "openMaildrop alice@example.test"
            ])
    }

    @Test func loginWithInitialResponse() {
        var machine = makeMachine(isTLS: true)
        #expect(sentText(send(&machine, "AUTH LOGIN \(base64("alice@example.test"))")) == "+ UGFzc3dvcmQ6\r\n")
        #expect(summary(send(&machine, base64("secret"))) == ["verifyPassword alice@example.test secret"])
    }

    /// RFC 5034 §4: "*" cancels; the server answers -ERR and stays in AUTHORIZATION.
    @Test func cancelWithAsterisk() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "AUTH LOGIN")
        send(&machine, base64("alice@example.test"))
        #expect(sentText(send(&machine, "*")) == "-ERR Authentication cancelled.\r\n")
        #expect(summary(send(&machine, "NOOP")) == ["-ERR Command not valid in this state"])
        #expect(
            summary(send(&machine, "AUTH PLAIN \(plainAliceSecret)")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func cancelPlainChallenge() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "AUTH PLAIN")
        #expect(sentText(send(&machine, "*")) == "-ERR Authentication cancelled.\r\n")
    }

    @Test func invalidBase64() {
        var machine = makeMachine(isTLS: true)
        #expect(sentText(send(&machine, "AUTH PLAIN !!!")) == "-ERR Invalid base64 data.\r\n")
        send(&machine, "AUTH PLAIN")
        #expect(sentText(send(&machine, "not base64 at all")) == "-ERR Invalid base64 data.\r\n")
        #expect(sentText(send(&machine, "STAT")) == "-ERR Command not valid in this state\r\n")
    }

    @Test func malformedPlainMessage() {
        var machine = makeMachine(isTLS: true)
        #expect(
            sentText(send(&machine, "AUTH PLAIN \(base64("no nul here"))")) == "-ERR Invalid authentication data.\r\n")
    }

    @Test(arguments: ["AUTH CRAM-MD5", "AUTH GSSAPI", "AUTH SCRAM-SHA-256 biws", "AUTH EXTERNAL ="])
    func unsupportedMechanisms(_ line: String) {
        var machine = makeMachine(isTLS: true)  // SCRAM not configured by default
        #expect(sentText(send(&machine, line)) == "-ERR Unsupported authentication mechanism.\r\n")
    }

    @Test(arguments: ["AUTH PLAIN", "AUTH PLAIN \(plainAliceSecret)", "AUTH LOGIN"])
    func plaintextMechanismsNeedTLS(_ line: String) {
        var machine = makeMachine()
        #expect(
            sentText(send(&machine, line))
                == "-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections\r\n")
    }

    /// RFC 4422 §3.4.1: acting as another user is not supported.
    @Test func foreignAuthorizationIdentity() {
        var machine = makeMachine(isTLS: true)
        let response = Data("bob@example.test\0alice@example.test\0secret".utf8).base64EncodedString()
        #expect(sentText(send(&machine, "AUTH PLAIN \(response)")) == "-ERR [AUTH] Authentication failed.\r\n")
    }

    @Test func ownAuthorizationIdentityIsFine() {
        var machine = makeMachine(isTLS: true)
        let response = Data("alice@example.test\0alice@example.test\0secret".utf8).base64EncodedString()
        #expect(summary(send(&machine, "AUTH PLAIN \(response)")) == ["verifyPassword alice@example.test secret"])
    }

    @Test func authFailureMapsLikePass() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(sentText(machine.authenticationFinished(.failure)) == "-ERR [AUTH] Authentication failed.\r\n")
        send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(
            sentText(machine.authenticationFinished(.throttled))
                == "-ERR [LOGIN-DELAY] Too many failed logins; try again later\r\n")
    }

    /// A continuation line over the limit abandons the exchange.
    @Test func overlongContinuationLine() {
        var machine = makeMachine(isTLS: true) { $0.maximumLineLength = 100 }
        send(&machine, "AUTH PLAIN")
        #expect(sentText(send(&machine, String(repeating: "A", count: 101))) == "-ERR Line too long\r\n")
        #expect(sentText(send(&machine, plainAliceSecret)) == "-ERR Unknown command\r\n")
        send(&machine, "AUTH PLAIN")
        #expect(sentText(machine.lineTooLong()) == "-ERR Line too long\r\n")
        #expect(
            summary(send(&machine, "AUTH PLAIN \(plainAliceSecret)")) == ["verifyPassword alice@example.test secret"])
    }
}

// MARK: - TRANSACTION

@Suite("POP3 session: TRANSACTION")
struct POP3SessionTransactionTests {
    /// RFC 1939 §10, from STAT to QUIT, byte for byte (our greeting and login differ:
    /// no APOP; our QUIT text differs too).
    @Test func rfc1939ExampleSession() {
        var machine = loggedIn()

        #expect(sentText(send(&machine, "STAT")) == "+OK 2 320\r\n")
        #expect(sentText(send(&machine, "LIST")) == "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n")

        #expect(summary(send(&machine, "RETR 1")) == ["readMessage 101"])
        #expect(machine.isWaiting)
        let first = machine.messageRead(.content(message1))
        #expect(sentText(first) == "+OK 120 octets\r\n" + String(decoding: message1, as: UTF8.self) + ".\r\n")
        #expect(!machine.isWaiting)

        #expect(sentText(send(&machine, "DELE 1")) == "+OK message 1 deleted\r\n")

        #expect(summary(send(&machine, "RETR 2")) == ["readMessage 102"])
        let second = machine.messageRead(.content(message2))
        #expect(sentText(second) == "+OK 200 octets\r\n" + String(decoding: message2, as: UTF8.self) + ".\r\n")

        #expect(sentText(send(&machine, "DELE 2")) == "+OK message 2 deleted\r\n")

        #expect(summary(send(&machine, "QUIT")) == ["commit [101, 102] []"])
        #expect(machine.isWaiting)
        #expect(summary(machine.committed(true)) == ["+OK Logging out, messages deleted", "close"])
        #expect(machine.isClosed)
    }

    /// The same conversation through a driver that answers every action.
    @Test func rfc1939ExampleSessionAsATranscript() {
        var session = POP3TestSession(makeMachine(isTLS: true))
        session.start()
        for line in ["USER mrose", "PASS tanstaafl", "STAT", "LIST", "RETR 1", "DELE 1", "RETR 2", "DELE 2", "QUIT"] {
            session.receive(line)
        }
        #expect(
            session.transcript == [
                "+OK Tsubame POP3 ready (S1)",
                "+OK",
                "verifyPassword mrose tanstaafl", "openMaildrop mrose", "+OK Logged in.",
                "+OK 2 320",
                "+OK 2 messages (320 octets)",
                "readMessage 101", "+OK 120 octets",
                "+OK message 1 deleted",
                "readMessage 102", "+OK 200 octets",
                "+OK message 2 deleted",
                "commit [101, 102] []", "+OK Logging out, messages deleted", "close",
            ])
        #expect(session.isClosed)
    }

    @Test func listAndUIDLForOneMessage() {
        var machine = loggedIn()
        #expect(sentText(send(&machine, "LIST 2")) == "+OK 2 200\r\n")
        #expect(sentText(send(&machine, "UIDL 1")) == "+OK 1 whqtswO00WBw418f9t5JxYwZ\r\n")
        #expect(
            sentText(send(&machine, "UIDL")) == "+OK\r\n1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n")
    }

    @Test(arguments: ["LIST 3", "UIDL 3", "RETR 3", "TOP 3 0", "DELE 3", "RETR 2147483647"])
    func noSuchMessage(_ line: String) {
        var machine = loggedIn()
        #expect(sentText(send(&machine, line)) == "-ERR no such message\r\n")
        #expect(!machine.isWaiting)
    }

    /// Hostile numbers get a clear -ERR and nothing is read.
    @Test(arguments: [
        ("RETR 0", "-ERR Invalid message number"),
        ("RETR -1", "-ERR Invalid message number"),
        ("RETR +1", "-ERR Invalid message number"),
        ("RETR 1x", "-ERR Invalid message number"),
        ("RETR 99999999999999999999", "-ERR Message number too large"),
        ("RETR", "-ERR Syntax: RETR message-number"),
        ("RETR ", "-ERR Syntax: RETR message-number"),
        ("DELE 0", "-ERR Invalid message number"),
        ("LIST -1", "-ERR Invalid message number"),
        ("TOP 1 -1", "-ERR Invalid number of lines"),
        ("TOP 1 99999999999999999999", "-ERR Number of lines too large"),
        ("UIDL 1x", "-ERR Invalid message number"),
    ])
    func hostileNumbers(_ line: String, _ response: String) {
        var machine = loggedIn()
        let actions = send(&machine, line)
        #expect(sentText(actions) == response + "\r\n")
        #expect(actions.count == 1)
        #expect(machine.isInTransaction)
    }

    @Test func deletedMessagesDisappearFromTheListings() {
        var machine = loggedIn()
        #expect(sentText(send(&machine, "DELE 1")) == "+OK message 1 deleted\r\n")
        #expect(sentText(send(&machine, "STAT")) == "+OK 1 200\r\n")
        #expect(sentText(send(&machine, "LIST")) == "+OK 1 messages (200 octets)\r\n2 200\r\n.\r\n")
        #expect(sentText(send(&machine, "UIDL")) == "+OK\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n")
        for line in ["LIST 1", "UIDL 1", "RETR 1", "TOP 1 5"] {
            #expect(sentText(send(&machine, line)) == "-ERR message 1 is deleted\r\n", "\(line)")
        }
        // RFC 1939 §5 DELE example.
        #expect(sentText(send(&machine, "DELE 1")) == "-ERR message 1 already deleted\r\n")
    }

    @Test func deleThenRset() {
        var machine = loggedIn()
        send(&machine, "DELE 1")
        send(&machine, "DELE 2")
        #expect(sentText(send(&machine, "STAT")) == "+OK 0 0\r\n")
        // RFC 1939 §5 RSET example.
        #expect(sentText(send(&machine, "RSET")) == "+OK maildrop has 2 messages (320 octets)\r\n")
        #expect(sentText(send(&machine, "LIST")) == "+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n")
        #expect(summary(send(&machine, "QUIT")) == ["commit [] []"])
        #expect(summary(machine.committed(true)) == ["+OK Logging out", "close"])
    }

    /// RETR'd messages that are not deleted become \Seen; TOP does not count.
    @Test func deleThenQuitCommits() {
        var machine = loggedIn()
        send(&machine, "RETR 1")
        _ = machine.messageRead(.content(message1))
        send(&machine, "TOP 2 0")
        _ = machine.messageRead(.content(message2))
        send(&machine, "DELE 1")
        send(&machine, "RETR 2")
        _ = machine.messageRead(.content(message2))
        #expect(summary(send(&machine, "QUIT")) == ["commit [101] [102]"])
        #expect(summary(machine.committed(true)) == ["+OK Logging out, messages deleted", "close"])
    }

    @Test func topDoesNotMarkSeen() {
        var machine = loggedIn()
        send(&machine, "TOP 1 0")
        #expect(sentText(machine.messageRead(.content(message1))) == "+OK\r\nSubject: one\r\n\r\n.\r\n")
        #expect(summary(send(&machine, "QUIT")) == ["commit [] []"])
    }

    @Test func rsetForgetsRetrievals() {
        var machine = loggedIn()
        send(&machine, "RETR 1")
        _ = machine.messageRead(.content(message1))
        send(&machine, "RSET")
        #expect(summary(send(&machine, "QUIT")) == ["commit [] []"])
    }

    @Test func failedCommit() {
        var machine = loggedIn()
        send(&machine, "DELE 1")
        send(&machine, "QUIT")
        #expect(
            summary(machine.committed(false)) == ["-ERR [SYS/TEMP] Some deleted messages were not removed", "close"])
        #expect(machine.isClosed)
    }

    @Test func unreadableMessage() {
        var machine = loggedIn()
        send(&machine, "RETR 2")
        #expect(sentText(machine.messageRead(.failed)) == "-ERR [SYS/TEMP] Cannot read message 2\r\n")
        #expect(machine.isInTransaction)
        #expect(summary(send(&machine, "QUIT")) == ["commit [] []"])
    }

    @Test func retrNormalisesAndStuffs() {
        let stored = bytes("Subject: dots\n\n.hidden\n.\nend")
        let size = POP3MessageEncoder.transmittedSize(stored)
        var machine = loggedIn([MaildropMessage(uid: 7, size: size, uidl: "u7")])
        #expect(sentText(send(&machine, "LIST")) == "+OK 1 messages (\(size) octets)\r\n1 \(size)\r\n.\r\n")
        send(&machine, "RETR 1")
        #expect(
            sentText(machine.messageRead(.content(stored)))
                == "+OK \(size) octets\r\nSubject: dots\r\n\r\n..hidden\r\n..\r\nend\r\n.\r\n")
    }

    @Test func topWithLines() {
        var machine = loggedIn([MaildropMessage(uid: 7, size: 0, uidl: "u7")])
        send(&machine, "TOP 1 1")
        #expect(
            sentText(machine.messageRead(.content(bytes("A: b\r\n\r\nl1\r\nl2\r\n"))))
                == "+OK\r\nA: b\r\n\r\nl1\r\n.\r\n")
    }

    @Test func noopAndEmptyMaildrop() {
        var machine = loggedIn([])
        #expect(sentText(send(&machine, "NOOP")) == "+OK\r\n")
        #expect(sentText(send(&machine, "STAT")) == "+OK 0 0\r\n")
        #expect(sentText(send(&machine, "LIST")) == "+OK 0 messages (0 octets)\r\n.\r\n")
        #expect(sentText(send(&machine, "UIDL")) == "+OK\r\n.\r\n")
        #expect(sentText(send(&machine, "RETR 1")) == "-ERR no such message\r\n")
    }

    @Test func quitWithoutChanges() {
        var machine = loggedIn()
        #expect(summary(send(&machine, "QUIT")) == ["commit [] []"])
        #expect(summary(machine.committed(true)) == ["+OK Logging out", "close"])
    }

    /// RFC 2449 §6.6 PIPELINING: the caller feeds queued lines one by one once the
    /// machine no longer waits; the answers come in order.
    @Test func pipelinedCommands() {
        var session = POP3TestSession(makeMachine(isTLS: true))
        session.start()
        for line in ["USER a@example.test", "PASS x", "RETR 1", "TOP 2 0", "DELE 1", "STAT", "QUIT"] {
            session.receive(line)
        }
        #expect(
            session.transcript == [
                "+OK Tsubame POP3 ready (S1)", "+OK", "verifyPassword a@example.test x", "openMaildrop a@example.test",
                "+OK Logged in.", "readMessage 101", "+OK 120 octets", "readMessage 102", "+OK",
                "+OK message 1 deleted",
                "+OK 1 200", "commit [101] []", "+OK Logging out, messages deleted", "close",
            ])
    }
}

// MARK: - Ending a session

@Suite("POP3 session: ending without QUIT")
struct POP3SessionEndTests {
    /// RFC 1939 §6: no QUIT, no UPDATE state: nothing is deleted, the lock is released.
    @Test func connectionClosedInTransaction() {
        var machine = loggedIn()
        send(&machine, "RETR 1")
        _ = machine.messageRead(.content(message1))
        send(&machine, "RETR 2")
        _ = machine.messageRead(.content(message2))
        send(&machine, "DELE 2")
        #expect(summary(machine.connectionClosed()) == ["release [101]"])
        #expect(machine.isClosed)
        #expect(machine.connectionClosed().isEmpty, "released once")
        #expect(send(&machine, "QUIT").isEmpty)
    }

    @Test func connectionClosedInAuthorization() {
        var machine = makeMachine()
        _ = machine.greeting()
        #expect(machine.connectionClosed().isEmpty)
    }

    @Test func connectionClosedWhileReading() {
        var machine = loggedIn()
        send(&machine, "RETR 1")
        #expect(summary(machine.connectionClosed()) == ["release []"])
        #expect(machine.messageRead(.content(message1)).isEmpty)
    }

    @Test func connectionClosedDuringUpdate() {
        var machine = loggedIn()
        send(&machine, "DELE 1")
        send(&machine, "QUIT")
        #expect(machine.connectionClosed().isEmpty, "the commit releases the lock")
        #expect(machine.committed(true).isEmpty)
    }

    /// A maildrop that opens after the session ended is unlocked at once.
    @Test func maildropOpenedAfterTheEnd() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        _ = machine.authenticationFinished(.success("alice@example.test"))
        #expect(machine.connectionClosed().isEmpty)
        #expect(summary(machine.maildropOpened(.opened(rfcMaildrop))) == ["release []"])
        #expect(machine.maildropOpened(.inUse).isEmpty)
    }

    @Test func idleTimeoutInTransaction() {
        var machine = loggedIn()
        send(&machine, "RETR 2")
        _ = machine.messageRead(.content(message2))
        #expect(summary(machine.idleTimeout()) == ["-ERR Autologout; idle for too long", "release [102]", "close"])
        #expect(machine.idleTimeout().isEmpty)
    }

    @Test func idleTimeoutInAuthorization() {
        var machine = makeMachine()
        #expect(summary(machine.idleTimeout()) == ["-ERR Autologout; idle for too long", "close"])
    }

    @Test func shutdownInAuthorization() {
        var machine = makeMachine()
        #expect(summary(machine.shutdown()) == ["-ERR [SYS/TEMP] Server shutting down", "close"])
        #expect(machine.shutdown().isEmpty)
    }

    @Test func shutdownInTransaction() {
        var machine = loggedIn()
        send(&machine, "DELE 1")
        #expect(summary(machine.shutdown()) == ["-ERR [SYS/TEMP] Server shutting down", "release []", "close"])
    }

    @Test func shutdownWhileReadingFinishesTheRead() {
        var machine = loggedIn()
        send(&machine, "RETR 1")
        #expect(machine.shutdown().isEmpty)
        #expect(
            summary(machine.messageRead(.content(message1))) == [
                "+OK 120 octets", "-ERR [SYS/TEMP] Server shutting down", "release [101]", "close",
            ])
        #expect(machine.isClosed)
    }

    @Test func shutdownWhileCheckingThePassword() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS secret")
        #expect(machine.shutdown().isEmpty)
        #expect(
            summary(machine.authenticationFinished(.success("alice@example.test"))) == [
                "openMaildrop alice@example.test"
            ])
        #expect(
            summary(machine.maildropOpened(.opened(rfcMaildrop))) == [
                "+OK Logged in.", "-ERR [SYS/TEMP] Server shutting down", "release []", "close",
            ])
    }

    @Test func shutdownWhileCheckingAFailedPassword() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS wrong")
        #expect(machine.shutdown().isEmpty)
        #expect(
            summary(machine.authenticationFinished(.failure)) == [
                "-ERR [AUTH] Authentication failed.", "-ERR [SYS/TEMP] Server shutting down", "close",
            ])
    }

    @Test func shutdownWhileCommitting() {
        var machine = loggedIn()
        send(&machine, "DELE 1")
        send(&machine, "QUIT")
        #expect(machine.shutdown().isEmpty)
        #expect(summary(machine.committed(true)) == ["+OK Logging out, messages deleted", "close"])
    }

    @Test func shutdownDuringTLSHandshake() {
        var machine = makeMachine()
        send(&machine, "STLS")
        #expect(machine.shutdown().isEmpty)
        #expect(summary(machine.tlsEstablished()) == ["-ERR [SYS/TEMP] Server shutting down", "close"])
    }
}

// MARK: - Errors and hostile input

@Suite("POP3 session: errors and hostile input")
struct POP3SessionErrorTests {
    /// STYLE.md §4: a first line that is not POP3 gets one answer and the connection ends.
    @Test func firstLineNotPOP3Closes() {
        var machine = makeMachine()
        _ = machine.greeting()
        #expect(summary(send(&machine, "GET / HTTP/1.1")) == ["-ERR Unknown command", "close"])
        #expect(machine.isClosed)
    }

    @Test func tlsClientHelloOnThePlainPortCloses() {
        var machine = makeMachine()
        _ = machine.greeting()
        let hello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01, 0x00, 0x00, 0xA1, 0x03, 0x03]
        #expect(summary(machine.receive(line: hello)) == ["-ERR Unknown command", "close"])
    }

    @Test func laterUnknownCommandsAreJustErrors() {
        var machine = makeMachine()
        send(&machine, "CAPA")
        #expect(summary(send(&machine, "XYZZY")) == ["-ERR Unknown command"])
        #expect(summary(machine.receive(line: bytes("NO\0OP"))) == ["-ERR Unknown command"])
        #expect(!machine.isClosed)
    }

    @Test func nonUTF8IsRefused() {
        var machine = makeMachine(isTLS: true)
        #expect(
            summary(machine.receive(line: bytes("USER ") + [0xFF, 0xFE])) == ["-ERR Invalid characters in command"])
        #expect(
            summary(machine.receive(line: bytes("PASS ") + [0xC0, 0xAF])) == ["-ERR Invalid characters in command"])
    }

    @Test func longCommandLine() {
        var machine = makeMachine(isTLS: true)
        #expect(summary(send(&machine, "USER " + String(repeating: "u", count: 300))) == ["-ERR Line too long"])
        #expect(summary(send(&machine, "USER " + String(repeating: "u", count: 9000))) == ["-ERR Line too long"])
        #expect(summary(machine.lineTooLong()) == ["-ERR Line too long"])
        #expect(!machine.isClosed)
    }

    /// PASS may be longer than 255 octets, up to the configured line length.
    @Test func longPassword() {
        var machine = makeMachine(isTLS: true)
        send(&machine, "USER alice@example.test")
        let password = String(repeating: "p", count: 1000)
        #expect(summary(send(&machine, "PASS " + password)) == ["verifyPassword alice@example.test " + password])
    }

    @Test func passwordOverTheLineLimit() {
        var machine = makeMachine(isTLS: true) { $0.maximumLineLength = 512 }
        send(&machine, "USER alice@example.test")
        #expect(summary(send(&machine, "PASS " + String(repeating: "p", count: 600))) == ["-ERR Line too long"])
    }

    @Test func tooManyErrorsCloses() {
        var machine = makeMachine(isTLS: true)
        _ = machine.greeting()
        for _ in 1..<20 {
            #expect(summary(send(&machine, "STAT")) == ["-ERR Command not valid in this state"])
        }
        #expect(
            summary(send(&machine, "STAT")) == [
                "-ERR Command not valid in this state", "-ERR Too many errors", "close",
            ])
        #expect(machine.isClosed)
        #expect(send(&machine, "CAPA").isEmpty)
    }

    @Test func tooManyErrorsInTransactionReleases() {
        var machine = loggedIn { $0.maximumErrors = 3 }
        send(&machine, "RETR 1")
        _ = machine.messageRead(.content(message1))
        send(&machine, "DELE 1")
        #expect(summary(send(&machine, "RETR 9")) == ["-ERR no such message"])
        #expect(summary(send(&machine, "DELE 1")) == ["-ERR message 1 already deleted"])
        #expect(
            summary(send(&machine, "BOGUS")) == [
                "-ERR Unknown command", "-ERR Too many errors", "release []", "close",
            ])
    }

    /// Authentication failures count too.
    @Test func failedLoginsCount() {
        var machine = makeMachine(isTLS: true) { $0.maximumErrors = 2 }
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS a")
        #expect(summary(machine.authenticationFinished(.failure)) == ["-ERR [AUTH] Authentication failed."])
        send(&machine, "USER alice@example.test")
        send(&machine, "PASS b")
        #expect(
            summary(machine.authenticationFinished(.failure)) == [
                "-ERR [AUTH] Authentication failed.", "-ERR Too many errors", "close",
            ])
    }

    @Test func lineTooLongCounts() {
        var machine = makeMachine { $0.maximumErrors = 2 }
        _ = machine.lineTooLong()
        #expect(summary(machine.lineTooLong()) == ["-ERR Line too long", "-ERR Too many errors", "close"])
    }

    /// Random lines in every state: every response is `+OK`/`-ERR`/`+ ` lines with CRLF,
    /// nothing traps, and the session ends only through QUIT or too many errors.
    @Test func randomLinesNeverTrap() {
        var generator = Xorshift64(seed: 0x1939_2449)
        let words = [
            "USER", "PASS", "STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL", "CAPA", "STLS", "AUTH",
            "APOP", "PLAIN", "LOGIN", "SCRAM-SHA-256", "*", "=", "0", "1", "2", "3", "-1", "+1", "1x",
            "99999999999999999999", "2147483647", "alice@example.test", plainAliceSecret, "\u{0}", "\u{FF}", "é", ".",
        ]
        for round in 0..<200 {
            var session = POP3TestSession(
                makeMachine(isTLS: round % 2 == 0) {
                    $0.mechanisms = [.plain, .login, .scramSHA256]
                    $0.allowPlaintextAuth = round % 3 == 0
                    $0.maximumErrors = 1000
                })
            session.start()
            for _ in 0..<60 where !session.isClosed {
                let count = generator.index(below: 4)
                let line = (0..<count).map { _ in words[generator.index(below: words.count)] }.joined(separator: " ")
                var lineBytes = Array(line.utf8)
                if generator.index(below: 10) == 0 { lineBytes.append(0xFF) }
                for action in session.receive(bytes: lineBytes) {
                    guard case .send(let buffer) = action else { continue }
                    let response = Array(buffer.readableBytesView)
                    let isStatus =
                        response.starts(with: bytes("+OK")) || response.starts(with: bytes("-ERR"))
                        || response.starts(with: bytes("+ "))
                    #expect(isStatus, "\(escaped(response))")
                    #expect(response.suffix(2).elementsEqual([13, 10]))
                }
            }
            if session.isClosed {
                let last = session.transcript.suffix(2)
                let endedCleanly =
                    last.last == "close"
                    && (last.first?.hasPrefix("+OK Logging out") == true || last.first == "-ERR Too many errors"
                        || last.first == "-ERR Unknown command")
                #expect(endedCleanly, "\(session.transcript)")
            }
        }
    }
}
