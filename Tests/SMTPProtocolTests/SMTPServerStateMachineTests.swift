import MailTestSupport
import Foundation
import NIOCore
import SASL
import Testing

@testable import SMTPProtocol

// MARK: - Scenario helpers

/// A session that has sent its greeting and received `EHLO client.example`.
private func greeted(
    role: SMTPServerStateMachine.Role = .mx,
    isTLS: Bool = false,
    configure: (inout SMTPServerStateMachine.Configuration) -> Void = { _ in }
) -> SMTPServerStateMachine {
    var machine = makeMachine(role: role, isTLS: isTLS, configure: configure)
    _ = machine.greeting()
    send(&machine, "EHLO client.example")
    return machine
}

/// MAIL from a remote sender and one accepted local recipient (MX role).
private func openTransaction(
    _ machine: inout SMTPServerStateMachine,
    mail: String = "MAIL FROM:<alice@remote.example>",
    recipient: String = "bob@example.test",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let mailActions = send(&machine, mail)
    #expect(summary(mailActions) == ["250 2.1.0"], sourceLocation: sourceLocation)
    let rcptActions = send(&machine, "RCPT TO:<\(recipient)>")
    #expect(summary(rcptActions) == ["resolve \(recipient)"], sourceLocation: sourceLocation)
    let resolved = machine.recipientResolved(.deliver(local: [recipient], forward: []))
    #expect(summary(resolved) == ["250 2.1.5"], sourceLocation: sourceLocation)
}

/// AUTH PLAIN as alice@example.test, accepted by the authenticator.
private func authenticate(_ machine: inout SMTPServerStateMachine, sourceLocation: SourceLocation = #_sourceLocation) {
    let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
    #expect(summary(actions) == ["verifyPassword alice@example.test"], sourceLocation: sourceLocation)
    let finished = machine.authenticationFinished(.success("alice@example.test"))
    #expect(summary(finished) == ["235 2.7.0"], sourceLocation: sourceLocation)
}

/// The lines of the EHLO reply.
private func ehloLines(_ machine: inout SMTPServerStateMachine) throws -> [String] {
    let actions = send(&machine, "EHLO client.example")
    let reply = try #require(actions.first?.reply)
    #expect(reply.code == 250)
    return reply.lines
}

private func firstStore(_ actions: [SMTPAction]) -> StoreRequest? {
    actions.lazy.compactMap { $0.storeRequest }.first
}

// MARK: - Greeting, EHLO, STARTTLS

@Suite("SMTP session: greeting, EHLO and STARTTLS")
struct SMTPSessionGreetingTests {
    @Test func greetsWith220() {
        var machine = makeMachine()
        let actions = machine.greeting()
        #expect(summary(actions) == ["220"])
        #expect(actions.first?.reply?.lines == ["mx.example.test ESMTP Tsubame"])
    }

    @Test func ehloListsTheExtensions() throws {
        var machine = makeMachine()
        _ = machine.greeting()
        let lines = try ehloLines(&machine)
        #expect(lines.first == testHostname)
        for keyword in [
            "PIPELINING", "STARTTLS", "ENHANCEDSTATUSCODES", "8BITMIME", "CHUNKING", "BINARYMIME", "DSN", "SMTPUTF8",
        ] {
            #expect(lines.contains(keyword), "EHLO does not list \(keyword)")
        }
        #expect(lines.contains("SIZE \(SMTPLimits().maximumMessageSize)"))
    }

    @Test func noAuthWithoutTLSOnPort25() throws {
        var machine = makeMachine()
        _ = machine.greeting()
        let lines = try ehloLines(&machine)
        #expect(!lines.contains(where: { $0.hasPrefix("AUTH") }))
    }

    @Test func sizeShowsTheConfiguredLimit() throws {
        var machine = makeMachine { $0.limits.maximumMessageSize = 1234 }
        let lines = try ehloLines(&machine)
        #expect(lines.contains("SIZE 1234"))
    }

    @Test func heloGetsAPlain250() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "HELO client.example")
        #expect(summary(actions) == ["250"])
        #expect(actions.first?.reply?.lines == [testHostname])
    }

    @Test func startTLSThenAuthIsOfferedAndSTARTTLSIsNot() throws {
        var machine = greeted()
        let startTLS = send(&machine, "STARTTLS")
        #expect(summary(startTLS) == ["220 2.0.0", "startTLS"])
        let established = machine.tlsEstablished(version: "TLSv1.3")
        #expect(established.isEmpty)
        let lines = try ehloLines(&machine)
        #expect(lines.contains("AUTH PLAIN LOGIN"))
        #expect(!lines.contains("STARTTLS"))
    }

    @Test func allowPlaintextAuthOffersAuthWithoutTLS() throws {
        var machine = makeMachine { $0.allowPlaintextAuth = true }
        let lines = try ehloLines(&machine)
        #expect(lines.contains("AUTH PLAIN LOGIN"))
        #expect(lines.contains("STARTTLS"))
    }

    @Test func startTLSAfterTLSIsBadSequence() {
        var machine = greeted(isTLS: true)
        let actions = send(&machine, "STARTTLS")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    @Test func startTLSInsideATransactionIsBadSequence() {
        var machine = greeted()
        openTransaction(&machine)
        let actions = send(&machine, "STARTTLS")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    // RFC 3207 §4.2: the session forgets what it learned before TLS; EHLO comes again.
    @Test func tlsForgetsTheEHLO() {
        var machine = greeted()
        send(&machine, "STARTTLS")
        _ = machine.tlsEstablished(version: "TLSv1.3")
        let mail = send(&machine, "MAIL FROM:<alice@remote.example>")
        #expect(summary(mail) == ["503 5.5.1"])
        send(&machine, "EHLO client.example")
        let again = send(&machine, "MAIL FROM:<alice@remote.example>")
        #expect(summary(again) == ["250 2.1.0"])
    }

    /// RFC 3207 §4.2: "The server MUST discard any knowledge obtained from the client …
    /// which was not obtained from the TLS negotiation itself." A login made in plaintext
    /// (allowPlaintextAuth) is such knowledge: Postfix resets SASL state on STARTTLS.
    @Test func tlsForgetsAPlaintextLogin() throws {
        var machine = greeted { $0.allowPlaintextAuth = true }
        authenticate(&machine)
        send(&machine, "STARTTLS")
        _ = machine.tlsEstablished(version: "TLSv1.3")
        #expect(machine.login == nil)
        let lines = try ehloLines(&machine)
        #expect(lines.contains("AUTH PLAIN LOGIN"))
    }
}

// MARK: - Command order

@Suite("SMTP session: command order (RFC 5321 §4.1.4)")
struct SMTPSessionSequenceTests {
    @Test func mailBeforeEHLOIsBadSequence() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "MAIL FROM:<alice@remote.example>")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    @Test func rcptBeforeMailIsBadSequence() {
        var machine = greeted()
        let actions = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    @Test func dataBeforeMailIsBadSequence() {
        var machine = greeted()
        let actions = send(&machine, "DATA")
        #expect(summary(actions) == ["503 5.5.1"])
        #expect(!machine.wantsRawInput)
    }

    @Test func dataWithoutAcceptedRecipientsIs554() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let noRecipient = send(&machine, "DATA")
        #expect(summary(noRecipient) == ["554 5.5.1"])
        send(&machine, "RCPT TO:<nobody@example.test>")
        let refused = machine.recipientResolved(.unknownUser)
        #expect(summary(refused) == ["550 5.1.1"])
        let data = send(&machine, "DATA")
        #expect(summary(data) == ["554 5.5.1"])
        #expect(!machine.wantsRawInput)
    }

    @Test func nestedMailIsBadSequence() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "MAIL FROM:<carol@remote.example>")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    @Test func rsetClearsTheTransaction() {
        var machine = greeted()
        openTransaction(&machine)
        let rset = send(&machine, "RSET")
        #expect(summary(rset) == ["250 2.0.0"])
        let rcpt = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(rcpt) == ["503 5.5.1"])
        let mail = send(&machine, "MAIL FROM:<carol@remote.example>")
        #expect(summary(mail) == ["250 2.1.0"])
    }

    // RFC 5321 §4.1.4: EHLO inside a transaction acts as RSET.
    @Test func ehloInsideATransactionResetsIt() {
        var machine = greeted()
        openTransaction(&machine)
        let ehlo = send(&machine, "EHLO client.example")
        #expect(ehlo.first?.reply?.code == 250)
        let rcpt = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(rcpt) == ["503 5.5.1"])
        let mail = send(&machine, "MAIL FROM:<carol@remote.example>")
        #expect(summary(mail) == ["250 2.1.0"])
    }

    @Test func mailParametersNeedEHLO() {
        var machine = makeMachine()
        send(&machine, "HELO client.example")
        let actions = send(&machine, "MAIL FROM:<alice@remote.example> BODY=8BITMIME")
        #expect(summary(actions) == ["501 5.5.4"])
        let plain = send(&machine, "MAIL FROM:<alice@remote.example>")
        #expect(summary(plain) == ["250 2.1.0"])
    }
}

