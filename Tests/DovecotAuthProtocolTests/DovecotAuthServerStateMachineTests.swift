import MailTestSupport
import Foundation
import SASL
import Testing

@testable import DovecotAuthProtocol

// The auth-socket conversation, built from Dovecot's protocol document
// (developer_manual/design/auth_protocol) and from what Postfix's
// src/xsasl/xsasl_dovecot_server.c sends.

// MARK: - Handshake

@Suite("Dovecot auth: handshake")
struct DovecotAuthHandshakeTests {
    @Test func serverHandshakeLinesExactly() {
        var machine = makeMachine()
        let lines = machine.start().map { $0.sentLine }
        #expect(
            lines == [
                "VERSION\t1\t2\n",
                "MECH\tPLAIN\tplaintext\n",
                "MECH\tLOGIN\tplaintext\n",
                "MECH\tSCRAM-SHA-256\tmutual-auth\n",
                "SPID\t1234\n",
                "CUID\t7\n",
                "COOKIE\t0123456789abcdef0123456789abcdef\n",
                "DONE\n",
            ])
    }

    @Test func handshakeListsConfiguredMechanismsOnceInOrder() {
        var machine = makeMachine { $0.mechanisms = [.login, .plain, .login] }
        let lines = machine.start().compactMap { $0.sentLine }.filter { $0.hasPrefix("MECH") }
        #expect(lines == ["MECH\tLOGIN\tplaintext\n", "MECH\tPLAIN\tplaintext\n"])
    }

    @Test func handshakeIsSentOnce() {
        var machine = makeMachine()
        #expect(machine.start().count == 8)
        #expect(machine.start().isEmpty)
    }

    @Test func clientHandshakeIsSilent() {
        var machine = makeMachine()
        _ = machine.start()
        #expect(send(&machine, "VERSION\t1\t0").isEmpty)
        #expect(send(&machine, "CPID\t4711").isEmpty)
        #expect(!machine.isClosed)
    }

    @Test func aTrailingCRIsTolerated() {
        var machine = makeMachine()
        #expect(send(&machine, "VERSION\t1\t0\r").isEmpty)
        #expect(send(&machine, "CPID\t4711\r").isEmpty)
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)\r")
        #expect(summary(actions) == ["verifyPassword 1 user pass"])
    }

    @Test(arguments: [
        ("AUTH before VERSION", ["AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)"]),
        ("AUTH before CPID", ["VERSION\t1\t0", "AUTH\t1\tPLAIN\tservice=smtp\tsecured"]),
        ("CPID before VERSION", ["CPID\t4711"]),
        ("CONT before the handshake", ["CONT\t1\tdXNlcg=="]),
        ("VERSION twice", ["VERSION\t1\t0", "VERSION\t1\t0"]),
        ("VERSION after the handshake", ["VERSION\t1\t0", "CPID\t1", "VERSION\t1\t0"]),
        ("CPID twice", ["VERSION\t1\t0", "CPID\t1", "CPID\t1"]),
    ])
    func commandsOutOfOrderClose(_ name: String, _ lines: [String]) {
        var machine = makeMachine()
        _ = machine.start()
        var last: [AuthAction] = []
        for line in lines { last = send(&machine, line) }
        #expect(summary(last) == ["close"], "\(name)")
        #expect(machine.isClosed)
        #expect(machine.protocolError?.kind == .unexpectedCommand)
    }

    @Test(arguments: ["VERSION\t2\t0", "VERSION\t0\t9"])
    func wrongMajorVersionCloses(_ line: String) {
        var machine = makeMachine()
        _ = machine.start()
        #expect(summary(send(&machine, line)) == ["close"])
        #expect(machine.protocolError?.kind == .unsupportedVersion)
    }

    @Test(arguments: [
        "VERSION", "VERSION\t1", "VERSION\t1\t2\t3", "VERSION\tone\t0", "VERSION\t-1\t0", "VERSION\t1\t99999999999",
        "VERSION\t 1\t0",
    ])
    func malformedVersionCloses(_ line: String) {
        var machine = makeMachine()
        #expect(summary(send(&machine, line)) == ["close"])
        #expect(machine.protocolError?.kind == .malformed)
    }

    @Test(arguments: ["CPID", "CPID\t0", "CPID\tx", "CPID\t"])
    func malformedCPIDCloses(_ line: String) {
        var machine = makeMachine()
        send(&machine, "VERSION\t1\t0")
        #expect(summary(send(&machine, line)) == ["close"])
    }

    @Test(arguments: ["FOO\t1", "", "auth\t1\tPLAIN\tservice=smtp", "REQUEST\t1\t2\t3", "USER\t1\tuser"])
    func unknownCommandsClose(_ line: String) {
        var machine = handshaken()
        #expect(summary(send(&machine, line)) == ["close"])
        #expect(machine.protocolError?.kind == .unknownCommand)
    }

    @Test func lineTooLongCloses() {
        var machine = handshaken()
        #expect(summary(machine.lineTooLong()) == ["close"])
        #expect(machine.protocolError?.kind == .lineTooLong)
        #expect(machine.lineTooLong().isEmpty)
    }

    @Test func anOverlongLineHandedInClosesToo() {
        var machine = handshaken()
        let line = "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=" + String(repeating: "A", count: 16384)
        #expect(summary(send(&machine, line)) == ["close"])
        #expect(machine.protocolError?.kind == .lineTooLong)
    }

    @Test func nothingHappensAfterClose() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        send(&machine, "BOGUS")
        #expect(machine.isClosed)
        #expect(send(&machine, "AUTH\t2\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)").isEmpty)
        #expect(machine.passwordVerified(requestID: 1, outcome: .success(user: "user")).isEmpty)
        #expect(machine.scramCredentialsFetched(requestID: 1, keys: nil, throttled: false).isEmpty)
        #expect(machine.requestsInProgress == 0)
    }
}

