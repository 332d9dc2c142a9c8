import CArgon2
import CCrypt
import Foundation
import Crypto
import _CryptoExtras

/// A stored credential in Dovecot's `{SCHEME}data` form, e.g.
/// `{SHA512-CRYPT}$6$salt$hash` or `{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$…`.
///
/// Existing Dovecot user databases move over unchanged for the schemes in
/// `PasswordScheme.Algorithm`: the crypt(3) family, Argon2, the salted and plain SHA and
/// MD5 digests, SCRAM-SHA-256 and PLAIN (with `.HEX`/`.B64`). Not read: the
/// challenge-response-only schemes (CRAM-MD5, DIGEST-MD5, OTP), PLAIN-MD4,
/// PLAIN-TRUNC, SCRAM-SHA-1 and PBKDF2 — convert those with `doveadm pw` before
/// moving, or let users reset their passwords. A hash without a `{SCHEME}`
/// prefix that starts with `$` is read as `CRYPT`, like Dovecot with
/// `default_pass_scheme = CRYPT`.
///
/// - SeeAlso: Dovecot documentation, "Password Schemes"
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// Longer passwords are refused before hashing (Argon2 and crypt(3) cost grows with
    /// length; RFC 4616 allows 255 octets for PLAIN's passwd).
    public static let maximumPasswordLength = 1024

    public let scheme: PasswordScheme
    /// The part after `{SCHEME}`; for salted schemes this includes the salt.
    public let encoded: String

    public init(scheme: PasswordScheme, encoded: String) {
        self.scheme = scheme
        self.encoded = encoded
    }

    /// Parses a stored `{SCHEME}data` string. Throws for an unknown or unusable scheme.
    public init(parsing text: String) throws(PasswordHashError) {
        if text.hasPrefix("{"), let close = text.firstIndex(of: "}") {
            let name = String(text[text.index(after: text.startIndex)..<close])
            guard let scheme = PasswordScheme(name: name) else { throw PasswordHashError(.unknownScheme(name)) }
            self.init(scheme: scheme, encoded: String(text[text.index(after: close)...]))
        } else if text.hasPrefix("$") {
            self.init(scheme: PasswordScheme(algorithm: .crypt), encoded: text)
        } else {
            throw PasswordHashError(.missingScheme)
        }
    }

    /// The stored form, `{SCHEME}data`.
    public var stored: String { "{\(scheme.name)}\(encoded)" }

    /// Never prints the hash itself: hashes are secrets too (offline cracking).
    public var description: String { "{\(scheme.name)}<redacted>" }

    /// `verify` on a Dispatch worker: Argon2 and bcrypt take tens of milliseconds of
    /// CPU, which must stay off both the event loops and the cooperative pool.
    public func verifyOffThread(_ password: String) async -> Bool {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: self.verify(password))
            }
        }
    }

    /// Whether `password` matches. Slow schemes (Argon2, bcrypt) take tens of
    /// milliseconds: call this off any event loop.
    public func verify(_ password: String) -> Bool {
        let bytes = Array(password.utf8)
        // No mechanism can carry a NUL in a password, and crypt(3) would stop at it
        // ("secret\0junk" must not match the hash of "secret").
        guard bytes.count <= Self.maximumPasswordLength, !bytes.contains(0) else { return false }
        switch scheme.algorithm {
        case .plain:
            guard scheme.isEncodingExplicit else { return constantTimeEquals(Array(encoded.utf8), bytes) }
            guard let stored = decodeDigest() else { return false }
            return constantTimeEquals(stored, bytes)
        case .plainMD5:
            // Dovecot writes PLAIN-MD5 as hex unless told otherwise.
            let stored = scheme.isEncodingExplicit ? decodeDigest() : Self.decodeHex(encoded)
            guard let stored else { return false }
            return constantTimeEquals(Array(Insecure.MD5.hash(data: bytes)), stored)
        case .ldapMD5:
            guard let stored = decodeDigest() else { return false }
            return constantTimeEquals(Array(Insecure.MD5.hash(data: bytes)), stored)
        case .smd5:
            guard let stored = decodeDigest(), stored.count > Insecure.MD5.byteCount else { return false }
            let salt = Array(stored[Insecure.MD5.byteCount...])
            return constantTimeEquals(
                Array(Insecure.MD5.hash(data: bytes + salt)), Array(stored[..<Insecure.MD5.byteCount]))
        case .crypt, .sha512Crypt, .sha256Crypt, .md5Crypt, .blowfishCrypt, .desCrypt:
            guard let computed = Self.crypt(password, setting: encoded) else { return false }
            return constantTimeEquals(Array(computed.utf8), Array(encoded.utf8))
        case .argon2i, .argon2id:
            return Self.argon2Verify(password: bytes, encoded: encoded, algorithm: scheme.algorithm)
        case .sha1, .sha256, .sha512:
            guard let stored = decodeDigest() else { return false }
            return constantTimeEquals(Self.digest(scheme.algorithm, bytes), stored)
        case .ssha1, .ssha256, .ssha512:
            let length = Self.digestLength(scheme.algorithm)
            guard let stored = decodeDigest(), stored.count > length else { return false }
            let salt = Array(stored[length...])
            return constantTimeEquals(Self.digest(scheme.algorithm, bytes + salt), Array(stored[..<length]))
        case .scramSHA256:
            guard let keys = try? SCRAMCredentials(dovecotEncoded: encoded) else { return false }
            return keys.verify(password: bytes)
        }
    }

    /// The SCRAM-SHA-256 keys when this hash carries them (only `{SCRAM-SHA-256}`
    /// does: SCRAM needs the salted password, which no other scheme keeps).
    public var scramCredentials: SCRAMCredentials? {
        guard scheme.algorithm == .scramSHA256 else { return nil }
        return try? SCRAMCredentials(dovecotEncoded: encoded)
    }

    // MARK: - Making new hashes

    /// Hashes `password` with `algorithm` and a fresh random salt.
    ///
    /// Parameters match `doveadm pw`'s: ARGON2ID m=65536 KiB, t=3, p=1; BLF-CRYPT cost 5
    /// is Dovecot's old default and too cheap today, so 10 is used; SHA*-CRYPT 5000 rounds.
    public static func make(
        _ password: String,
        algorithm: PasswordScheme.Algorithm = .argon2id
    ) throws(PasswordHashError) -> PasswordHash {
        let bytes = Array(password.utf8)
        guard bytes.count <= maximumPasswordLength else { throw PasswordHashError(.passwordTooLong) }
        let scheme = PasswordScheme(algorithm: algorithm)
        switch algorithm {
        case .plain:
            return PasswordHash(scheme: scheme, encoded: password)
        case .plainMD5:
            let digest = Insecure.MD5.hash(data: bytes)
            return PasswordHash(scheme: scheme, encoded: digest.map { String(format: "%02x", $0) }.joined())
        case .ldapMD5:
            return PasswordHash(scheme: scheme, encoded: Data(Insecure.MD5.hash(data: bytes)).base64EncodedString())
        case .smd5:
            var salt = [UInt8](repeating: 0, count: 8)
            fillRandom(&salt)
            let digest = Array(Insecure.MD5.hash(data: bytes + salt))
            return PasswordHash(scheme: scheme, encoded: Data(digest + salt).base64EncodedString())
        case .argon2id, .argon2i:
            return PasswordHash(scheme: scheme, encoded: try argon2Hash(password: bytes, algorithm: algorithm))
        case .sha512Crypt, .sha256Crypt, .blowfishCrypt, .md5Crypt, .crypt, .desCrypt:
            let prefix: String
            var cost: UInt = 0
            switch algorithm {
            case .sha512Crypt, .crypt: prefix = "$6$"
            case .sha256Crypt: prefix = "$5$"
            case .md5Crypt: prefix = "$1$"
            case .desCrypt: prefix = ""
            default:
                prefix = "$2y$"
                cost = 10
            }
            guard let setting = cryptSetting(prefix: prefix, cost: cost),
                let hashed = crypt(password, setting: setting)
            else { throw PasswordHashError(.hashingFailed) }
            return PasswordHash(scheme: scheme, encoded: hashed)
        case .ssha1, .ssha256, .ssha512:
            var salt = [UInt8](repeating: 0, count: 16)
            fillRandom(&salt)
            let digest = Self.digest(algorithm, bytes + salt)
            return PasswordHash(scheme: scheme, encoded: Data(digest + salt).base64EncodedString())
        case .sha1, .sha256, .sha512:
            return PasswordHash(scheme: scheme, encoded: Data(Self.digest(algorithm, bytes)).base64EncodedString())
        case .scramSHA256:
            return PasswordHash(scheme: scheme, encoded: SCRAMCredentials.make(password: bytes).dovecotEncoded)
        }
    }

    // MARK: - Private

    private func decodeDigest() -> [UInt8]? {
        switch scheme.encoding {
        case .hex: return Self.decodeHex(encoded)
        case .base64:
            guard let data = Data(base64Encoded: encoded) else { return nil }
            return Array(data)
        }
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var index = 0
        while index < bytes.count {
            guard let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    static func digestLength(_ algorithm: PasswordScheme.Algorithm) -> Int {
        switch algorithm {
        case .sha1, .ssha1: return Insecure.SHA1.byteCount
        case .sha256, .ssha256: return SHA256.byteCount
        default: return SHA512.byteCount
        }
    }

    static func digest(_ algorithm: PasswordScheme.Algorithm, _ bytes: [UInt8]) -> [UInt8] {
        switch algorithm {
        case .sha1, .ssha1: return Array(Insecure.SHA1.hash(data: bytes))
        case .sha256, .ssha256: return Array(SHA256.hash(data: bytes))
        default: return Array(SHA512.hash(data: bytes))
        }
    }

    /// crypt(3) through libxcrypt's `crypt_ra`; `nil` when the setting is invalid or
    /// the method is disabled (libxcrypt returns a string starting with `*`).
    static func crypt(_ password: String, setting: String) -> String? {
        var data: UnsafeMutableRawPointer? = nil
        var size: Int32 = 0
        defer { free(data) }
        guard let result = crypt_ra(password, setting, &data, &size) else { return nil }
        let output = String(cString: result)
        return output.hasPrefix("*") ? nil : output
    }

    private static func cryptSetting(prefix: String, cost: UInt) -> String? {
        // crypt_gensalt_ra reads its own randomness (getrandom) when rbytes is NULL.
        // An empty prefix asks for traditional DES; nil would pick libxcrypt's default (yescrypt).
        guard let setting = crypt_gensalt_ra(prefix, cost, nil, 0) else { return nil }
        defer { free(setting) }
        return String(cString: setting)
    }

    private static func argon2Verify(password: [UInt8], encoded: String, algorithm: PasswordScheme.Algorithm) -> Bool {
        let type: argon2_type = algorithm == .argon2i ? Argon2_i : Argon2_id
        let result = password.withUnsafeBytes { raw in
            argon2_verify(encoded, raw.baseAddress, raw.count, type)
        }
        return result == ARGON2_OK.rawValue
    }

    private static func argon2Hash(password: [UInt8], algorithm: PasswordScheme.Algorithm) throws(PasswordHashError) -> String {
        let (timeCost, memoryCost): (UInt32, UInt32) = algorithm == .argon2i ? (4, 32768) : (3, 65536)
        var salt = [UInt8](repeating: 0, count: 16)
        fillRandom(&salt)
        let type: argon2_type = algorithm == .argon2i ? Argon2_i : Argon2_id
        let length = argon2_encodedlen(timeCost, memoryCost, 1, UInt32(salt.count), 32, type)
        var output = [CChar](repeating: 0, count: length)
        let result = password.withUnsafeBytes { raw in
            argon2_hash(
                timeCost, memoryCost, 1, raw.baseAddress, raw.count, salt, salt.count, nil, 32,
                &output, output.count, type, UInt32(ARGON2_VERSION_13.rawValue))
        }
        guard result == ARGON2_OK.rawValue else { throw PasswordHashError(.hashingFailed) }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

func fillRandom(_ bytes: inout [UInt8]) {
    var generator = SystemRandomNumberGenerator()
    for index in bytes.indices { bytes[index] = generator.next() }
}

/// Compares two byte strings in time that depends only on their lengths.
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

/// Why a stored hash could not be read or made. Never carries the password.
public struct PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case unknownScheme(String)
        case missingScheme
        case malformed
        case passwordTooLong
        case hashingFailed
    }

    public let kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
        switch kind {
        case .unknownScheme(let name): return "unknown password scheme {\(name)}"
        case .missingScheme: return "password hash has no {SCHEME} prefix"
        case .malformed: return "malformed password hash"
        case .passwordTooLong: return "password longer than \(PasswordHash.maximumPasswordLength) octets"
        case .hashingFailed: return "the hashing library refused the parameters"
        }
    }
}