// MARK: - MX recipients

struct LookupCase: Sendable, CustomTestStringConvertible {
    let lookup: RecipientLookup
    let expected: [String]
    var testDescription: String { "\(lookup) → \(expected)" }
}

let unauthenticatedLookupCases: [LookupCase] = [
    LookupCase(lookup: .deliver(local: ["bob@example.test"], forward: []), expected: ["250 2.1.5"]),
    LookupCase(lookup: .deliver(local: [], forward: ["bob@elsewhere.example"]), expected: ["250 2.1.5"]),
    LookupCase(lookup: .unknownUser, expected: ["550 5.1.1"]),
    LookupCase(lookup: .notLocalDomain, expected: ["554 5.7.1"]),
    LookupCase(lookup: .temporaryFailure, expected: ["451 4.3.0"]),
]

/// Addresses that try to route through us to other.example: the domain we look up is
/// always the one after the last (unquoted) @, never other.example.
let relayTrickAddresses: [String] = [
    "user%other.example@example.test",
    "\"user@other.example\"@example.test",
    "other.example!user@example.test",
]

@Suite("SMTP session: MX recipients")
struct SMTPSessionRecipientTests {
    @Test func rcptAsksTheDirectory() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(actions) == ["resolve bob@example.test"])
        #expect(actions.first?.recipientToResolve == SMTPMailbox(localPart: "bob", domain: .name("example.test")))
    }

    @Test(arguments: unauthenticatedLookupCases)
    func lookupOutcomeIsTheReply(_ lookupCase: LookupCase) {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        send(&machine, "RCPT TO:<bob@example.test>")
        let actions = machine.recipientResolved(lookupCase.lookup)
        #expect(summary(actions) == lookupCase.expected)
        #expect(actions.first?.reply?.enhanced != nil)
    }

    @Test func relayDeniedSaysSo() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        send(&machine, "RCPT TO:<carol@remote.example>")
        let actions = machine.recipientResolved(.notLocalDomain)
        #expect(actions.first?.reply == SMTPReply.relayDenied)
    }

    // RFC 5321 §4.1.1.3: <Postmaster> without a domain is the postmaster of this host's domain.
    @Test func postmasterWithoutDomainIsThisHost() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<Postmaster>")
        #expect(summary(actions) == ["resolvePostmaster"])
        // Never a relay denial, even if the lookup finds no local domain.
        #expect(summary(machine.recipientResolved(.notLocalDomain)) == ["550 5.1.1"])
    }

    @Test(arguments: relayTrickAddresses)
    func relayTricksResolveInOurDomain(_ address: String) throws {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<\(address)>")
        let mailbox = try #require(actions.first?.recipientToResolve)
        #expect(mailbox.domain == SMTPMailbox.Domain.name("example.test"))
        #expect(mailbox.domainName != "other.example")
    }

    @Test func twoAtSignsAreASyntaxError() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<user@other.example@example.test>")
        #expect(summary(actions) == ["501 5.5.4"])
    }

    // RFC 5321 App. C: the source route is ignored, so the target is the final mailbox,
    // which is not ours: relaying it needs authentication.
    @Test func sourceRouteIsIgnoredAndRelayIsDenied() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<@example.test:user@other.example>")
        #expect(summary(actions) == ["resolve user@other.example"])
        let resolved = machine.recipientResolved(.notLocalDomain)
        #expect(summary(resolved) == ["554 5.7.1"])
    }

    @Test func addressLiteralIsResolvedAsALiteral() throws {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<user@[192.0.2.1]>")
        let mailbox = try #require(actions.first?.recipientToResolve)
        #expect(mailbox.domain == SMTPMailbox.Domain.addressLiteral("192.0.2.1"))
        #expect(mailbox.domainName == nil)
    }
}

// MARK: - Submission and AUTH

struct AuthOutcomeCase: Sendable, CustomTestStringConvertible {
    let outcome: SMTPServerStateMachine.AuthenticationOutcome
    let expected: [String]
    var testDescription: String { "\(outcome)" }
}

let failedAuthenticationCases: [AuthOutcomeCase] = [
    AuthOutcomeCase(outcome: .failure, expected: ["535 5.7.8"]),
    AuthOutcomeCase(outcome: .throttled, expected: ["454 4.7.0"]),
    AuthOutcomeCase(outcome: .temporaryFailure, expected: ["454 4.7.0"]),
]

@Suite("SMTP session: submission and AUTH (RFC 4954)")
struct SMTPSessionSubmissionTests {
    @Test func mailWithoutTLSMustStartTLS() {
        var machine = greeted(role: .submission)
        let actions = send(&machine, "MAIL FROM:<alice@example.test>")
        #expect(summary(actions) == ["530 5.7.0"])
        #expect(actions.first?.reply == SMTPReply.encryptionRequired)
    }

