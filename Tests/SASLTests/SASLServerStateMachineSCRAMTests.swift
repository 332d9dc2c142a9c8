import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import SASL

/// The SCRAM-SHA-256 exchange of RFC 7677 §3: user "user", password "pencil".
enum RFC7677Example {
    static let clientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO"
    static let serverNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let combinedNonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
    static let saltBase64 = "W22ZaJ0SNY7soEsUEjb6gQ=="
    static let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    static let proof = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let clientFinal =
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static let serverFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

    /// The keys a server stores for `password` with the example's salt and 4096 iterations.
    static func keys(password: String = "pencil") throws -> SCRAMServerKeys {
        guard let salt = Data(base64Encoded: saltBase64) else { throw TestSetupError() }
        return try SCRAMTestClient.serverKeys(password: password, salt: Array(salt), iterations: 4096)
    }

    /// A machine that has sent the example's server-first-message.
    static func machineAwaitingClientFinal(keys: SCRAMServerKeys?) -> SASLServerStateMachine {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256, serverNonce: bytes(serverNonce))
        _ = machine.start(initialResponse: bytes(clientFirst))
        _ = machine.scramCredentialsFetched(keys)
        return machine
    }
}

/// RFC 5802 §7: client-first-message = gs2-header client-first-message-bare.
let scramInvalidClientFirstMessages: [InvalidInput] = {
    var fixtures: [InvalidInput] = []
    fixtures.append(InvalidInput("empty", [], .malformed))
    fixtures.append(InvalidInput("flag only", bytes("n"), .malformed))
    fixtures.append(InvalidInput("gs2-header cut short", bytes("n,"), .malformed))
    fixtures.append(InvalidInput("gs2-header only", bytes("n,,"), .malformed))
    fixtures.append(InvalidInput("unknown flag", bytes("x,,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("upper-case flag", bytes("N,,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("GS2 non-standard flag", bytes("F,n,,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("p= with empty cb-name", bytes("p=,,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("p= with bad cb-name", bytes("p=tls_unique,,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("authzid not a=", bytes("n,b=admin,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("empty authzid", bytes("n,a=,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("bad escape in authzid", bytes("n,a=ad=min,n=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("no username", bytes("n,,r=abc"), .malformed))
    fixtures.append(InvalidInput("no nonce", bytes("n,,n=user"), .malformed))
    fixtures.append(InvalidInput("nonce before username", bytes("n,,r=abc,n=user"), .malformed))
    fixtures.append(InvalidInput("empty username", bytes("n,,n=,r=abc"), .malformed))
    fixtures.append(InvalidInput("empty nonce", bytes("n,,n=user,r="), .malformed))
    fixtures.append(InvalidInput("space in nonce", bytes("n,,n=user,r=a c"), .malformed))
    fixtures.append(InvalidInput("non-ASCII nonce", bytes("n,,n=user,r=abcé"), .malformed))
    fixtures.append(InvalidInput("NUL in username", bytes("n,,n=us\0er,r=abc"), .malformed))
    fixtures.append(
        InvalidInput("invalid UTF-8 username", bytes("n,,n=") + [0xFF, 0xFE] + bytes(",r=abc"), .malformed))
    fixtures.append(InvalidInput("username attribute in upper case", bytes("n,,N=user,r=abc"), .malformed))
    fixtures.append(InvalidInput("empty field after nonce", bytes("n,,n=user,r=abc,"), .malformed))
    fixtures.append(InvalidInput("extension without =", bytes("n,,n=user,r=abc,x"), .malformed))
    fixtures.append(InvalidInput("extension name not ALPHA", bytes("n,,n=user,r=abc,1=x"), .malformed))
    fixtures.append(InvalidInput("extension with empty value", bytes("n,,n=user,r=abc,x="), .malformed))
    fixtures.append(
        InvalidInput(
            "username over 255 octets", bytes("n,,n=" + String(repeating: "u", count: 256) + ",r=abc"), .tooLong))
    fixtures.append(
        InvalidInput("channel binding required", bytes("p=tls-server-end-point,,n=user,r=abc"), .unsupported))
    fixtures.append(
        InvalidInput("channel binding tls-unique", bytes("p=tls-unique,a=admin,n=user,r=abc"), .unsupported))
    fixtures.append(InvalidInput("mandatory extension", bytes("n,,m=foo,n=user,r=abc"), .unsupported))
    return fixtures
}()

/// RFC 5802 §5.1: '=' in a saslname must be followed by "2C" or "3D".
let scramBadUsernameEscapes: [String] = [
    "n,,n=a=2Xb,r=abc", "n,,n=a=,r=abc", "n,,n=a=2c,r=abc", "n,,n=a=3d,r=abc", "n,,n=a=3,r=abc", "n,,n==,r=abc",
    "n,,n=a==2C,r=abc", "n,,n=a=20b,r=abc",
]

/// RFC 5802 §7: client-final-message = channel-binding "," nonce ["," extensions] "," proof.
let scramInvalidClientFinalMessages: [InvalidInput] = {
    let nonce = RFC7677Example.combinedNonce
    let proof = RFC7677Example.proof
    var fixtures: [InvalidInput] = []
    fixtures.append(InvalidInput("empty", [], .malformed))
    fixtures.append(InvalidInput("no proof", bytes("c=biws,r=\(nonce)"), .malformed))
    fixtures.append(InvalidInput("no nonce", bytes("c=biws,p=\(proof)"), .malformed))
    fixtures.append(InvalidInput("nonce before channel binding", bytes("r=\(nonce),c=biws,p=\(proof)"), .malformed))
    fixtures.append(InvalidInput("proof not last", bytes("c=biws,r=\(nonce),p=\(proof),x=1"), .malformed))
    fixtures.append(InvalidInput("trailing comma", bytes("c=biws,r=\(nonce),p=\(proof),"), .malformed))
    fixtures.append(InvalidInput("empty proof", bytes("c=biws,r=\(nonce),p="), .malformed))
    fixtures.append(InvalidInput("short proof", bytes("c=biws,r=\(nonce),p=AAAA"), .malformed))
    fixtures.append(
        InvalidInput(
            "proof not base64", bytes("c=biws,r=\(nonce),p=dHzb*apWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="), .malformed))
    fixtures.append(InvalidInput("proof with three pad characters", bytes("c=biws,r=\(nonce),p=AAAAA==="), .malformed))
    fixtures.append(InvalidInput("proof with NUL", bytes("c=biws,r=\(nonce),p=\(proof)\0"), .malformed))
    fixtures.append(InvalidInput("channel binding not base64", bytes("c=bi*s,r=\(nonce),p=\(proof)"), .malformed))
    fixtures.append(InvalidInput("channel binding cut short", bytes("c=biw,r=\(nonce),p=\(proof)"), .malformed))
    fixtures.append(
        InvalidInput("attribute names are case-sensitive", bytes("C=biws,r=\(nonce),p=\(proof)"), .malformed))
    fixtures.append(InvalidInput("empty nonce", bytes("c=biws,r=,p=\(proof)"), .malformed))
    fixtures.append(InvalidInput("extension name not ALPHA", bytes("c=biws,r=\(nonce),1=x,p=\(proof)"), .malformed))
    return fixtures
}()

@Suite struct SASLServerStateMachineSCRAMTests {
    // MARK: - RFC 7677 §3

    @Test func replaysRFC7677Example() throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: .scramSHA256, serverNonce: bytes(RFC7677Example.serverNonce))
        #expect(
            machine.start(initialResponse: bytes(RFC7677Example.clientFirst))
                == .fetchSCRAMCredentials(authenticationID: "user"))
        #expect(machine.scramCredentialsFetched(keys) == .challenge(bytes(RFC7677Example.serverFirst)))
        #expect(
            machine.receive(bytes(RFC7677Example.clientFinal))
                == .success(
                    authorizationID: nil, authenticationID: "user", serverFinal: bytes(RFC7677Example.serverFinal)))
        #expect(machine.isFinished)
    }

    @Test func replaysRFC7677ExampleWithoutInitialResponse() throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: .scramSHA256, serverNonce: bytes(RFC7677Example.serverNonce))
        #expect(machine.start(initialResponse: nil) == .challenge([]))
        #expect(machine.receive(bytes(RFC7677Example.clientFirst)) == .fetchSCRAMCredentials(authenticationID: "user"))
        #expect(machine.scramCredentialsFetched(keys) == .challenge(bytes(RFC7677Example.serverFirst)))
        #expect(
            machine.receive(bytes(RFC7677Example.clientFinal))
                == .success(
                    authorizationID: nil, authenticationID: "user", serverFinal: bytes(RFC7677Example.serverFinal)))
    }

    /// Checks the test client against the RFC, so the tests below that use it are sound.
    @Test func testClientReproducesRFC7677Messages() throws {
        let reply = try SCRAMTestClient.clientFinal(
            password: "pencil", clientFirstBare: RFC7677Example.clientFirstBare,
            serverFirst: bytes(RFC7677Example.serverFirst))
        #expect(reply.message == bytes(RFC7677Example.clientFinal))
        #expect(reply.expectedServerFinal == bytes(RFC7677Example.serverFinal))
    }

    // MARK: - Failed proofs

    @Test func wrongPasswordFails() throws {
        let keys = try RFC7677Example.keys(password: "pencil2")
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        #expect(machine.receive(bytes(RFC7677Example.clientFinal)) == failure(.authenticationFailed))
        #expect(machine.isFinished)
    }

    @Test func wrongProofFails() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        let zeroProof = Data(repeating: 0, count: 32).base64EncodedString()
        let message = "c=biws,r=\(RFC7677Example.combinedNonce),p=\(zeroProof)"
        #expect(machine.receive(bytes(message)) == failure(.authenticationFailed))
    }

    @Test func proofWithOneBitFlippedFails() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        var proof = try #require(Data(base64Encoded: RFC7677Example.proof))
        proof[0] ^= 0x01
        let message = "c=biws,r=\(RFC7677Example.combinedNonce),p=\(proof.base64EncodedString())"
        #expect(machine.receive(bytes(message)) == failure(.authenticationFailed))
    }

    // RFC 5802 §5.1 `r`: the client must echo the combined nonce exactly.
    @Test(arguments: [
        "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1",
        "rOprNGfwEbeRWgbNEkqO",
        "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0x",
        "xOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    ])
    func wrongNonceFails(nonce: String) throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        let message = "c=biws,r=\(nonce),p=\(RFC7677Example.proof)"
        #expect(machine.receive(bytes(message)) == failure(.authenticationFailed))
    }

    // RFC 5802 §5.1 `c`: the base64 of the gs2-header the client sent ("n,," is "biws").
    @Test(arguments: ["eSws", "bixhPXVzZXIs", ""])
    func channelBindingMismatchFails(channelBinding: String) throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        let message = "c=\(channelBinding),r=\(RFC7677Example.combinedNonce),p=\(RFC7677Example.proof)"
        #expect(machine.receive(bytes(message)) == failure(.authenticationFailed))
    }

    // MARK: - GS2 header and extensions

    // RFC 5802 §6: "y" is fine when we offer no -PLUS mechanism, but must be echoed as "y".
    @Test func acceptsYFlagEchoedInChannelBinding() throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(
            machine.start(initialResponse: bytes("y,,n=user,r=abc")) == .fetchSCRAMCredentials(authenticationID: "user")
        )
        guard case .challenge(let serverFirst) = machine.scramCredentialsFetched(keys) else {
            Issue.record("expected a server-first-message")
            return
        }
        let reply = try SCRAMTestClient.clientFinal(
            password: "pencil", clientFirstBare: "n=user,r=abc", serverFirst: serverFirst, channelBinding: "eSws")
        #expect(
            machine.receive(reply.message)
                == .success(authorizationID: nil, authenticationID: "user", serverFinal: reply.expectedServerFinal))
    }

    // RFC 5802 §6: a "y" downgraded to "n" in c= (or the reverse) is detected.
    @Test func rejectsYFlagEchoedAsN() throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        _ = machine.start(initialResponse: bytes("y,,n=user,r=abc"))
        guard case .challenge(let serverFirst) = machine.scramCredentialsFetched(keys) else {
            Issue.record("expected a server-first-message")
            return
        }
        let reply = try SCRAMTestClient.clientFinal(
            password: "pencil", clientFirstBare: "n=user,r=abc", serverFirst: serverFirst, channelBinding: "biws")
        #expect(machine.receive(reply.message) == failure(.authenticationFailed))
    }

    @Test func reportsAuthorizationIdentityAndIgnoresExtensions() throws {
        let keys = try RFC7677Example.keys()
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        let gs2Header = "n,a=ad=2Cmin,"
        #expect(
            machine.start(initialResponse: bytes(gs2Header + "n=user,r=abc,x=some=value"))
                == .fetchSCRAMCredentials(authenticationID: "user"))
        guard case .challenge(let serverFirst) = machine.scramCredentialsFetched(keys) else {
            Issue.record("expected a server-first-message")
            return
        }
        let reply = try SCRAMTestClient.clientFinal(
            password: "pencil", clientFirstBare: "n=user,r=abc,x=some=value", serverFirst: serverFirst,
            channelBinding: Data(bytes(gs2Header)).base64EncodedString(), extensions: ",y=extension")
        #expect(
            machine.receive(reply.message)
                == .success(authorizationID: "ad,min", authenticationID: "user", serverFinal: reply.expectedServerFinal)
        )
    }

    @Test func serverNonceIsRandomPrintableAndAppendedToClientNonce() throws {
        let keys = try RFC7677Example.keys()
        var nonces: Set<String> = []
        for _ in 0..<8 {
            var machine = SASLServerStateMachine(mechanism: .scramSHA256)
            _ = machine.start(initialResponse: bytes("n,,n=user,r=abc"))
            guard case .challenge(let serverFirst) = machine.scramCredentialsFetched(keys) else {
                Issue.record("expected a server-first-message")
                return
            }
            let nonce = try #require(SCRAMTestClient.attributes(serverFirst)["r"])
            #expect(nonce.hasPrefix("abc"))
            #expect(nonce.utf8.count == 3 + 32)
            #expect(nonce.utf8.allSatisfy { (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ",") })
            nonces.insert(nonce)
        }
        #expect(nonces.count == 8)
    }

    // MARK: - User names

    @Test func decodesEscapedCommaAndEqualsInUsername() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(
            machine.start(initialResponse: bytes("n,,n=a=2Cb=3Dc=3D=2C,r=abc"))
                == .fetchSCRAMCredentials(authenticationID: "a,b=c=,"))
    }

    @Test func acceptsUTF8Username() {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(
            machine.start(initialResponse: bytes("n,,n=ユーザー@例え.テスト,r=abc"))
                == .fetchSCRAMCredentials(authenticationID: "ユーザー@例え.テスト"))
    }

    @Test(arguments: scramBadUsernameEscapes)
    func rejectsBadEscapeInUsername(message: String) {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(machine.start(initialResponse: bytes(message)) == failure(.malformed))
    }

    // MARK: - Unknown users

    /// The server-first-message for `username` when the directory has no keys.
    static func serverFirstForUnknownUser(_ username: String, keys: SCRAMServerKeys? = nil) -> [UInt8]? {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256, serverNonce: bytes("fixednonce"))
        guard
            machine.start(initialResponse: bytes("n,,n=\(username),r=abc"))
                == .fetchSCRAMCredentials(authenticationID: username),
            case .challenge(let serverFirst) = machine.scramCredentialsFetched(keys)
        else { return nil }
        return serverFirst
    }

    @Test func unknownUserSeesStableFakeSaltShapedLikeARealOne() throws {
        let first = try #require(Self.serverFirstForUnknownUser("nobody"))
        let second = try #require(Self.serverFirstForUnknownUser("nobody"))
        let other = try #require(Self.serverFirstForUnknownUser("somebody"))
        #expect(first == second)
        #expect(first != other)
        let attributes = SCRAMTestClient.attributes(first)
        #expect(attributes["r"] == "abcfixednonce")
        #expect(attributes["i"] == "4096")
        let salt = try #require(attributes["s"].flatMap { Data(base64Encoded: $0) })
        #expect(salt.count == 16)
    }

    @Test func unusableKeysLookLikeAnUnknownUser() throws {
        let unknown = try #require(Self.serverFirstForUnknownUser("nobody"))
        let unusable = [
            SCRAMServerKeys(
                iterations: 0, salt: [1], storedKey: [UInt8](repeating: 1, count: 32),
                serverKey: [UInt8](repeating: 1, count: 32)),
            SCRAMServerKeys(
                iterations: 4096, salt: [], storedKey: [UInt8](repeating: 1, count: 32),
                serverKey: [UInt8](repeating: 1, count: 32)),
            SCRAMServerKeys(iterations: 4096, salt: [1], storedKey: [1], serverKey: [UInt8](repeating: 1, count: 32)),
            SCRAMServerKeys(iterations: 4096, salt: [1], storedKey: [UInt8](repeating: 1, count: 32), serverKey: []),
        ]
        for keys in unusable {
            #expect(Self.serverFirstForUnknownUser("nobody", keys: keys) == unknown)
        }
    }

    @Test func unknownUserFailsOnlyAtTheEnd() throws {
        var machine = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(
            machine.start(initialResponse: bytes("n,,n=nobody,r=abc"))
                == .fetchSCRAMCredentials(authenticationID: "nobody"))
        guard case .challenge(let serverFirst) = machine.scramCredentialsFetched(nil) else {
            Issue.record("expected a server-first-message")
            return
        }
        let reply = try SCRAMTestClient.clientFinal(
            password: "pencil", clientFirstBare: "n=nobody,r=abc", serverFirst: serverFirst)
        #expect(machine.receive(reply.message) == failure(.authenticationFailed))
        #expect(machine.isFinished)
    }

    // MARK: - Malformed messages

    @Test(arguments: scramInvalidClientFirstMessages)
    func rejectsInvalidClientFirstMessage(_ fixture: InvalidInput) {
        var initial = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(initial.start(initialResponse: fixture.input) == failure(fixture.kind))
        var afterChallenge = SASLServerStateMachine(mechanism: .scramSHA256)
        #expect(afterChallenge.start(initialResponse: nil) == .challenge([]))
        #expect(afterChallenge.receive(fixture.input) == failure(fixture.kind))
        #expect(afterChallenge.isFinished)
    }

    @Test(arguments: scramInvalidClientFinalMessages)
    func rejectsInvalidClientFinalMessage(_ fixture: InvalidInput) throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        #expect(machine.receive(fixture.input) == failure(fixture.kind))
        #expect(machine.isFinished)
    }

    @Test func cancelWhileAwaitingClientFinal() throws {
        let keys = try RFC7677Example.keys()
        var machine = RFC7677Example.machineAwaitingClientFinal(keys: keys)
        #expect(machine.cancel() == failure(.cancelled))
        #expect(machine.receive(bytes(RFC7677Example.clientFinal)) == failure(.wrongState))
    }
}