// MARK: - PLAIN and LOGIN

@Suite("Dovecot auth: PLAIN and LOGIN")
struct DovecotAuthPasswordTests {
    /// Postfix's request line (xsasl_dovecot_server_first) for `AUTH PLAIN <resp>` over TLS.
    @Test func postfixPLAINExchange() {
        var machine = handshaken()
        let actions = send(
            &machine,
            "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=127.0.0.1\tsecured\tresp=\(plainUserPass)")
        let info = RequestInfo(
            service: "smtp", remoteAddress: "127.0.0.1", localAddress: "127.0.0.1", isSecured: true, noPenalty: false)
        #expect(actions == [.verifyPassword(requestID: 1, login: "user", password: "pass", info: info)])
        let done = machine.passwordVerified(requestID: 1, outcome: .success(user: "user"))
        #expect(done == [.send(Array("OK\t1\tuser=user\n".utf8))])
        #expect(machine.requestsInProgress == 0)
    }

    @Test func okReportsTheLoginAsTheDirectorySpellsIt() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let done = machine.passwordVerified(requestID: 1, outcome: .success(user: "user@example.test"))
        #expect(summary(done) == ["OK\t1\tuser=user@example.test\n"])
    }

    @Test func plainWithoutInitialResponseSendsAnEmptyChallenge() {
        var machine = handshaken()
        let challenge = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured")
        #expect(summary(challenge) == ["CONT\t1\t\n"])
        let actions = send(&machine, "CONT\t1\t\(plainUserPass)")
        #expect(summary(actions) == ["verifyPassword 1 user pass"])
    }

    @Test func loginThroughContinuations() {
        var machine = handshaken()
        let username = send(&machine, "AUTH\t2\tLOGIN\tservice=smtp\tsecured")
        #expect(summary(username) == ["CONT\t2\tVXNlcm5hbWU6\n"])  // "Username:"
        let password = send(&machine, "CONT\t2\t\(base64("user"))")
        #expect(summary(password) == ["CONT\t2\tUGFzc3dvcmQ6\n"])  // "Password:"
        let check = send(&machine, "CONT\t2\t\(base64("pass"))")
        #expect(summary(check) == ["verifyPassword 2 user pass"])
        let done = machine.passwordVerified(requestID: 2, outcome: .success(user: "user"))
        #expect(summary(done) == ["OK\t2\tuser=user\n"])
    }

    @Test func loginTakesAnInitialResponseAsTheUserName() {
        var machine = handshaken()
        let password = send(&machine, "AUTH\t2\tLOGIN\tservice=smtp\tsecured\tresp=\(base64("user"))")
        #expect(summary(password) == ["CONT\t2\tUGFzc3dvcmQ6\n"])
        #expect(summary(send(&machine, "CONT\t2\t\(base64("pass"))")) == ["verifyPassword 2 user pass"])
    }

    @Test func wrongPasswordFailsWithTheUser() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let done = machine.passwordVerified(requestID: 1, outcome: .failure)
        #expect(summary(done) == ["FAIL\t1\tuser=user\n"])
        #expect(machine.requestsInProgress == 0)
        #expect(!machine.isClosed)
    }

    @Test(arguments: [DovecotAuthServerStateMachine.Outcome.throttled, .temporaryFailure])
    func throttledAndTemporaryFailuresAreMarkedTemporary(_ outcome: DovecotAuthServerStateMachine.Outcome) throws {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let done = machine.passwordVerified(requestID: 1, outcome: outcome)
        #expect(summary(done) == ["FAIL\t1\tuser=user\tcode=temp_fail\ttemp\n"])
        let parts = try #require(fields(done.first))
        #expect(parts.contains("temp"))
    }

    @Test func foreignAuthorizationIdentityIsRefusedWithoutAPasswordCheck() {
        var machine = handshaken()
        let resp = base64(Array("admin".utf8) + [0] + Array("user".utf8) + [0] + Array("pass".utf8))
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(resp)")
        #expect(summary(actions) == ["FAIL\t1\tuser=user\tcode=authz_fail\n"])
    }

    @Test func ownAuthorizationIdentityIsAccepted() {
        var machine = handshaken()
        let resp = base64(Array("User".utf8) + [0] + Array("user".utf8) + [0] + Array("pass".utf8))
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(resp)")
        #expect(summary(actions) == ["verifyPassword 1 user pass"])
    }

    @Test func malformedPLAINMessageFails() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(base64("no nul here"))")
        #expect(summary(actions) == ["FAIL\t1\n"])
        #expect(!machine.isClosed)
    }

    @Test func pipelinedRequestsKeepTheirOwnState() {
        var machine = handshaken()
        #expect(summary(send(&machine, "AUTH\t1\tLOGIN\tservice=smtp\tsecured")) == ["CONT\t1\tVXNlcm5hbWU6\n"])
        #expect(summary(send(&machine, "AUTH\t2\tLOGIN\tservice=smtp\tsecured")) == ["CONT\t2\tVXNlcm5hbWU6\n"])
        #expect(summary(send(&machine, "CONT\t2\t\(base64("bob"))")) == ["CONT\t2\tUGFzc3dvcmQ6\n"])
        #expect(summary(send(&machine, "CONT\t1\t\(base64("alice"))")) == ["CONT\t1\tUGFzc3dvcmQ6\n"])
        #expect(summary(send(&machine, "CONT\t1\t\(base64("secret1"))")) == ["verifyPassword 1 alice secret1"])
        #expect(summary(send(&machine, "CONT\t2\t\(base64("secret2"))")) == ["verifyPassword 2 bob secret2"])
        #expect(summary(machine.passwordVerified(requestID: 2, outcome: .failure)) == ["FAIL\t2\tuser=bob\n"])
        #expect(
            summary(machine.passwordVerified(requestID: 1, outcome: .success(user: "alice"))) == ["OK\t1\tuser=alice\n"]
        )
    }

    @Test func requestInfoCarriesTheParameters() {
        var machine = handshaken()
        let actions = send(
            &machine,
            "AUTH\t9\tPLAIN\tservice=smtp\tlip=192.0.2.1\trip=198.51.100.7\tlport=587\trport=40000\tsecured"
                + "\tvalid-client-cert\tno-penalty\tsession=abc\tfuture-flag\tresp=\(plainUserPass)")
        let info = RequestInfo(
            service: "smtp", remoteAddress: "198.51.100.7", localAddress: "192.0.2.1", isSecured: true, noPenalty: true)
        #expect(actions == [.verifyPassword(requestID: 9, login: "user", password: "pass", info: info)])
    }

    @Test func emptyAddressesAreAbsent() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tlip=\trip=\tsecured\tresp=\(plainUserPass)")
        let info = RequestInfo(service: "smtp", isSecured: true)
        #expect(actions == [.verifyPassword(requestID: 1, login: "user", password: "pass", info: info)])
    }
}