    @Test func mailWithoutAuthIsRefused() {
        var machine = greeted(role: .submission, isTLS: true)
        let actions = send(&machine, "MAIL FROM:<alice@example.test>")
        #expect(summary(actions) == ["530 5.7.0"])
        #expect(actions.first?.reply == SMTPReply.authenticationRequired)
        #expect(actions.first?.reply?.lines == ["Authentication required"])
    }

    @Test func authPlainWithInitialResponse() {
        var machine = greeted(role: .submission, isTLS: true)
        let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(actions.count == 1)
        #expect(actions.first?.passwordCheck == PasswordCheck(login: "alice@example.test", password: "secret"))
        let finished = machine.authenticationFinished(.success("alice@example.test"))
        #expect(summary(finished) == ["235 2.7.0"])
        #expect(machine.login == "alice@example.test")
    }

    @Test func authPlainWithoutInitialResponse() {
        var machine = greeted(role: .submission, isTLS: true)
        let challenge = send(&machine, "AUTH PLAIN")
        #expect(summary(challenge) == ["334"])
        #expect(challenge.first?.reply?.lines == [""])
        let actions = send(&machine, plainAliceSecret)
        #expect(actions.first?.passwordCheck == PasswordCheck(login: "alice@example.test", password: "secret"))
    }

    @Test func senderMustBelongToTheLogin() {
        var machine = greeted(role: .submission, isTLS: true)
        authenticate(&machine)
        let mail = send(&machine, "MAIL FROM:<alice@example.test>")
        #expect(
            mail.first?.senderCheck
                == SenderCheck(
                    login: "alice@example.test", sender: SMTPMailbox(localPart: "alice", domain: .name("example.test"))))
        let refused = machine.senderChecked(allowed: false)
        #expect(summary(refused) == ["553 5.7.1"])
        let retry = send(&machine, "MAIL FROM:<alice@example.test>")
        #expect(summary(retry) == ["checkSender alice@example.test alice@example.test"])
        let allowed = machine.senderChecked(allowed: true)
        #expect(summary(allowed) == ["250 2.1.0"])
    }

    @Test func nullSenderNeedsNoCheck() {
        var machine = greeted(role: .submission, isTLS: true)
        authenticate(&machine)
        let actions = send(&machine, "MAIL FROM:<>")
        #expect(summary(actions) == ["250 2.1.0"])
    }

    @Test func authenticatedClientMayRelay() throws {
        var machine = greeted(role: .submission, isTLS: true)
        authenticate(&machine)
        send(&machine, "MAIL FROM:<>")
        let rcpt = send(&machine, "RCPT TO:<carol@remote.example>")
        #expect(summary(rcpt) == ["resolve carol@remote.example"])
        let resolved = machine.recipientResolved(.notLocalDomain)
        #expect(summary(resolved) == ["250 2.1.5"])
        send(&machine, "DATA")
        let actions = raw(&machine, "Subject: hi\r\n\r\nhello\r\n.\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.transaction.recipients.first?.remote == ["carol@remote.example"])
        #expect(store.transaction.remoteTargets == ["carol@remote.example"])
        #expect(store.transaction.localTargets.isEmpty)
    }

    @Test func authLoginAsksForUsernameThenPassword() {
        var machine = greeted(role: .submission, isTLS: true)
        let username = send(&machine, "AUTH LOGIN")
        #expect(summary(username) == ["334"])
        #expect(username.first?.reply?.lines == ["VXNlcm5hbWU6"])
        let password = send(&machine, base64("alice@example.test"))
        #expect(summary(password) == ["334"])
        #expect(password.first?.reply?.lines == ["UGFzc3dvcmQ6"])
        let verify = send(&machine, base64("secret"))
        #expect(verify.first?.passwordCheck == PasswordCheck(login: "alice@example.test", password: "secret"))
    }

    @Test func authCancelledWithStar() {
        var machine = greeted(role: .submission, isTLS: true)
        send(&machine, "AUTH LOGIN")
        let cancelled = send(&machine, "*")
        #expect(summary(cancelled) == ["501 5.0.0"])
        #expect(machine.login == nil)
        // The exchange is over: a new AUTH starts afresh.
        let again = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(again) == ["verifyPassword alice@example.test"])
    }

    @Test func badBase64IsRefused() {
        var machine = greeted(role: .submission, isTLS: true)
        let initial = send(&machine, "AUTH PLAIN !!!!")
        #expect(summary(initial) == ["501 5.5.2"])
        send(&machine, "AUTH PLAIN")
        let response = send(&machine, "not base64!")
        #expect(summary(response) == ["501 5.5.2"])
    }

    @Test func unknownMechanismIs504() {
        var machine = greeted(role: .submission, isTLS: true)
        let cram = send(&machine, "AUTH CRAM-MD5")
        #expect(summary(cram) == ["504 5.5.4"])
        // Implemented by SASL but not configured here.
        let scram = send(&machine, "AUTH SCRAM-SHA-256")
        #expect(summary(scram) == ["504 5.5.4"])
    }

    @Test func authTwiceIsBadSequence() {
        var machine = greeted(role: .submission, isTLS: true)
        authenticate(&machine)
        let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    @Test func authBeforeEHLOIsBadSequence() {
        var machine = makeMachine(role: .submission, isTLS: true)
        _ = machine.greeting()
        let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(actions) == ["503 5.5.1"])
        send(&machine, "HELO client.example")
        let afterHELO = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(afterHELO) == ["503 5.5.1"])
    }

    @Test func authInsideATransactionIsBadSequence() {
        var machine = greeted(isTLS: true)
        openTransaction(&machine)
        let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(actions) == ["503 5.5.1"])
    }

    // RFC 4954 §4: 538 when the mechanism needs an encrypted connection.
    @Test func authOnPlaintextPort25NeedsEncryption() {
        var machine = greeted()
        let actions = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(actions) == ["538 5.7.11"])
    }

    @Test(arguments: failedAuthenticationCases)
    func failedAuthentication(_ outcomeCase: AuthOutcomeCase) {
        var machine = greeted(role: .submission, isTLS: true)
        send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        let actions = machine.authenticationFinished(outcomeCase.outcome)
        #expect(summary(actions) == outcomeCase.expected)
        #expect(machine.login == nil)
        let mail = send(&machine, "MAIL FROM:<alice@example.test>")
        #expect(summary(mail) == ["530 5.7.0"])
    }

    // RFC 4422 §3.4.1: acting as another user is not supported.
    @Test func foreignAuthorizationIdentityIsRefusedWithoutAsking() {
        var machine = greeted(role: .submission, isTLS: true)
        let response = base64("bob@example.test\0alice@example.test\0secret")
        let actions = send(&machine, "AUTH PLAIN \(response)")
        #expect(summary(actions) == ["535 5.7.8"])
    }

    @Test func ownAuthorizationIdentityIsAccepted() {
        var machine = greeted(role: .submission, isTLS: true)
        let response = base64("ALICE@example.test\0alice@example.test\0secret")
        let actions = send(&machine, "AUTH PLAIN \(response)")
        #expect(actions.first?.passwordCheck == PasswordCheck(login: "alice@example.test", password: "secret"))
    }

    @Test func lineTooLongDuringAuthEndsTheExchange() {
        var machine = greeted(role: .submission, isTLS: true)
        send(&machine, "AUTH PLAIN")
        let actions = machine.lineTooLong()
        #expect(summary(actions) == ["501 5.5.2"])
        let again = send(&machine, "AUTH PLAIN \(plainAliceSecret)")
        #expect(summary(again) == ["verifyPassword alice@example.test"])
    }
}

