import Crypto
import Foundation
import MailTestSupport
import NIOCore
import SASL
import Testing

@testable import SMTPProtocol

// SCRAM-SHA-256 through SMTP AUTH (RFC 4954 §4, RFC 5802 §5, RFC 7677 §3).
// Needs `.product(name: "Crypto", package: "swift-crypto")` in the SMTPProtocolTests target.


private struct MissingChallenge: Error {}

/// The decoded text of the first 334 challenge in `actions`.
private func challengeText(_ actions: [SMTPAction]) throws -> String {
    for action in actions {
        if let reply = action.reply, reply.code == 334 {
            guard let text = reply.lines.first, let data = Data(base64Encoded: text) else { throw MissingChallenge() }
            return String(decoding: data, as: UTF8.self)
        }
    }
    throw MissingChallenge()
}

/// TLS established, SCRAM-SHA-256 offered, EHLO done.
private func scramSession() -> SMTPServerStateMachine {
    var machine = makeMachine(role: .submission, isTLS: true) { $0.mechanisms = [.plain, .login, .scramSHA256] }
    _ = machine.greeting()
    send(&machine, "EHLO client.example")
    return machine
}

private let alice = SCRAMTestClient(username: "alice@example.test", password: "secret", nonce: "fyko+d2lbbFgONRv9qkxdawL")
private let aliceSalt: [UInt8] = (0..<16).map { UInt8($0) }
private let aliceKeys = SCRAMTestClient.serverKeys(password: "secret", salt: aliceSalt, iterations: 4096)

@Suite("SMTP session: AUTH SCRAM-SHA-256")
struct SMTPSessionSCRAMTests {
    /// The test client reproduces the exchange of RFC 7677 §3.
    @Test func testClientMatchesRFC7677() throws {
        let client = SCRAMTestClient(username: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        let finalMessage = try #require(client.clientFinal(serverFirst: serverFirst))
        #expect(
            finalMessage.message
                == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        #expect(finalMessage.serverFinal == "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    }

    @Test func ehloOffersSCRAM() throws {
        var machine = makeMachine(isTLS: true) { $0.mechanisms = [.plain, .login, .scramSHA256] }
        let actions = send(&machine, "EHLO client.example")
        let reply = try #require(actions.first?.reply)
        #expect(reply.lines.contains("AUTH PLAIN LOGIN SCRAM-SHA-256"))
    }

    @Test func fullExchangeLogsIn() throws {
        var machine = scramSession()
        let start = send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        #expect(summary(start) == ["fetchSCRAM alice@example.test"])

        let challenge = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        #expect(summary(challenge) == ["334"])
        let serverFirst = try challengeText(challenge)
        #expect(serverFirst.hasPrefix("r=" + alice.nonce))
        #expect(serverFirst.hasSuffix(",s=" + Data(aliceSalt).base64EncodedString() + ",i=4096"))

        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(summary(proof) == ["334"])
        let serverFinal = try challengeText(proof)
        #expect(serverFinal == finalMessage.serverFinal)
        #expect(machine.login == nil)

        // RFC 4954 §4: the client acknowledges the additional data with an empty line.
        let done = send(&machine, "")
        #expect(summary(done) == ["recordSCRAM alice@example.test true", "235 2.7.0"])
        #expect(machine.login == "alice@example.test")
    }

    @Test func exchangeWithoutInitialResponse() throws {
        var machine = scramSession()
        let empty = send(&machine, "AUTH SCRAM-SHA-256")
        #expect(summary(empty) == ["334"])
        #expect(empty.first?.reply?.lines == [""])
        let start = send(&machine, base64(alice.clientFirst))
        #expect(summary(start) == ["fetchSCRAM alice@example.test"])
        let challenge = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        let serverFirst = try challengeText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(summary(proof) == ["334"])
        let done = send(&machine, "=")
        #expect(summary(done) == ["recordSCRAM alice@example.test true", "235 2.7.0"])
    }

    @Test func throttledFetchIs454() {
        var machine = scramSession()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let actions = machine.scramCredentialsFetched(aliceKeys, throttled: true)
        #expect(summary(actions) == ["454 4.7.0"])
        #expect(machine.login == nil)
    }

    @Test func wrongPasswordIsRecordedAndRefused() throws {
        var machine = scramSession()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let otherKeys = SCRAMTestClient.serverKeys(password: "other", salt: aliceSalt, iterations: 4096)
        let challenge = machine.scramCredentialsFetched(otherKeys, throttled: false)
        let serverFirst = try challengeText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(summary(proof) == ["recordSCRAM alice@example.test false", "535 5.7.8"])
        #expect(machine.login == nil)
    }

    @Test func unknownUserFailsOnlyAtTheEnd() throws {
        var machine = scramSession()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let challenge = machine.scramCredentialsFetched(nil, throttled: false)
        #expect(summary(challenge) == ["334"])
        let serverFirst = try challengeText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(summary(proof) == ["recordSCRAM alice@example.test false", "535 5.7.8"])
    }

    // RFC 4422 §3.4.1: acting as another user is not supported, even with a good proof.
    @Test func foreignAuthorizationIdentityIsRefused() throws {
        var machine = scramSession()
        var client = alice
        client.gs2Header = "n,a=bob@example.test,"
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(client.clientFirst))
        let challenge = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        let serverFirst = try challengeText(challenge)
        let finalMessage = try #require(client.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(summary(proof) == ["recordSCRAM alice@example.test false", "535 5.7.8"])
        #expect(machine.login == nil)
    }

    @Test func cancelInsteadOfTheFinalAcknowledgementIsNotALogin() throws {
        var machine = scramSession()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let challenge = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        let serverFirst = try challengeText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        send(&machine, base64(finalMessage.message))
        let cancelled = send(&machine, "*")
        #expect(summary(cancelled) == ["recordSCRAM alice@example.test false", "501 5.0.0"])
        #expect(machine.login == nil)
    }

    @Test func cancelDuringTheExchange() {
        var machine = scramSession()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        _ = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        let cancelled = send(&machine, "*")
        #expect(summary(cancelled) == ["501 5.0.0"])
        #expect(machine.login == nil)
    }
}