// MARK: - Initial responses and CONT data

@Suite("Dovecot auth: base64 data")
struct DovecotAuthDataTests {
    /// Before protocol 1.2 an empty `resp=` means "no initial response" (Exim sends it so).
    @Test func emptyRespBeforeVersion1_2IsAbsent() {
        var machine = handshaken(minorVersion: 0)
        #expect(summary(send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=")) == ["CONT\t1\t\n"])
    }

    /// From 1.2 on it is an empty initial response, which PLAIN cannot use (RFC 4422 §4).
    @Test func emptyRespFromVersion1_2IsAnEmptyResponse() {
        var machine = handshaken(minorVersion: 2)
        #expect(summary(send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=")) == ["FAIL\t1\n"])
    }

    @Test func equalsSignIsAnEmptyResponse() {
        var machine = handshaken(minorVersion: 2)
        #expect(summary(send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp==")) == ["FAIL\t1\n"])
    }

    @Test(arguments: ["!!!!", "AHVzZXIAcGFzcw", "AHVz ZXIAcGFzcw==", "é"])
    func badBase64InRespFailsTheRequest(_ resp: String) {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(resp)")
        #expect(summary(actions) == ["FAIL\t1\tcode=invalid_base64\treason=Invalid base64 data in initial response\n"])
        #expect(!machine.isClosed)
        #expect(machine.requestsInProgress == 0)
    }