// MARK: - DATA

struct ProtocolTypeCase: Sendable, CustomTestStringConvertible {
    let helo: Bool
    let tls: Bool
    let auth: Bool
    let utf8: Bool
    let expected: String
    var testDescription: String { expected }
}

/// RFC 3848 §2, RFC 6531 §3.7.3.
let protocolTypeCases: [ProtocolTypeCase] = [
    ProtocolTypeCase(helo: true, tls: false, auth: false, utf8: false, expected: "SMTP"),
    ProtocolTypeCase(helo: false, tls: false, auth: false, utf8: false, expected: "ESMTP"),
    ProtocolTypeCase(helo: false, tls: true, auth: false, utf8: false, expected: "ESMTPS"),
    ProtocolTypeCase(helo: false, tls: false, auth: true, utf8: false, expected: "ESMTPA"),
    ProtocolTypeCase(helo: false, tls: true, auth: true, utf8: false, expected: "ESMTPSA"),
    ProtocolTypeCase(helo: false, tls: false, auth: false, utf8: true, expected: "UTF8SMTP"),
    ProtocolTypeCase(helo: false, tls: true, auth: false, utf8: true, expected: "UTF8SMTPS"),
    ProtocolTypeCase(helo: false, tls: true, auth: true, utf8: true, expected: "UTF8SMTPSA"),
]

@Suite("SMTP session: DATA")
struct SMTPSessionDataTests {
    @Test func messageIsStoredWithItsTrace() throws {
        var machine = greeted()
        openTransaction(&machine)
        let data = send(&machine, "DATA")
        #expect(summary(data) == ["354"])
        #expect(machine.wantsRawInput)
        let actions = raw(&machine, "Subject: x\r\n\r\nbody\r\n.\r\n")
        #expect(summary(actions) == ["store"])
        #expect(!machine.wantsRawInput)
        let store = try #require(firstStore(actions))
        #expect(store.text == "Subject: x\r\n\r\nbody\r\n")
        let alice = SMTPMailbox(localPart: "alice", domain: .name("remote.example"))
        #expect(store.transaction.sender == ReversePath.mailbox(alice))
        #expect(store.transaction.localTargets == ["bob@example.test"])
        #expect(store.trace.protocolType == "ESMTP")
        #expect(store.trace.heloName == "client.example")
        #expect(store.trace.remoteAddress == "192.0.2.7")
        #expect(store.trace.hostname == testHostname)
        #expect(store.trace.sessionID == "S1")
        #expect(store.trace.singleRecipient == "bob@example.test")
        #expect(store.trace.tlsVersion == nil)
        #expect(store.trace.authenticatedUser == nil)

        let stored = machine.stored(.stored(queueID: "Q1"))
        #expect(summary(stored) == ["250 2.0.0"])
        #expect(stored.first?.reply?.lines.first?.contains("Q1") == true)
        // The session is ready for the next transaction.
        let next = send(&machine, "MAIL FROM:<alice@remote.example>")
        #expect(summary(next) == ["250 2.1.0"])
    }

    @Test(arguments: protocolTypeCases)
    func traceNamesTheProtocol(_ protocolCase: ProtocolTypeCase) throws {
        var machine = makeMachine(isTLS: protocolCase.tls) { $0.allowPlaintextAuth = true }
        _ = machine.greeting()
        send(&machine, protocolCase.helo ? "HELO client.example" : "EHLO client.example")
        if protocolCase.auth { authenticate(&machine) }
        // A logged-in client's sender is checked (null sender needs no check).
        let sender = protocolCase.auth ? "<>" : "<alice@remote.example>"
        openTransaction(&machine, mail: "MAIL FROM:\(sender)" + (protocolCase.utf8 ? " SMTPUTF8" : ""))
        send(&machine, "DATA")
        let actions = raw(&machine, "Subject: x\r\n\r\nbody\r\n.\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.trace.protocolType == protocolCase.expected)
    }

    @Test func traceShowsTLSVersionAndLoginWhenConfigured() throws {
        var machine = greeted {
            $0.receivedHeaderShowsTLS = true
            $0.receivedHeaderShowsLogin = true
        }
        send(&machine, "STARTTLS")
        _ = machine.tlsEstablished(version: "TLSv1.3")
        send(&machine, "EHLO client.example")
        authenticate(&machine)
        openTransaction(&machine, mail: "MAIL FROM:<>")
        send(&machine, "DATA")
        let actions = raw(&machine, "x\r\n.\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.trace.tlsVersion == "TLSv1.3")
        #expect(store.trace.authenticatedUser == "alice@example.test")
        #expect(store.trace.protocolType == "ESMTPSA")
    }

    @Test func pipelinedCommandAfterTheMessageStaysInTheBuffer() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        let (actions, leftover) = rawKeepingLeftover(&machine, "body\r\n.\r\nQUIT\r\n")
        #expect(summary(actions) == ["store"])
        #expect(leftover == "QUIT\r\n")
    }

    @Test func messageArrivingInPiecesIsStoredOnce() throws {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        var all: [SMTPAction] = []
        for piece in ["Subj", "ect: x\r", "\n\r\nbody\r\n", ".", "\r", "\n"] {
            all += raw(&machine, piece)
        }
        #expect(summary(all) == ["store"])
        let store = try #require(firstStore(all))
        #expect(store.text == "Subject: x\r\n\r\nbody\r\n")
    }

    @Test func temporaryStoreFailureIs451() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        raw(&machine, "x\r\n.\r\n")
        let actions = machine.stored(.temporaryFailure)
        #expect(summary(actions) == ["451 4.3.0"])
    }

