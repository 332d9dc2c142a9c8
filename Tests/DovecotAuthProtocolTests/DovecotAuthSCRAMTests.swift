import Crypto
import Foundation
import MailTestSupport
import SASL
import Testing

@testable import DovecotAuthProtocol

// SCRAM-SHA-256 through the auth socket (RFC 5802 §5, RFC 7677 §3): challenges in CONT,
// the server-final-message in OK as `resp=`, as Dovecot sends it.
// Needs `.product(name: "Crypto", package: "swift-crypto")` in the DovecotAuthProtocolTests target.


private let alice = SCRAMTestClient(
    username: "alice@example.test", password: "secret", nonce: "fyko+d2lbbFgONRv9qkxdawL")
private let aliceSalt: [UInt8] = (0..<16).map { UInt8($0) }
private let aliceKeys = SCRAMTestClient.serverKeys(password: "secret", salt: aliceSalt, iterations: 4096)

/// An AUTH line for SCRAM-SHA-256 from an end user on a remote, unsecured connection
/// (SCRAM sends no password, so the plaintext rule does not apply).
private func scramAuth(_ requestID: UInt32, initialResponse: String?) -> String {
    var line = "AUTH\t\(requestID)\tSCRAM-SHA-256\tservice=smtp\tlip=192.0.2.1\trip=198.51.100.7"
    if let initialResponse { line += "\tresp=" + base64(initialResponse) }
    return line
}

@Suite("Dovecot auth: SCRAM-SHA-256")
struct DovecotAuthSCRAMTests {
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

    @Test func fullExchangeEndsWithServerFinalInOK() throws {
        var machine = handshaken()
        let start = send(&machine, scramAuth(3, initialResponse: alice.clientFirst))
        let info = RequestInfo(service: "smtp", remoteAddress: "198.51.100.7", localAddress: "192.0.2.1")
        #expect(start == [.fetchSCRAMCredentials(requestID: 3, login: "alice@example.test", info: info)])

        let challenge = machine.scramCredentialsFetched(requestID: 3, keys: aliceKeys, throttled: false)
        #expect(challenge.count == 1)
        #expect(challenge.first?.sentLine?.hasPrefix("CONT\t3\t") == true)
        let serverFirst = try continuationText(challenge)
        #expect(serverFirst.hasPrefix("r=" + alice.nonce))
        #expect(serverFirst.hasSuffix(",s=" + Data(aliceSalt).base64EncodedString() + ",i=4096"))

        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let done = send(&machine, "CONT\t3\t" + base64(finalMessage.message))
        #expect(
            summary(done) == [
                "recordSCRAM 3 alice@example.test true",
                "OK\t3\tuser=alice@example.test\tresp=\(base64(finalMessage.serverFinal))\n",
            ])
        #expect(done.first == .recordSCRAMOutcome(requestID: 3, login: "alice@example.test", success: true, info: info))
        let okFields = try #require(fields(done.last))
        let resp = try #require(okFields.last.flatMap { $0.hasPrefix("resp=") ? String($0.dropFirst(5)) : nil })
        let serverFinal = try #require(Data(base64Encoded: resp))
        #expect(String(decoding: serverFinal, as: UTF8.self) == finalMessage.serverFinal)
        #expect(machine.requestsInProgress == 0)
    }

    @Test func exchangeWithoutInitialResponse() throws {
        var machine = handshaken()
        #expect(summary(send(&machine, scramAuth(4, initialResponse: nil))) == ["CONT\t4\t\n"])
        let start = send(&machine, "CONT\t4\t" + base64(alice.clientFirst))
        #expect(summary(start) == ["fetchSCRAM 4 alice@example.test"])
        let challenge = machine.scramCredentialsFetched(requestID: 4, keys: aliceKeys, throttled: false)
        let serverFirst = try continuationText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let done = send(&machine, "CONT\t4\t" + base64(finalMessage.message))
        #expect(done.last?.sentLine?.hasPrefix("OK\t4\tuser=alice@example.test\tresp=") == true)
    }

    @Test func wrongPasswordIsRecordedAndFails() throws {
        var machine = handshaken()
        send(&machine, scramAuth(3, initialResponse: alice.clientFirst))
        let otherKeys = SCRAMTestClient.serverKeys(password: "other", salt: aliceSalt, iterations: 4096)
        let challenge = machine.scramCredentialsFetched(requestID: 3, keys: otherKeys, throttled: false)
        let serverFirst = try continuationText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let done = send(&machine, "CONT\t3\t" + base64(finalMessage.message))
        #expect(summary(done) == ["recordSCRAM 3 alice@example.test false", "FAIL\t3\tuser=alice@example.test\n"])
    }

    @Test func unknownUserFailsOnlyAtTheEnd() throws {
        var machine = handshaken()
        send(&machine, scramAuth(3, initialResponse: alice.clientFirst))
        let challenge = machine.scramCredentialsFetched(requestID: 3, keys: nil, throttled: false)
        let serverFirst = try continuationText(challenge)
        let finalMessage = try #require(alice.clientFinal(serverFirst: serverFirst))
        let done = send(&machine, "CONT\t3\t" + base64(finalMessage.message))
        #expect(summary(done) == ["recordSCRAM 3 alice@example.test false", "FAIL\t3\tuser=alice@example.test\n"])
    }

    @Test func throttledFetchFailsTemporarily() {
        var machine = handshaken()
        send(&machine, scramAuth(3, initialResponse: alice.clientFirst))
        let done = machine.scramCredentialsFetched(requestID: 3, keys: aliceKeys, throttled: true)
        #expect(summary(done) == ["FAIL\t3\tuser=alice@example.test\tcode=temp_fail\ttemp\n"])
        #expect(machine.requestsInProgress == 0)
    }

    // RFC 4422 §3.4.1: acting as another user is not supported, even with a good proof.
    @Test func foreignAuthorizationIdentityIsRefused() throws {
        var machine = handshaken()
        var client = alice
        client.gs2Header = "n,a=bob@example.test,"
        send(&machine, scramAuth(3, initialResponse: client.clientFirst))
        let challenge = machine.scramCredentialsFetched(requestID: 3, keys: aliceKeys, throttled: false)
        let serverFirst = try continuationText(challenge)
        let finalMessage = try #require(client.clientFinal(serverFirst: serverFirst))
        let done = send(&machine, "CONT\t3\t" + base64(finalMessage.message))
        #expect(
            summary(done) == [
                "recordSCRAM 3 alice@example.test false", "FAIL\t3\tuser=alice@example.test\tcode=authz_fail\n",
            ])
    }

    @Test func malformedClientFirstFailsWithoutAUser() {
        var machine = handshaken()
        let done = send(&machine, scramAuth(3, initialResponse: "p=tls-unique,,n=alice,r=abc"))
        #expect(summary(done) == ["FAIL\t3\n"])
    }

    @Test func cancelWhileKeysAreFetchedDropsTheAnswer() {
        var machine = handshaken()
        send(&machine, scramAuth(3, initialResponse: alice.clientFirst))
        #expect(send(&machine, "CANCEL\t3").isEmpty)
        #expect(machine.scramCredentialsFetched(requestID: 3, keys: aliceKeys, throttled: false).isEmpty)
        #expect(machine.requestsInProgress == 0)
    }
}