    @Test func badBase64InContFailsTheRequest() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tLOGIN\tservice=smtp\tsecured")
        let actions = send(&machine, "CONT\t1\t***")
        #expect(
            summary(actions) == ["FAIL\t1\tcode=invalid_base64\treason=Invalid base64 data in continued response\n"])
        #expect(!machine.isClosed)
        #expect(machine.requestsInProgress == 0)
    }

    @Test func contForAnUnknownIDFails() {
        var machine = handshaken()
        #expect(summary(send(&machine, "CONT\t5\tdXNlcg==")) == ["FAIL\t5\treason=Authentication request timed out\n"])
        #expect(!machine.isClosed)
    }

    @Test func contWhileThePasswordIsCheckedFailsAndTheLateAnswerIsDropped() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(
            summary(send(&machine, "CONT\t1\tdXNlcg==")) == ["FAIL\t1\tuser=user\treason=Unexpected continuation\n"])
        #expect(machine.passwordVerified(requestID: 1, outcome: .success(user: "user")).isEmpty)
        #expect(machine.requestsInProgress == 0)
    }

    @Test(arguments: [
        "AUTH\t1\tPLAIN\tsecured\tresp=\(plainUserPass)",  // no service=
        "AUTH\t1\tPLAIN\tservice=\tsecured",  // empty service
        "AUTH\t1\tPLAIN\tservice=smtp\tresp=\(plainUserPass)\tsecured",  // parameter after resp=
        "AUTH\t0\tPLAIN\tservice=smtp\tsecured",  // ID 0
        "AUTH\t4294967296\tPLAIN\tservice=smtp\tsecured",  // ID beyond 32 bits
        "AUTH\t+1\tPLAIN\tservice=smtp\tsecured",
        "AUTH\t1",  // no mechanism
        "AUTH\t1\t\tservice=smtp",  // empty mechanism
        "AUTH",
        "CONT\t1",  // no data
        "CONT\tx\tdXNlcg==",
        "CANCEL",
        "CANCEL\tone",
    ])
    func brokenRequestsClose(_ line: String) {
        var machine = handshaken()
        #expect(summary(send(&machine, line)) == ["close"])
        #expect(machine.protocolError?.kind == .malformed)
    }

    @Test func highestRequestIDIsAccepted() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t4294967295\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(summary(actions) == ["verifyPassword 4294967295 user pass"])
    }
}

