/// A Dovecot password scheme name such as `SHA512-CRYPT` or `SSHA256.HEX`.
///
/// The optional `.HEX`/`.B64` suffix selects how the digest of the plain digest
/// schemes is written; the default is Base64, as in Dovecot.
public struct PasswordScheme: Sendable, Hashable {
    public enum Algorithm: String, Sendable, CaseIterable {
        case argon2id = "ARGON2ID"
        case argon2i = "ARGON2I"
        case blowfishCrypt = "BLF-CRYPT"
        case sha512Crypt = "SHA512-CRYPT"
        case sha256Crypt = "SHA256-CRYPT"
        case md5Crypt = "MD5-CRYPT"
        case desCrypt = "DES-CRYPT"
        /// Whatever crypt(3) recognises from the setting's `$id$` prefix.
        case crypt = "CRYPT"
        case ssha512 = "SSHA512"
        case ssha256 = "SSHA256"
        case ssha1 = "SSHA"
        case sha512 = "SHA512"
        case sha256 = "SHA256"
        case sha1 = "SHA"
        case scramSHA256 = "SCRAM-SHA-256"
        case smd5 = "SMD5"
        case ldapMD5 = "LDAP-MD5"
        case plainMD5 = "PLAIN-MD5"
        case plain = "PLAIN"
    }

    public enum Encoding: Sendable, Hashable {
        case base64
        case hex
    }

    public let algorithm: Algorithm
    public let encoding: Encoding
    /// The name carried a `.HEX`/`.B64` suffix (PLAIN and PLAIN-MD5 change meaning with it).
    public let isEncodingExplicit: Bool

    public init(algorithm: Algorithm, encoding: Encoding = .base64, isEncodingExplicit: Bool = false) {
        self.algorithm = algorithm
        self.encoding = encoding
        self.isEncodingExplicit = isEncodingExplicit
    }

    /// Reads a scheme name, case-insensitively, with Dovecot's aliases
    /// (`CLEAR`/`CLEARTEXT` = `PLAIN`, `SHA1` = `SHA`, `BLF-CRYPT` and `CRYPT`).
    public init?(name: String) {
        var base = name.uppercased()
        var encoding = Encoding.base64
        var isExplicit = true
        if base.hasSuffix(".HEX") {
            encoding = .hex
            base.removeLast(4)
        } else if base.hasSuffix(".B64") {
            base.removeLast(4)
        } else if base.hasSuffix(".BASE64") {
            base.removeLast(7)
        } else {
            isExplicit = false
        }
        // Dovecot's names for the same algorithms ("MD5" is MD5-CRYPT in Dovecot).
        let aliases: [String: Algorithm] = [
            "CLEAR": .plain, "CLEARTEXT": .plain, "SHA1": .sha1, "SSHA1": .ssha1, "MD5": .md5Crypt,
        ]
        guard let algorithm = Algorithm(rawValue: base) ?? aliases[base] else { return nil }
        self.init(algorithm: algorithm, encoding: encoding, isEncodingExplicit: isExplicit)
    }

    /// The canonical name, as written into new `{SCHEME}` strings.
    public var name: String {
        switch (encoding, isEncodingExplicit) {
        case (.hex, _): return algorithm.rawValue + ".HEX"
        case (.base64, true): return algorithm.rawValue + ".B64"
        case (.base64, false): return algorithm.rawValue
        }
    }
}
