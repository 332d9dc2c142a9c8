import Foundation
import Crypto
import _CryptoExtras

/// What a server keeps to run SCRAM-SHA-256 without the plain password: the
/// iteration count, the salt, `StoredKey` and `ServerKey`.
///
///     SaltedPassword := Hi(Normalize(password), salt, i)
///     ClientKey      := HMAC(SaltedPassword, "Client Key")
///     StoredKey      := H(ClientKey)
///     ServerKey      := HMAC(SaltedPassword, "Server Key")
///
/// Stored the way Dovecot stores it: `{SCRAM-SHA-256}iter,salt,StoredKey,ServerKey`
/// with Base64 fields.
///
/// - SeeAlso: RFC 5802 §3, RFC 7677
public struct SCRAMCredentials: Sendable, Hashable {
    /// RFC 7677 §4: at least 4096 iterations; Dovecot's default.
    public static let defaultIterations = 4096
    /// Refuse absurd iteration counts from a stored string (each costs one HMAC).
    public static let maximumIterations = 10_000_000

    public let iterations: Int
    public let salt: [UInt8]
    public let storedKey: [UInt8]
    public let serverKey: [UInt8]

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    public init(dovecotEncoded text: String) throws(PasswordHashError) {
        let fields = text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard fields.count == 4, let iterations = Int(fields[0]),
            iterations >= 1, iterations <= Self.maximumIterations,
            let salt = Data(base64Encoded: fields[1]), let stored = Data(base64Encoded: fields[2]),
            let server = Data(base64Encoded: fields[3]),
            stored.count == SHA256.byteCount, server.count == SHA256.byteCount
        else { throw PasswordHashError(.malformed) }
        self.init(iterations: iterations, salt: Array(salt), storedKey: Array(stored), serverKey: Array(server))
    }

    public var dovecotEncoded: String {
        [
            String(iterations), Data(salt).base64EncodedString(), Data(storedKey).base64EncodedString(),
            Data(serverKey).base64EncodedString(),
        ].joined(separator: ",")
    }

    /// Derives the keys for `password` with a fresh 16-byte salt.
    public static func make(password: [UInt8], iterations: Int = defaultIterations) -> SCRAMCredentials {
        var salt = [UInt8](repeating: 0, count: 16)
        fillRandom(&salt)
        let keys = derive(password: password, salt: salt, iterations: iterations)
        return SCRAMCredentials(iterations: iterations, salt: salt, storedKey: keys.stored, serverKey: keys.server)
    }

    /// Checks a plain password (for PLAIN/LOGIN against a SCRAM-only stored hash).
    public func verify(password: [UInt8]) -> Bool {
        let keys = Self.derive(password: password, salt: salt, iterations: iterations)
        return constantTimeEquals(keys.stored, storedKey)
    }

    static func derive(password: [UInt8], salt: [UInt8], iterations: Int) -> (stored: [UInt8], server: [UInt8]) {
        // PBKDF2 with HMAC-SHA-256 is SCRAM's Hi() (RFC 5802 §2.2).
        guard
            let salted = try? KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: .sha256, outputByteCount: SHA256.byteCount,
                unsafeUncheckedRounds: iterations)
        else { return ([], []) }
        let clientKey = Data(HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted))
        let serverKey = Data(HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted))
        return (Array(SHA256.hash(data: clientKey)), Array(serverKey))
    }
}
