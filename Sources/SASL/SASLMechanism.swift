/// A SASL mechanism the server implements, named as registered with IANA
/// ("SASL Mechanisms" registry) and as it appears in SMTP `AUTH`, IMAP `AUTH=` and
/// POP3 `SASL` capabilities.
///
///     S: 250-AUTH PLAIN LOGIN SCRAM-SHA-256
///     C: AUTH scram-sha-256 biws…          (names match case-insensitively)
///
/// - SeeAlso: RFC 4422 §3.1 (mechanism names), RFC 4616 (PLAIN),
///   draft-murchison-sasl-login-00 (LOGIN), RFC 7677 (SCRAM-SHA-256)
public enum SASLMechanism: String, Sendable, CaseIterable {
    case plain = "PLAIN"
    case login = "LOGIN"
    case scramSHA256 = "SCRAM-SHA-256"

    /// The mechanism a client named, or `nil` when we do not implement it.
    ///
    /// RFC 4422 §3.1: mechanism names are upper-case ASCII; clients send any case, so
    /// the match folds ASCII letters only (no Unicode case mapping, which would let
    /// `"logın"` with a dotless ı become `LOGIN`).
    public init?(name: String) {
        let folded = name.utf8.map { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte
        }
        guard let mechanism = Self.allCases.first(where: { $0.rawValue.utf8.elementsEqual(folded) }) else {
            return nil
        }
        self = mechanism
    }

    /// The registered name, as advertised.
    public var name: String { rawValue }

    /// Whether the client sends the password itself (PLAIN, LOGIN): such mechanisms are
    /// offered only under TLS (RFC 4616 §5; RFC 4954 §4 for SMTP).
    public var isPlaintext: Bool {
        switch self {
        case .plain, .login: return true
        case .scramSHA256: return false
        }
    }
}
