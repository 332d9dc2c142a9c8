import Foundation
import Testing

@testable import SASL

typealias ClientAction = SASLClientStateMachine.Action

@Suite("SASL client exchange")
struct SASLClientStateMachineTests {
    /// RFC 7677 §3: the SCRAM-SHA-256 example, byte for byte.
    @Test func scramRFC7677Example() {
        var client = SASLClientStateMachine(
            mechanism: .scramSHA256, username: "user", password: "pencil", clientNonce: bytes("rOprNGfwEbeRWgbNEkqO"))
        #expect(client.start() == .respond(bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        #expect(
            client.receive(challenge: bytes(serverFirst))
                == .respond(
                    bytes(
                        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
                    )))
        #expect(client.receive(challenge: bytes("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")) == .respond([]))
        #expect(client.successReceived() == .succeeded)
    }

    /// A server that does not know the password cannot produce the signature.
    @Test func scramRefusesAWrongServerSignature() {
        var client = SASLClientStateMachine(
            mechanism: .scramSHA256, username: "user", password: "pencil", clientNonce: bytes("rOprNGfwEbeRWgbNEkqO"))
        _ = client.start()
        _ = client.receive(
            challenge: bytes("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"))
        #expect(
            client.receive(challenge: bytes("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="))
                == .failed(SASLError(.authenticationFailed)))
        #expect(client.successReceived() == .failed(SASLError(.wrongState)))
    }

    /// RFC 5802 §5: success without the verifier proves nothing about the server.
    @Test func scramRefusesSuccessWithoutVerifier() {
        var client = SASLClientStateMachine(mechanism: .scramSHA256, username: "user", password: "pencil")
        _ = client.start()
        #expect(client.successReceived() == .failed(SASLError(.authenticationFailed)))
    }

    @Test(arguments: [
        InvalidInput("nonce not ours", bytes("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), .authenticationFailed),
        InvalidInput("nonce not extended", bytes("r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), .authenticationFailed),
        InvalidInput("mandatory extension", bytes("m=ext,r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"), .malformed),
        InvalidInput("no salt", bytes("r=abcdef,i=4096"), .malformed),
        InvalidInput("empty salt", bytes("r=abcdef,s=,i=4096"), .malformed),
        InvalidInput("bad base64 salt", bytes("r=abcdef,s=@@@@,i=4096"), .malformed),
        InvalidInput("zero iterations", bytes("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0"), .malformed),
        InvalidInput("negative iterations", bytes("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-1"), .malformed),
        InvalidInput("huge iterations", bytes("r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999"), .unsupported),
        InvalidInput("server error", bytes("e=invalid-proof"), .malformed),
        InvalidInput("empty", [], .malformed),
    ])
    func scramRefusesBadServerFirst(_ input: InvalidInput) {
        var client = SASLClientStateMachine(
            mechanism: .scramSHA256, username: "user", password: "pencil", clientNonce: bytes("abc"))
        _ = client.start()
        #expect(client.receive(challenge: input.input) == .failed(SASLError(input.kind)))
    }

    /// RFC 5802 §5.1: "," and "=" in the user name are escaped.
    @Test func scramEscapesTheUserName() {
        var client = SASLClientStateMachine(
            mechanism: .scramSHA256, username: "a,b=c", password: "p", clientNonce: bytes("nonce"))
        #expect(client.start() == .respond(bytes("n,,n=a=2Cb=3Dc,r=nonce")))
    }

    /// The client against our own server, every mechanism, right and wrong passwords.
    @Test(arguments: SASLMechanism.allCases)
    func logsIntoOurServer(_ mechanism: SASLMechanism) throws {
        #expect(try run(mechanism, password: "pencil") == true)
        #expect(try run(mechanism, password: "wrong") == false)
    }

    /// Runs a client against `SASLServerStateMachine` whose user "user" has password
    /// "pencil"; true when both sides agree that the login succeeded.
    private func run(_ mechanism: SASLMechanism, password: String) throws -> Bool {
        var client = SASLClientStateMachine(mechanism: mechanism, username: "user", password: password)
        var server = SASLServerStateMachine(mechanism: mechanism)
        var serverAction: SASLServerStateMachine.Action
        switch client.start() {
        case .respond(let initial): serverAction = server.start(initialResponse: initial)
        case .awaitChallenge: serverAction = server.start(initialResponse: nil)
        case .succeeded, .failed: return false
        }
        for _ in 0..<5 {
            switch serverAction {
            case .challenge(let challenge):
                guard case .respond(let response) = client.receive(challenge: challenge) else { return false }
                serverAction = server.receive(response)
            case .verifyPassword(_, let login, let given):
                return login == "user" && given == "pencil" && client.successReceived() == .succeeded
            case .fetchSCRAMCredentials:
                let keys = try SCRAMTestClient.serverKeys(
                    password: "pencil", salt: bytes("salt-salt-salt"), iterations: 4096)
                serverAction = server.scramCredentialsFetched(keys)
            case .success(_, _, let serverFinal):
                if let serverFinal {
                    guard client.receive(challenge: serverFinal) == .respond([]) else { return false }
                }
                return client.successReceived() == .succeeded
            case .failure:
                return false
            }
        }
        return false
    }

    @Test func plainSendsOneMessage() {
        var client = SASLClientStateMachine(mechanism: .plain, username: "tim", password: "tanstaafl")
        #expect(client.start() == .respond(bytes("\0tim\0tanstaafl")))
        #expect(client.successReceived() == .succeeded)
    }

    @Test func loginAnswersTwoPrompts() {
        var client = SASLClientStateMachine(mechanism: .login, username: "tim", password: "tanstaafl")
        #expect(client.start() == .awaitChallenge)
        #expect(client.successReceived() == .failed(SASLError(.malformed)))
        client = SASLClientStateMachine(mechanism: .login, username: "tim", password: "tanstaafl")
        _ = client.start()
        #expect(client.receive(challenge: bytes("Username:")) == .respond(bytes("tim")))
        #expect(client.receive(challenge: bytes("Password:")) == .respond(bytes("tanstaafl")))
        #expect(client.receive(challenge: bytes("Again:")) == .failed(SASLError(.malformed)))
    }

    @Test func neverShowsThePassword() {
        let client = SASLClientStateMachine(mechanism: .plain, username: "tim", password: "tanstaafl")
        #expect(!"\(client)".contains("tanstaafl"))
        #expect(!String(reflecting: client).contains("tanstaafl"))
        #expect(!dumped(client).contains("tanstaafl"))
    }
}