    @Test func fullMailboxIs452() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        raw(&machine, "x\r\n.\r\n")
        let actions = machine.stored(.mailboxFull)
        #expect(summary(actions) == ["452 4.2.2"])
    }

    @Test func oversizedMessageIsRefusedAfterTheEndMarker() {
        var machine = greeted { $0.limits.maximumMessageSize = 16 }
        openTransaction(&machine)
        send(&machine, "DATA")
        let body = raw(&machine, String(repeating: "x", count: 40) + "\r\n")
        #expect(body.isEmpty)
        #expect(machine.wantsRawInput)
        let end = raw(&machine, ".\r\n")
        #expect(summary(end) == ["552 5.3.4"])
        #expect(!machine.wantsRawInput)
        // RFC 5321 §4.1.1.4: the transaction is over either way.
        let rcpt = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(rcpt) == ["503 5.5.1"])
    }

    // RFC 1870 §6.1: a declared SIZE over the limit is refused at MAIL.
    @Test func declaredSizeOverTheLimitIs552() {
        var machine = greeted { $0.limits.maximumMessageSize = 1000 }
        let over = send(&machine, "MAIL FROM:<alice@remote.example> SIZE=1001")
        #expect(summary(over) == ["552 5.3.4"])
        let huge = send(&machine, "MAIL FROM:<alice@remote.example> SIZE=99999999999999999999")
        #expect(summary(huge) == ["552 5.3.4"])
        let within = send(&machine, "MAIL FROM:<alice@remote.example> SIZE=1000")
        #expect(summary(within) == ["250 2.1.0"])
    }

    @Test func bareLineFeedIsRefusedByDefault() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        let actions = raw(&machine, "Subject: x\n\nbody\r\n.\r\n")
        #expect(summary(actions) == ["550 5.5.2"])
        #expect(!machine.wantsRawInput)
    }

    @Test func bareLineFeedIsNormalizedWhenConfigured() throws {
        var machine = greeted { $0.bareLineEndings = .normalize }
        openTransaction(&machine)
        send(&machine, "DATA")
        let actions = raw(&machine, "Subject: x\n\nbody\r\n.\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.text == "Subject: x\r\n\r\nbody\r\n")
        #expect(hasOnlyCRLFLineEnds(store.messageBytes))
    }

    @Test func binaryMIMENeedsBDAT() {
        var machine = greeted()
        openTransaction(&machine, mail: "MAIL FROM:<alice@remote.example> BODY=BINARYMIME")
        let actions = send(&machine, "DATA")
        #expect(summary(actions) == ["503 5.5.1"])
        #expect(!machine.wantsRawInput)
    }
}

// MARK: - SMTP smuggling, end to end

/// Sloppy end markers that other servers have taken as the end of DATA.
let smugglingSequences: [String] = ["\n.\n", "\r\n.\n", "\n.\r\n", "\r.\r", "\r\n.\r", "\r.\r\n"]

@Suite("SMTP session against SMTP smuggling (CVE-2023-51764 class)")
struct SMTPSessionSmugglingTests {
    private static let opening =
        "EHLO client.example\r\nMAIL FROM:<alice@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n"
    private static let smuggled = "MAIL FROM:<evil@x>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nevil\r\n.\r\n"

    private func run(_ body: String, policy: DataDecoder.BareLineEndings) -> SMTPTestSession {
        var session = SMTPTestSession(makeMachine { $0.bareLineEndings = policy })
        session.start()
        session.receive(Self.opening)
        session.receive(body)
        return session
    }

    private func expectOneOutcome(
        _ session: SMTPTestSession, policy: DataDecoder.BareLineEndings, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let transcript = session.transcript
        #expect(!transcript.contains("resolve victim@example.test"), sourceLocation: sourceLocation)
        #expect(!transcript.contains("checkSender"), sourceLocation: sourceLocation)
        switch policy {
        case .reject:
            #expect(
                transcript == ["220", "250", "250 2.1.0", "resolve bob@example.test", "250 2.1.5", "354", "550 5.5.2"],
                sourceLocation: sourceLocation)
            #expect(session.stored.isEmpty, sourceLocation: sourceLocation)
        case .normalize:
            #expect(
                transcript == [
                    "220", "250", "250 2.1.0", "resolve bob@example.test", "250 2.1.5", "354", "store", "250 2.0.0",
                ],
                sourceLocation: sourceLocation)
            #expect(session.stored.count == 1, sourceLocation: sourceLocation)
            if let message = session.stored.first {
                #expect(
                    message.text.contains("MAIL FROM:<evil@x>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nevil\r\n"),
                    sourceLocation: sourceLocation)
                #expect(hasOnlyCRLFLineEnds(message.messageBytes), sourceLocation: sourceLocation)
                #expect(message.transaction.localTargets == ["bob@example.test"], sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: [DataDecoder.BareLineEndings.reject, .normalize])
    func smuggledTransactionIsContent(_ policy: DataDecoder.BareLineEndings) {
        let session = run("a\r\n\n.\n" + Self.smuggled, policy: policy)
        expectOneOutcome(session, policy: policy)
    }

    @Test(arguments: smugglingSequences, [DataDecoder.BareLineEndings.reject, .normalize])
    func everySloppyEndMarkerIsContent(_ sequence: String, _ policy: DataDecoder.BareLineEndings) {
        let session = run("a" + sequence + Self.smuggled, policy: policy)
        expectOneOutcome(session, policy: policy)
    }
}

// MARK: - BDAT

@Suite("SMTP session: BDAT (RFC 3030)")
struct SMTPSessionBDATTests {
    @Test func chunksAreAcknowledgedThenStored() throws {
        var machine = greeted()
        openTransaction(&machine)
        let command = send(&machine, "BDAT 5")
        #expect(command.isEmpty)
        #expect(machine.wantsRawInput)
        let chunk = raw(&machine, "hello")
        #expect(summary(chunk) == ["250 2.0.0"])
        #expect(chunk.first?.reply?.lines.first?.contains("5 octets") == true)
        #expect(!machine.wantsRawInput)
        send(&machine, "BDAT 6 LAST")
        let last = raw(&machine, " world")
        #expect(summary(last) == ["store"])
        let store = try #require(firstStore(last))
        #expect(store.text == "hello world")
        #expect(store.trace.protocolType == "ESMTP")
    }

