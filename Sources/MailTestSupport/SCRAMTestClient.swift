public import Crypto
import Foundation
public import SASL

/// The client side of SCRAM-SHA-256, written out from RFC 5802 §3 so that the test does
/// not share code with the server.
public struct SCRAMTestClient: Sendable {
    public let username: String
    public let password: String
    public let nonce: String
    /// `gs2-header`: "n,," or "n,a=authzid,".
    public var gs2Header = "n,,"

    public init(username: String, password: String, nonce: String, gs2Header: String = "n,,") {
        self.username = username
        self.password = password
        self.nonce = nonce
        self.gs2Header = gs2Header
    }

    public var clientFirstBare: String { "n=\(username),r=\(nonce)" }
    public var clientFirst: String { gs2Header + clientFirstBare }

    /// Hi(password, salt, i): PBKDF2 with HMAC-SHA-256, one 32-octet block (RFC 5802 §2.2).
    public static func saltedPassword(_ password: String, salt: [UInt8], iterations: Int) -> [UInt8] {
        let key = SymmetricKey(data: Array(password.utf8))
        var block = Array(HMAC<SHA256>.authenticationCode(for: salt + [0, 0, 0, 1], using: key))
        var result = block
        for _ in stride(from: 1, to: iterations, by: 1) {
            block = Array(HMAC<SHA256>.authenticationCode(for: block, using: key))
            for index in result.indices { result[index] ^= block[index] }
        }
        return result
    }

    public static func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
    }

    /// The keys a server stores for `password` (RFC 5802 §3).
    public static func serverKeys(password: String, salt: [UInt8], iterations: Int) -> SCRAMServerKeys {
        let salted = saltedPassword(password, salt: salt, iterations: iterations)
        let clientKey = hmac(salted, "Client Key")
        return SCRAMServerKeys(
            iterations: iterations, salt: salt, storedKey: Array(SHA256.hash(data: clientKey)),
            serverKey: hmac(salted, "Server Key"))
    }

    /// The client-final-message for `serverFirst`, and the server-final-message a server
    /// that knows the password must answer; nil when `serverFirst` is malformed.
    public func clientFinal(serverFirst: String) -> (message: String, serverFinal: String)? {
        var attributes: [String: String] = [:]
        for field in serverFirst.split(separator: ",") {
            guard let equals = field.firstIndex(of: "=") else { return nil }
            attributes[String(field[..<equals])] = String(field[field.index(after: equals)...])
        }
        guard let combinedNonce = attributes["r"], combinedNonce.hasPrefix(nonce),
            let saltText = attributes["s"], let salt = Data(base64Encoded: saltText),
            let iterationText = attributes["i"], let iterations = Int(iterationText), iterations > 0
        else { return nil }
        let salted = Self.saltedPassword(password, salt: Array(salt), iterations: iterations)
        let clientKey = Self.hmac(salted, "Client Key")
        let storedKey = Array(SHA256.hash(data: clientKey))
        let withoutProof = "c=\(Data(gs2Header.utf8).base64EncodedString()),r=\(combinedNonce)"
        let authMessage = clientFirstBare + "," + serverFirst + "," + withoutProof
        let clientSignature = Self.hmac(storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverSignature = Self.hmac(Self.hmac(salted, "Server Key"), authMessage)
        return (
            withoutProof + ",p=" + Data(proof).base64EncodedString(),
            "v=" + Data(serverSignature).base64EncodedString()
        )
    }
}
