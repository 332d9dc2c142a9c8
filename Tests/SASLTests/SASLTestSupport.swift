import MailTestSupport
import Crypto
import Foundation
import Testing
import _CryptoExtras

@testable import SASL

typealias Action = SASLServerStateMachine.Action

/// The UTF-8 bytes of `text`.
func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// `.failure` of the given kind (`SASLError` equality compares the kind only).
func failure(_ kind: SASLError.Kind) -> Action { .failure(SASLError(kind)) }

struct TestSetupError: Error {}

/// The client side of SCRAM-SHA-256 (RFC 5802 §3), to derive keys and build proofs.
enum SCRAMTestClient {
    /// SaltedPassword := Hi(password, salt, i) — PBKDF2-HMAC-SHA-256.
    static func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) throws -> SymmetricKey {
        try KDF.Insecure.PBKDF2.deriveKey(
            from: bytes(password), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
    }

    /// StoredKey and ServerKey as a server stores them.
    static func serverKeys(password: String, salt: [UInt8], iterations: Int) throws -> SCRAMServerKeys {
        let salted = try saltedPassword(password, salt: salt, iterations: iterations)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: bytes("Client Key"), using: salted))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: bytes("Server Key"), using: salted))
        return SCRAMServerKeys(iterations: iterations, salt: salt, storedKey: storedKey, serverKey: serverKey)
    }

    /// The attributes of a SCRAM message (`r=…,s=…,i=…`) by name.
    static func attributes(_ message: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        for field in String(decoding: message, as: UTF8.self).split(separator: ",") {
            guard let equals = field.firstIndex(of: "=") else { continue }
            result[String(field[..<equals])] = String(field[field.index(after: equals)...])
        }
        return result
    }

    /// The client-final-message a client that knows `password` sends after `serverFirst`,
    /// and the server-final-message it expects back.
    static func clientFinal(
        password: String,
        clientFirstBare: String,
        serverFirst: [UInt8],
        channelBinding: String = "biws",
        extensions: String = ""
    ) throws -> (message: [UInt8], expectedServerFinal: [UInt8]) {
        let fields = Self.attributes(serverFirst)
        guard let nonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
            let iterationText = fields["i"], let iterations = Int(iterationText)
        else { throw TestSetupError() }
        let salted = try saltedPassword(password, salt: Array(salt), iterations: iterations)
        let clientKey = Array(HMAC<SHA256>.authenticationCode(for: bytes("Client Key"), using: salted))
        let storedKey = Array(SHA256.hash(data: clientKey))
        let serverKey = Array(HMAC<SHA256>.authenticationCode(for: bytes("Server Key"), using: salted))
        let withoutProof = "c=\(channelBinding),r=\(nonce)\(extensions)"
        let authMessage = clientFirstBare + "," + String(decoding: serverFirst, as: UTF8.self) + "," + withoutProof
        let clientSignature = Array(
            HMAC<SHA256>.authenticationCode(for: bytes(authMessage), using: SymmetricKey(data: storedKey)))
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverSignature = Array(
            HMAC<SHA256>.authenticationCode(for: bytes(authMessage), using: SymmetricKey(data: serverKey)))
        return (
            bytes(withoutProof + ",p=" + Data(proof).base64EncodedString()),
            bytes("v=" + Data(serverSignature).base64EncodedString())
        )
    }
}


/// An input the state machine must refuse, and the kind of failure it must give.
struct InvalidInput: Sendable, CustomTestStringConvertible {
    let name: String
    let input: [UInt8]
    let kind: SASLError.Kind

    init(_ name: String, _ input: [UInt8], _ kind: SASLError.Kind) {
        self.name = name
        self.input = input
        self.kind = kind
    }

    var testDescription: String { name }
}

/// What `dump` prints for `value` (uses the mirror, not `description`).
func dumped(_ value: Any) -> String {
    var output = ""
    dump(value, to: &output)
    return output
}