    @Test func chunkArrivingInPieces() throws {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "BDAT 11 LAST")
        let first = raw(&machine, "hello")
        #expect(first.isEmpty)
        #expect(machine.wantsRawInput)
        let second = raw(&machine, " world")
        let store = try #require(firstStore(second))
        #expect(store.text == "hello world")
    }

    /// The chunk's bytes are data even when they look like commands.
    @Test func chunkBytesAreNeverCommands() throws {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "BDAT 12 LAST")
        let actions = raw(&machine, "QUIT\r\nRSET\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.text == "QUIT\r\nRSET\r\n")
    }

    // RFC 3030 §2: the chunk is read even when the command is refused.
    @Test func bdatWithoutTransactionConsumesTheChunkThenRefuses() {
        var machine = greeted()
        let command = send(&machine, "BDAT 4")
        #expect(command.isEmpty)
        #expect(machine.wantsRawInput)
        let (actions, leftover) = rawKeepingLeftover(&machine, "MAILNOOP\r\n")
        #expect(summary(actions) == ["503 5.5.1"])
        #expect(leftover == "NOOP\r\n")
        #expect(!machine.wantsRawInput)
    }

    @Test func bdatWithoutRecipientsIs554() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        send(&machine, "BDAT 3 LAST")
        let actions = raw(&machine, "abc")
        #expect(summary(actions) == ["554 5.5.1"])
    }

    @Test func zeroLengthLastChunkStoresWhatCameBefore() throws {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "BDAT 5")
        raw(&machine, "hello")
        let actions = send(&machine, "BDAT 0 LAST")
        #expect(summary(actions) == ["store"])
        let store = try #require(firstStore(actions))
        #expect(store.text == "hello")
    }

    @Test func dataAfterBDATIsBadSequence() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "BDAT 5")
        raw(&machine, "hello")
        let actions = send(&machine, "DATA")
        #expect(summary(actions) == ["503 5.5.1"])
        #expect(!machine.wantsRawInput)
    }

    @Test func binaryMIMEWithBDAT() throws {
        var machine = greeted()
        openTransaction(&machine, mail: "MAIL FROM:<alice@remote.example> BODY=BINARYMIME")
        send(&machine, "BDAT 4 LAST")
        let actions = raw(&machine, "\u{0}\r\n\u{7F}")
        let store = try #require(firstStore(actions))
        #expect(store.messageBytes == [0, 13, 10, 0x7F])
    }

    @Test func bytesAfterTheChunkStayInTheBuffer() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "BDAT 5 LAST")
        let (actions, leftover) = rawKeepingLeftover(&machine, "helloQUIT\r\n")
        #expect(summary(actions) == ["store"])
        #expect(leftover == "QUIT\r\n")
    }

    @Test func chunkOverTheLimitIsReadThenRefused() {
        var machine = greeted { $0.limits.maximumMessageSize = 10 }
        openTransaction(&machine)
        let command = send(&machine, "BDAT 20")
        #expect(command.isEmpty)
        let first = raw(&machine, "0123456789AB")
        #expect(first.isEmpty)
        #expect(machine.wantsRawInput)
        let (actions, leftover) = rawKeepingLeftover(&machine, "CDEFGHIJNOOP\r\n")
        #expect(summary(actions) == ["552 5.3.4"])
        #expect(leftover == "NOOP\r\n")
        // The transaction is gone.
        let next = send(&machine, "BDAT 1 LAST")
        #expect(next.isEmpty)
        let refused = raw(&machine, "x")
        #expect(summary(refused) == ["503 5.5.1"])
    }

    @Test func chunksAddingUpOverTheLimitAreRefused() {
        var machine = greeted { $0.limits.maximumMessageSize = 10 }
        openTransaction(&machine)
        send(&machine, "BDAT 6")
        let first = raw(&machine, "012345")
        #expect(summary(first) == ["250 2.0.0"])
        send(&machine, "BDAT 6 LAST")
        let second = raw(&machine, "6789AB")
        #expect(summary(second) == ["552 5.3.4"])
    }
}

// MARK: - SMTPUTF8

@Suite("SMTP session: SMTPUTF8 (RFC 6531)")
struct SMTPSessionUTF8Tests {
    @Test func utf8SenderNeedsSMTPUTF8() {
        var machine = greeted()
        let actions = send(&machine, "MAIL FROM:<ü@example.test>")
        #expect(summary(actions) == ["553 5.6.7"])
    }

    @Test func utf8SenderWithSMTPUTF8IsAccepted() {
        var machine = greeted()
        let actions = send(&machine, "MAIL FROM:<ü@example.test> SMTPUTF8")
        #expect(summary(actions) == ["250 2.1.0"])
    }

    @Test func utf8RecipientNeedsSMTPUTF8OnMail() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        let actions = send(&machine, "RCPT TO:<bøb@exämple.test>")
        #expect(summary(actions) == ["553 5.6.7"])
    }

    @Test func utf8RecipientWithSMTPUTF8IsLookedUp() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example> SMTPUTF8")
        let actions = send(&machine, "RCPT TO:<bøb@exämple.test>")
        #expect(summary(actions) == ["resolve bøb@exämple.test"])
    }
}

// MARK: - Limits and miscellaneous commands

@Suite("SMTP session: limits")
struct SMTPSessionLimitTests {
    @Test func recipientLimitIsCheckedBeforeTheLookup() {
        var machine = greeted { $0.limits.maximumRecipients = 2 }
        openTransaction(&machine, recipient: "one@example.test")
        send(&machine, "RCPT TO:<two@example.test>")
        _ = machine.recipientResolved(.deliver(local: ["two@example.test"], forward: []))
        let third = send(&machine, "RCPT TO:<three@example.test>")
        #expect(summary(third) == ["452 4.5.3"])
    }

    @Test func tooManyErrorsCloseTheSession() {
        var machine = greeted { $0.limits.maximumErrors = 3 }
        let first = send(&machine, "RCPT TO:<bob@example.test>")
        #expect(summary(first) == ["503 5.5.1"])
        let second = send(&machine, "DATA")
        #expect(summary(second) == ["503 5.5.1"])
        let third = send(&machine, "FOO")
        #expect(summary(third) == ["502 5.5.2", "421 4.7.0", "close"])
    }

    @Test func tooManyJunkCommandsCloseTheSession() {
        var machine = greeted { $0.limits.maximumJunkCommands = 3 }
        for _ in 0..<3 {
            let noop = send(&machine, "NOOP")
            #expect(summary(noop) == ["250 2.0.0"])
        }
        let fourth = send(&machine, "NOOP")
        #expect(summary(fourth) == ["421 4.7.0", "close"])
    }

    // STYLE.md §4: a peer whose first line is not SMTP gets one reply and is disconnected.
    @Test func unrecognizedFirstLineCloses() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "GET / HTTP/1.1")
        #expect(summary(actions) == ["502 5.5.2", "close"])
    }

    /// A TLS ClientHello sent to the plaintext port: its first "line" starts with a
    /// record header full of NULs. STYLE.md §4 ("a peer whose first line is unparseable
    /// gets one error reply and is disconnected") applies to it as much as to HTTP.
    @Test func binaryFirstLineCloses() {
        var machine = makeMachine()
        _ = machine.greeting()
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]
        let actions = machine.receive(line: clientHello)
        #expect(actions.count == 2)
        #expect(actions.last?.isClose == true)
    }

    @Test func knownVerbWithBadSyntaxFirstIsNotClosed() {
        var machine = makeMachine()
        _ = machine.greeting()
        let actions = send(&machine, "EHLO")
        #expect(summary(actions) == ["501 5.5.4"])
    }

    @Test func laterUnrecognizedCommandsAre502Only() {
        var machine = greeted()
        let actions = send(&machine, "FOO")
        #expect(summary(actions) == ["502 5.5.2"])
    }

    // RFC 5321 §3.5.3: 252 without a lookup, so VRFY cannot probe accounts.
    @Test func vrfyNeverLooksUp() {
        var machine = greeted()
        let actions = send(&machine, "VRFY bob@example.test")
        #expect(summary(actions) == ["252 2.0.0"])
    }

    @Test func expnIsNotAvailable() {
        var machine = greeted()
        let actions = send(&machine, "EXPN staff")
        #expect(summary(actions) == ["502 5.5.1"])
    }

    @Test func helpAnswers214() {
        var machine = greeted()
        let actions = send(&machine, "HELP")
        #expect(summary(actions) == ["214 2.0.0"])
    }

    @Test func quitSaysByeAndCloses() {
        var machine = greeted()
        let actions = send(&machine, "QUIT")
        #expect(summary(actions) == ["221 2.0.0", "close"])
    }

    @Test func lineTooLongIs500() {
        var machine = greeted()
        let reported = machine.lineTooLong()
        #expect(summary(reported) == ["500 5.5.2"])
        let long = send(&machine, "NOOP " + String(repeating: "x", count: 2048))
        #expect(summary(long) == ["500 5.5.2"])
    }
}

