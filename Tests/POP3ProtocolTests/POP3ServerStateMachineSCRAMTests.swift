import Foundation
import MailTestSupport
import NIOCore
import SASL
import Testing

@testable import POP3Protocol

// SCRAM-SHA-256 through POP3 AUTH (RFC 5034 §4, RFC 5802 §5, RFC 7677 §3), with the
// independent client of MailTestSupport.

private struct MissingChallenge: Error {}

/// The decoded text of the first "+ " challenge in `actions`.
private func challengeText(_ actions: [POP3Action]) throws -> String {
    for case .send(let buffer) in actions {
        let bytes = Array(buffer.readableBytesView)
        guard bytes.count >= 4, bytes.starts(with: [UInt8(ascii: "+"), UInt8(ascii: " ")]),
            bytes.suffix(2).elementsEqual([13, 10])
        else { continue }
        let encoded = String(decoding: bytes[2..<(bytes.count - 2)], as: UTF8.self)
        guard let data = Data(base64Encoded: encoded) else { throw MissingChallenge() }
        return String(decoding: data, as: UTF8.self)
    }
    throw MissingChallenge()
}

/// A session offering SCRAM-SHA-256, on a plain connection unless `isTLS`.
private func scramMachine(isTLS: Bool = false) -> POP3ServerStateMachine {
    var machine = makeMachine(isTLS: isTLS) { $0.mechanisms = [.plain, .login, .scramSHA256] }
    _ = machine.greeting()
    return machine
}

private let alice = SCRAMTestClient(
    username: "alice@example.test", password: "secret", nonce: "fyko+d2lbbFgONRv9qkxdawL")
private let aliceSalt: [UInt8] = (0..<16).map { UInt8($0) }
private let aliceKeys = SCRAMTestClient.serverKeys(password: "secret", salt: aliceSalt, iterations: 4096)

@Suite("POP3 session: AUTH SCRAM-SHA-256")
struct POP3SessionSCRAMTests {
    /// SCRAM never sends the password, so it works without TLS and without
    /// `allowPlaintextAuth`.
    @Test func fullExchangeWithInitialResponse() throws {
        var machine = scramMachine()
        let start = send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        #expect(summary(start) == ["fetchSCRAM alice@example.test"])
        #expect(machine.isWaiting)

        let challenge = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        let serverFirst = try challengeText(challenge)
        #expect(serverFirst.hasPrefix("r=" + alice.nonce))
        #expect(serverFirst.hasSuffix(",s=" + Data(aliceSalt).base64EncodedString() + ",i=4096"))
        #expect(!machine.isWaiting)

        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let proof = send(&machine, base64(finalMessage.message))
        #expect(try challengeText(proof) == finalMessage.serverFinal)
        #expect(!machine.isInTransaction)

        // The client acknowledges the server's signature with an empty line.
        let done = send(&machine, "")
        #expect(summary(done) == ["recordSCRAM alice@example.test true", "openMaildrop alice@example.test"])
        #expect(sentText(machine.maildropOpened(.opened(rfcMaildrop))) == "+OK Logged in.\r\n")
        #expect(machine.isInTransaction)
        #expect(machine.user == "alice@example.test")
    }

    @Test func exchangeWithoutInitialResponse() throws {
        var machine = scramMachine(isTLS: true)
        #expect(sentText(send(&machine, "AUTH SCRAM-SHA-256")) == "+ \r\n")
        #expect(summary(send(&machine, base64(alice.clientFirst))) == ["fetchSCRAM alice@example.test"])
        let serverFirst = try challengeText(machine.scramCredentialsFetched(aliceKeys, throttled: false))
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        _ = send(&machine, base64(finalMessage.message))
        #expect(
            summary(send(&machine, "=")) == ["recordSCRAM alice@example.test true", "openMaildrop alice@example.test"])
    }

    @Test func wrongPassword() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let otherKeys = SCRAMTestClient.serverKeys(password: "other", salt: aliceSalt, iterations: 4096)
        let serverFirst = try challengeText(machine.scramCredentialsFetched(otherKeys, throttled: false))
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        #expect(
            summary(send(&machine, base64(finalMessage.message))) == [
                "recordSCRAM alice@example.test false", "-ERR [AUTH] Authentication failed.",
            ])
        #expect(!machine.isInTransaction)
    }

    /// Unknown users get a fake salt and fail only at the end.
    @Test func unknownUser() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let serverFirst = try challengeText(machine.scramCredentialsFetched(nil, throttled: false))
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        #expect(
            summary(send(&machine, base64(finalMessage.message))) == [
                "recordSCRAM alice@example.test false", "-ERR [AUTH] Authentication failed.",
            ])
    }

    @Test func throttled() {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        #expect(
            summary(machine.scramCredentialsFetched(aliceKeys, throttled: true)) == [
                "-ERR [LOGIN-DELAY] Too many failed logins; try again later"
            ])
        #expect(!machine.isWaiting)
    }

    @Test func cancelInsteadOfTheFinalAcknowledgement() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let serverFirst = try challengeText(machine.scramCredentialsFetched(aliceKeys, throttled: false))
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        send(&machine, base64(finalMessage.message))
        #expect(
            summary(send(&machine, "*")) == [
                "recordSCRAM alice@example.test false", "-ERR Authentication cancelled.",
            ])
        #expect(!machine.isInTransaction)
    }

    @Test func nonEmptyFinalAcknowledgement() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        let serverFirst = try challengeText(machine.scramCredentialsFetched(aliceKeys, throttled: false))
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        send(&machine, base64(finalMessage.message))
        #expect(
            summary(send(&machine, "dGhhbmtz")) == [
                "recordSCRAM alice@example.test false", "-ERR Invalid authentication data.",
            ])
    }

    @Test func cancelDuringTheExchange() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        _ = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        #expect(
            summary(send(&machine, "*")) == [
                "recordSCRAM alice@example.test false", "-ERR Authentication cancelled.",
            ])
    }

    /// RFC 4422 §3.4.1: acting as another user is refused even with a good proof.
    @Test func foreignAuthorizationIdentity() throws {
        var machine = scramMachine()
        var client = alice
        client.gs2Header = "n,a=bob@example.test,"
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(client.clientFirst))
        let serverFirst = try challengeText(machine.scramCredentialsFetched(aliceKeys, throttled: false))
        let finalMessage = try #require(client.clientFinal(serverFirst: serverFirst))
        #expect(
            summary(send(&machine, base64(finalMessage.message))) == [
                "recordSCRAM alice@example.test false", "-ERR [AUTH] Authentication failed.",
            ])
    }

    @Test func shutdownWhileFetchingKeys() throws {
        var machine = scramMachine()
        send(&machine, "AUTH SCRAM-SHA-256 " + base64(alice.clientFirst))
        #expect(machine.shutdown().isEmpty)
        let actions = machine.scramCredentialsFetched(aliceKeys, throttled: false)
        #expect(Array(summary(actions).suffix(2)) == ["-ERR [SYS/TEMP] Server shutting down", "close"])
        #expect(machine.isClosed)
    }
}