// MARK: - Mechanisms and the plaintext rule

@Suite("Dovecot auth: mechanisms and plaintext")
struct DovecotAuthMechanismTests {
    @Test(arguments: ["CRAM-MD5", "GSSAPI", "X", "PLAIN\u{1}t"])
    func unknownMechanismFails(_ mechanism: String) {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\t\(mechanism)\tservice=smtp\tsecured")
        #expect(summary(actions) == ["FAIL\t1\treason=Unsupported authentication mechanism\n"])
        #expect(!machine.isClosed)
    }

    @Test func unofferedMechanismFails() {
        var machine = handshaken { $0.mechanisms = [.plain] }
        let actions = send(&machine, "AUTH\t1\tLOGIN\tservice=smtp\tsecured")
        #expect(summary(actions) == ["FAIL\t1\treason=Unsupported authentication mechanism\n"])
    }

    @Test func mechanismNamesMatchCaseInsensitively() {
        var machine = handshaken()
        #expect(summary(send(&machine, "AUTH\t1\tlogin\tservice=smtp\tsecured")) == ["CONT\t1\tVXNlcm5hbWU6\n"])
    }

    @Test(arguments: ["PLAIN", "LOGIN"])
    func plaintextOverAnUnsecuredRemoteConnectionFails(_ mechanism: String) {
        var machine = handshaken()
        let actions = send(
            &machine, "AUTH\t1\t\(mechanism)\tservice=smtp\tlip=192.0.2.1\trip=198.51.100.7\tresp=\(plainUserPass)")
        #expect(
            summary(actions) == [
                "FAIL\t1\treason=Plaintext authentication disallowed on non-secure (SSL/TLS) connections.\n"
            ])
    }

    @Test func plaintextWithoutAddressesFails() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tresp=\(plainUserPass)")
        #expect(actions.count == 1)
        #expect(actions.first?.sentLine?.hasPrefix("FAIL\t1\treason=Plaintext") == true)
    }

    @Test(arguments: [
        "lip=127.0.0.1\trip=127.0.0.1",
        "rip=127.0.0.2",
        "rip=::1",
        "rip=::ffff:127.0.0.1",
        "lip=192.0.2.7\trip=192.0.2.7",
        "lip=2001:db8::7\trip=2001:DB8:0:0:0:0:0:7",
        "lip=192.0.2.1\trip=198.51.100.7\tsecured",
        "secured",
    ])
    func plaintextOnSecuredOrLocalConnectionsIsChecked(_ parameters: String) {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\t\(parameters)\tresp=\(plainUserPass)")
        #expect(summary(actions) == ["verifyPassword 1 user pass"])
    }

    @Test(arguments: [
        "lip=x\trip=x",  // not addresses
        "rip=128.0.0.1",
        "rip=::2",
        "rip=localhost",
        "lip=192.0.2.7\trip=192.0.2.8",
    ])
    func plaintextFromElsewhereFails(_ parameters: String) {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\t\(parameters)\tresp=\(plainUserPass)")
        #expect(actions.first?.sentLine?.hasPrefix("FAIL\t1\treason=Plaintext") == true)
    }

    @Test func allowPlaintextOverridesTheRule() {
        var machine = handshaken { $0.allowPlaintext = true }
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\trip=198.51.100.7\tresp=\(plainUserPass)")
        #expect(summary(actions) == ["verifyPassword 1 user pass"])
    }

    @Test func scramIsNotPlaintext() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tSCRAM-SHA-256\tservice=smtp\trip=198.51.100.7")
        #expect(summary(actions) == ["CONT\t1\t\n"])
    }
}

// MARK: - Request IDs, CANCEL and the limit