// MARK: - Shutdown

@Suite("SMTP session: shutdown")
struct SMTPSessionShutdownTests {
    @Test func idleSessionClosesAtOnce() {
        var machine = greeted()
        let actions = machine.shutdown()
        #expect(summary(actions) == ["421 4.3.2", "close"])
    }

    @Test func sessionInATransactionClosesAtOnce() {
        var machine = greeted()
        openTransaction(&machine)
        let actions = machine.shutdown()
        #expect(summary(actions) == ["421 4.3.2", "close"])
    }

    @Test func messageInProgressIsFinishedFirst() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        let during = machine.shutdown()
        #expect(during.isEmpty)
        let end = raw(&machine, "body\r\n.\r\n")
        #expect(summary(end) == ["store"])
        let stored = machine.stored(.stored(queueID: "Q1"))
        #expect(summary(stored) == ["250 2.0.0", "421 4.3.2", "close"])
    }

    /// The shutdown is postponed while the directory answers; after the answer nothing
    /// else will ever honour it (only `stored` looks at it), so the session would stay
    /// open until the client quits or times out.
    @Test func shutdownDuringRecipientLookupClosesAfterTheAnswer() {
        var machine = greeted()
        send(&machine, "MAIL FROM:<alice@remote.example>")
        send(&machine, "RCPT TO:<bob@example.test>")
        let during = machine.shutdown()
        #expect(during.isEmpty)
        let answered = machine.recipientResolved(.deliver(local: ["bob@example.test"], forward: []))
        #expect(summary(answered) == ["250 2.1.5", "421 4.3.2", "close"])
    }
}

// MARK: - Received trace

@Suite("Received: header (RFC 5321 §4.4)")
struct ReceivedTraceTests {
    private static let date = "Mon, 1 Jan 2024 00:00:00 +0000"

    /// Every CR is part of a CRLF, every CRLF but the last is followed by a tab (a fold),
    /// and the field ends with CRLF.
    private func isFoldedField(_ text: String) -> Bool {
        let octets = Array(text.utf8)
        guard octets.count >= 2, octets.suffix(2) == [13, 10], hasOnlyCRLFLineEnds(octets) else { return false }
        for index in octets.indices where octets[index] == 10 && index + 1 < octets.count {
            if octets[index + 1] != 9 { return false }
        }
        return true
    }

    @Test func minimalHeader() {
        let trace = ReceivedTrace(
            heloName: "client.example", remoteAddress: "192.0.2.7", hostname: testHostname, protocolType: "ESMTPS",
            sessionID: "S1", tlsVersion: nil, authenticatedUser: nil, singleRecipient: nil)
        #expect(
            trace.header(date: Self.date)
                == "Received: from client.example ([192.0.2.7])\r\n\tby mx.example.test (Tsubame) with ESMTPS id S1;"
                + "\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n")
    }

    @Test func fullHeader() {
        let trace = ReceivedTrace(
            heloName: "client.example", remoteAddress: "192.0.2.7", hostname: testHostname, protocolType: "ESMTPSA",
            sessionID: "S1", tlsVersion: "TLSv1.3", authenticatedUser: "alice@example.test",
            singleRecipient: "bob@example.test")
        let header = trace.header(date: Self.date)
        #expect(
            header
                == "Received: from client.example ([192.0.2.7])\r\n\tby mx.example.test (Tsubame) with ESMTPSA id S1"
                + "\r\n\t(using TLSv1.3)\r\n\t(Authenticated sender: alice@example.test)\r\n\tfor <bob@example.test>;"
                + "\r\n\tMon, 1 Jan 2024 00:00:00 +0000\r\n")
        #expect(isFoldedField(header))
    }

    @Test func hostileValuesCannotBreakTheField() {
        let trace = ReceivedTrace(
            heloName: "evil\r\nX-Injected: yes\r\n\r\nbody", remoteAddress: "192.0.2.7", hostname: testHostname,
            protocolType: "ESMTP", sessionID: "S1", tlsVersion: nil, authenticatedUser: "a\rb)(c",
            singleRecipient: "c\nd>")
        let header = trace.header(date: Self.date)
        #expect(isFoldedField(header), "\(String(reflecting: header))")
        #expect(!header.contains("X-Injected: yes"))
        #expect(!header.contains("\r\nX-Injected"))
        #expect(header.hasPrefix("Received: from evil"))
    }

    @Test func heloNameFromTheSessionIsCleaned() throws {
        var machine = makeMachine()
        _ = machine.greeting()
        send(&machine, "EHLO evil(x);y")
        openTransaction(&machine)
        send(&machine, "DATA")
        let actions = raw(&machine, "x\r\n.\r\n")
        let store = try #require(firstStore(actions))
        #expect(store.trace.heloName == "evil(x);y")
        let header = store.trace.header(date: Self.date)
        #expect(header.hasPrefix("Received: from evil_x__y ([192.0.2.7])\r\n"))
        #expect(isFoldedField(header))
    }
}

// MARK: - Replies

@Suite("SMTP reply encoding (RFC 5321 §4.2, RFC 2034)")
struct SMTPReplyEncodingTests {
    @Test func singleLine() {
        #expect(String(buffer: SMTPReply.bye.encoded) == "221 2.0.0 Bye\r\n")
        #expect(String(buffer: SMTPReply.startData.encoded) == "354 End data with <CR><LF>.<CR><LF>\r\n")
    }

    @Test func multiLineUsesDashThenSpace() {
        let reply = SMTPReply(250, nil, [testHostname, "PIPELINING", "SIZE 10"])
        #expect(String(buffer: reply.encoded) == "250-mx.example.test\r\n250-PIPELINING\r\n250 SIZE 10\r\n")
    }

    @Test func enhancedCodeOnEveryLine() {
        let reply = SMTPReply(550, EnhancedStatusCode(5, 1, 1), ["first", "second", "third"])
        #expect(String(buffer: reply.encoded) == "550-5.1.1 first\r\n550-5.1.1 second\r\n550 5.1.1 third\r\n")
    }

