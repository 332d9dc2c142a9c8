import Crypto

/// What the server keeps about a user to run SCRAM-SHA-256 without the password: the
/// iteration count, the salt, `StoredKey` and `ServerKey`.
///
///     SaltedPassword  := Hi(Normalize(password), salt, i)
///     ClientKey       := HMAC(SaltedPassword, "Client Key")
///     StoredKey       := H(ClientKey)
///     ServerKey       := HMAC(SaltedPassword, "Server Key")
///
/// SASL does not import Directory; the protocol layer copies the fields of Directory's
/// `SCRAMCredentials` (Dovecot's `{SCRAM-SHA-256}iter,salt,StoredKey,ServerKey`) into
/// this type. Keys that cannot be used — an iteration count below 1, an empty salt, or
/// keys that are not 32 octets — are treated like an unknown user: the exchange goes on
/// with a fake salt and fails at the end.
///
/// `description` and the mirror never show the salt or the keys: a stolen `StoredKey`
/// and `ServerKey` let an attacker impersonate the server and mount an offline attack
/// on the password.
///
/// - SeeAlso: RFC 5802 §3, RFC 7677 §3
public struct SCRAMServerKeys: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// `i`: PBKDF2 iterations (RFC 7677 §4: at least 4096).
    public let iterations: Int
    public let salt: [UInt8]
    /// `H(ClientKey)`, 32 octets.
    public let storedKey: [UInt8]
    /// `HMAC(SaltedPassword, "Server Key")`, 32 octets.
    public let serverKey: [UInt8]

    public init(iterations: Int, salt: [UInt8], storedKey: [UInt8], serverKey: [UInt8]) {
        self.iterations = iterations
        self.salt = salt
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// Whether these keys can run an exchange (see the type's documentation).
    var isUsable: Bool {
        iterations >= 1 && !salt.isEmpty && storedKey.count == SHA256.byteCount
            && serverKey.count == SHA256.byteCount
    }

    public var description: String { "SCRAMServerKeys(iterations: \(iterations), <redacted>)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