@Suite("Dovecot auth: request IDs, CANCEL and limits")
struct DovecotAuthRequestTests {
    @Test func duplicateIDInProgressCloses() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tLOGIN\tservice=smtp\tsecured")
        #expect(summary(send(&machine, "AUTH\t1\tLOGIN\tservice=smtp\tsecured")) == ["close"])
        #expect(machine.protocolError?.kind == .duplicateRequestID)
    }

    @Test func duplicateIDWhileThePasswordIsCheckedCloses() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(summary(send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")) == ["close"])
    }

    @Test func anIDCanBeReusedOnceItsRequestIsOver() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        _ = machine.passwordVerified(requestID: 1, outcome: .failure)
        let again = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(summary(again) == ["verifyPassword 1 user pass"])
    }

    @Test func cancelForgetsTheRequestSilently() {
        var machine = handshaken()
        send(&machine, "AUTH\t2\tLOGIN\tservice=smtp\tsecured")
        #expect(send(&machine, "CANCEL\t2").isEmpty)
        #expect(machine.requestsInProgress == 0)
        #expect(summary(send(&machine, "CONT\t2\tdXNlcg==")) == ["FAIL\t2\treason=Authentication request timed out\n"])
        #expect(summary(send(&machine, "AUTH\t2\tLOGIN\tservice=smtp\tsecured")) == ["CONT\t2\tVXNlcm5hbWU6\n"])
    }

    @Test func cancelOfAnUnknownIDIsIgnored() {
        var machine = handshaken()
        #expect(send(&machine, "CANCEL\t99").isEmpty)
        #expect(!machine.isClosed)
    }

    @Test func cancelWhileThePasswordIsCheckedDropsTheAnswer() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(send(&machine, "CANCEL\t1").isEmpty)
        #expect(machine.requestsInProgress == 1)
        // The ID is taken until the directory's answer is in: a late answer must not
        // be taken for a newer request.
        #expect(machine.passwordVerified(requestID: 1, outcome: .success(user: "user")).isEmpty)
        #expect(machine.requestsInProgress == 0)
        let again = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(summary(again) == ["verifyPassword 1 user pass"])
    }

    @Test func answersForUnknownRequestsAreIgnored() {
        var machine = handshaken()
        #expect(machine.passwordVerified(requestID: 3, outcome: .success(user: "user")).isEmpty)
        #expect(machine.scramCredentialsFetched(requestID: 3, keys: nil, throttled: false).isEmpty)
        send(&machine, "AUTH\t4\tLOGIN\tservice=smtp\tsecured")
        // Request 4 waits for the client, not for a password.
        #expect(machine.passwordVerified(requestID: 4, outcome: .success(user: "user")).isEmpty)
        #expect(machine.requestsInProgress == 1)
    }

    @Test func moreThan64RequestsWaitingForTheDirectoryFail() {
        var machine = handshaken()
        for requestID in 1...64 {
            let actions = send(&machine, "AUTH\t\(requestID)\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
            #expect(summary(actions) == ["verifyPassword \(requestID) user pass"])
        }
        let refused = send(&machine, "AUTH\t65\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(
            summary(refused) == [
                "FAIL\t65\tcode=temp_fail\treason=Too many concurrent authentication requests\ttemp\n"
            ])
        #expect(machine.requestsInProgress == 64)
        #expect(!machine.isClosed)
        // Once one finishes there is room again.
        _ = machine.passwordVerified(requestID: 1, outcome: .failure)
        #expect(
            summary(send(&machine, "AUTH\t65\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")) == [
                "verifyPassword 65 user pass"
            ])
    }

    /// Postfix never sends CANCEL, so abandoned exchanges must not lock AUTH: at the limit
    /// the oldest request waiting for the client is failed to make room.
    @Test func atTheLimitTheOldestRequestWaitingForTheClientIsEvicted() {
        var machine = handshaken()
        for requestID in 1...64 {
            send(&machine, "AUTH\t\(requestID)\tLOGIN\tservice=smtp\tsecured")
        }
        let actions = send(&machine, "AUTH\t65\tLOGIN\tservice=smtp\tsecured")
        #expect(
            summary(actions) == [
                "FAIL\t1\treason=Authentication request timed out\n",
                "CONT\t65\tVXNlcm5hbWU6\n",
            ])
        #expect(machine.requestsInProgress == 64)
        #expect(summary(send(&machine, "CONT\t2\t\(base64("user"))")) == ["CONT\t2\tUGFzc3dvcmQ6\n"])
    }

    @Test func aConfiguredLimitIsHonoured() {
        var machine = handshaken {
            var limits = DovecotAuthLimits()
            limits.maximumConcurrentRequests = 1
            $0.limits = limits
        }
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let refused = send(&machine, "AUTH\t2\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        #expect(refused.first?.sentLine?.hasPrefix("FAIL\t2\tcode=temp_fail") == true)
    }
}