    @Test func emptyText() {
        #expect(String(buffer: SMTPReply(334, nil, "").encoded) == "334 \r\n")
        #expect(String(buffer: SMTPReply(250, EnhancedStatusCode(2, 0, 0), "").encoded) == "250 2.0.0\r\n")
        #expect(String(buffer: SMTPReply(250, nil, [String]()).encoded) == "250 \r\n")
    }

    @Test func lineBreaksInTextNeverStartANewLine() {
        let reply = SMTPReply(250, EnhancedStatusCode(2, 0, 0), "queued as Q1\r\n250 2.0.0 injected\rX\nY")
        #expect(String(buffer: reply.encoded) == "250 2.0.0 queued as Q1 250 2.0.0 injected X Y\r\n")
        let multi = SMTPReply(250, nil, ["a\r\nb", "c\nd"])
        #expect(String(buffer: multi.encoded) == "250-a b\r\n250 c d\r\n")
    }

    @Test func hostileQueueIDStaysOnOneLine() throws {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        raw(&machine, "x\r\n.\r\n")
        let actions = machine.stored(.stored(queueID: "Q1\r\n250 2.0.0 fake"))
        let reply = try #require(actions.first?.reply)
        let wire = Array(reply.encoded.readableBytesView)
        let lineFeeds = wire.filter { $0 == 10 }.count
        let carriageReturns = wire.filter { $0 == 13 }.count
        #expect(lineFeeds == 1)
        #expect(carriageReturns == 1)
    }
}

// MARK: - Hostile sessions

@Suite("SMTP session on hostile input")
struct SMTPSessionHostileInputTests {
    /// Random pipelined commands and message bytes, every request answered at once.
    /// Nothing may trap; replies are well-formed; no stored message exceeds the limit.
    @Test func survivesRandomSessions() {
        var generator = Xorshift64(seed: 0x5321_3030)
        let lines = [
            "EHLO client.example", "HELO client.example", "MAIL FROM:<alice@remote.example>", "MAIL FROM:<>",
            "MAIL FROM:<alice@example.test> BODY=BINARYMIME", "MAIL FROM:<ü@example.test> SMTPUTF8",
            "MAIL FROM:<a@b.example> SIZE=99999999999", "RCPT TO:<bob@example.test>", "RCPT TO:<carol@remote.example>",
            "RCPT TO:<Postmaster>", "RCPT TO:<\"x@y\"@example.test>", "DATA", "BDAT 3", "BDAT 0 LAST", "BDAT 5 LAST",
            "BDAT 999999999999999", "RSET", "NOOP", "VRFY bob", "EXPN staff", "HELP", "STARTTLS",
            "AUTH PLAIN \(plainAliceSecret)", "AUTH PLAIN", "AUTH LOGIN", "AUTH SCRAM-SHA-256",
            "AUTH SCRAM-SHA-256 \(base64("n,,n=alice,r=abc"))", "*", "=", "", ".", "GET / HTTP/1.1", "MAIL FROM:<a@b",
            "\u{0}", "QUIT",
        ]
        let rawPieces = [
            "x", "hello", "\r\n", "\n", "\r", ".", ".\r\n", "\r\n.\r\n", "\n.\n", "MAIL FROM:<evil@x>\r\n", "..\r\n",
        ]
        for _ in 0..<300 {
            var session = SMTPTestSession(
                makeMachine {
                    $0.mechanisms = [.plain, .login, .scramSHA256]
                    $0.limits.maximumMessageSize = 64
                    $0.limits.maximumRecipients = 3
                    $0.allowPlaintextAuth = generator.next() % 2 == 0
                })
            session.start()
            for _ in 0..<40 where !session.isClosed {
                if session.machine.wantsRawInput || generator.next() % 8 == 0 {
                    session.receive(rawPieces[generator.index(below: rawPieces.count)])
                } else {
                    session.receive(lines[generator.index(below: lines.count)] + "\r\n")
                }
            }
            for action in session.actions {
                if let reply = action.reply {
                    #expect((200..<600).contains(reply.code))
                    // One CRLF per reply line on the wire, whatever the text.
                    let lineFeeds = reply.encoded.readableBytesView.filter { $0 == 10 }.count
                    #expect(lineFeeds == reply.lines.count)
                }
            }
            for request in session.stored {
                #expect(request.message.readableBytes <= 64)
            }
        }
    }
}

// MARK: - Review findings

@Suite("SMTP session: review findings")
struct SMTPSessionReviewTests {
    /// AUTH on port 25 (after STARTTLS) must not be a way around the sender check.
    @Test func authenticatedSessionOnPort25ChecksTheSender() {
        var machine = greeted(role: .mx, isTLS: true)
        authenticate(&machine)
        let actions = send(&machine, "MAIL FROM:<ceo@example.test>")
        #expect(summary(actions) == ["checkSender alice@example.test ceo@example.test"])
        #expect(summary(machine.senderChecked(allowed: false)) == ["553 5.7.1"])
    }

    /// Empty chunks that are not the last count as junk, so they cannot pile up replies forever.
    @Test func emptyChunksAreJunk() {
        var machine = greeted { $0.limits.maximumJunkCommands = 3 }
        openTransaction(&machine)
        var last: [String] = []
        for _ in 0..<5 {
            last = summary(send(&machine, "BDAT 0"))
            if last.contains("close") { break }
        }
        #expect(last == ["421 4.7.0", "close"])
    }

    @Test func everyMessageOfASessionHasItsOwnNumber() throws {
        var machine = greeted()
        var numbers: [Int] = []
        for _ in 0..<2 {
            openTransaction(&machine)
            send(&machine, "DATA")
            for action in raw(&machine, "Subject: x\r\n\r\nbody\r\n.\r\n") {
                if case .store(_, _, _, let number) = action { numbers.append(number) }
            }
            _ = machine.stored(.stored(queueID: "Q"))
        }
        #expect(numbers == [1, 2])
    }

    @Test func ipv6ClientsAreWrittenAsIPv6Literals() {
        let trace = ReceivedTrace(
            heloName: "client.example", remoteAddress: "2001:db8::1", hostname: "mx.example.test", protocolType: "ESMTP",
            sessionID: "S1", tlsVersion: nil, authenticatedUser: nil, singleRecipient: nil)
        #expect(trace.header(date: "Sun, 29 Nov 2026 00:00:00 +0000").contains("([IPv6:2001:db8::1])"))
    }

    @Test func storeRefusingTheSizeIsPermanent() {
        var machine = greeted()
        openTransaction(&machine)
        send(&machine, "DATA")
        _ = raw(&machine, "Subject: x\r\n\r\nbody\r\n.\r\n")
        #expect(summary(machine.stored(.messageTooBig)) == ["552 5.3.4"])
    }
}