// MARK: - Hostile input

@Suite("Dovecot auth: hostile input")
struct DovecotAuthHostileInputTests {
    /// Fragments that make random lines reach deep into the grammar.
    static let fragments: [[UInt8]] = [
        "VERSION", "CPID", "AUTH", "CONT", "CANCEL", "1", "2", "0", "4294967296", "PLAIN", "LOGIN", "SCRAM-SHA-256",
        "service=smtp", "secured", "resp=", "resp=\(plainUserPass)", "lip=127.0.0.1", "rip=::1", "rip=::ffff:1.2.3.4",
        "dXNlcg==", "=", "n,,n=user,r=abc", base64("n,,n=user,r=abc"), "\u{1}", "\u{1}t", "\u{1}n", "\t", "\r",
    ].map { Array($0.utf8) }

    @Test func randomLinesNeverCrash() {
        var generator = Xorshift64(seed: 0xD0FE_C07A_5EED)
        var machine = handshaken()
        let limit = DovecotAuthLimits().maximumConcurrentRequests
        for _ in 0..<10_000 {
            var line: [UInt8] = []
            let pieces = generator.index(below: 12)
            for _ in 0..<pieces {
                switch generator.index(below: 4) {
                case 0:
                    let count = generator.index(below: 20)
                    for _ in 0..<count { line.append(UInt8(truncatingIfNeeded: generator.next())) }
                case 1, 2:
                    line += Self.fragments[generator.index(below: Self.fragments.count)]
                default:
                    line.append(UInt8(ascii: "\t"))
                }
            }
            var actions = machine.receive(line: line)
            // Answer whatever the machine asked for, sometimes with nonsense.
            let requestID = UInt32(truncatingIfNeeded: generator.next() % 8)
            switch generator.index(below: 4) {
            case 0: actions += machine.passwordVerified(requestID: requestID, outcome: .success(user: "user"))
            case 1: actions += machine.scramCredentialsFetched(requestID: requestID, keys: nil, throttled: false)
            case 2: actions += machine.passwordVerified(requestID: requestID, outcome: .throttled)
            default: break
            }
            for action in actions {
                if case .send(let sent) = action {
                    #expect(sent.last == UInt8(ascii: "\n"))
                    #expect(sent.filter { $0 == UInt8(ascii: "\n") }.count == 1)
                }
            }
            #expect(machine.requestsInProgress <= limit)
            if machine.isClosed { machine = handshaken() }
        }
    }

    @Test func randomBytesBeforeTheHandshakeNeverCrash() {
        var generator = Xorshift64(seed: 42)
        for _ in 0..<2_000 {
            var machine = makeMachine()
            let count = generator.index(below: 64)
            var line: [UInt8] = []
            for _ in 0..<count { line.append(UInt8(truncatingIfNeeded: generator.next())) }
            _ = machine.receive(line: line)
            _ = machine.lineTooLong()
            #expect(machine.isClosed)
        }
    }

    @Test func passwordsNeverAppearInDescriptions() {
        var machine = handshaken()
        let actions = send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let text = actions.map { "\($0)" }.joined() + "\(machine)" + String(reflecting: machine)
        #expect(!text.contains("pass\""))
        #expect(text.contains("<redacted>"))
    }
}
