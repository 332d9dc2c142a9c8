/// The bounds one SASL exchange enforces on what the client sends.
///
/// The protocol layer should also bound the base64 line before decoding it (about 4/3
/// of `maximumResponseLength`, plus the command and CRLF), so that nothing unbounded is
/// buffered before these checks run.
///
/// - SeeAlso: RFC 4616 §2 (field lengths), RFC 4954 §4 (`500 5.5.6` for an
///   authentication line that is too long)
public struct SASLLimits: Sendable, Equatable {
    /// RFC 4616 §2: authzid, authcid and passwd "MUST accept up to 255 octets". Longer
    /// ones are refused (`.tooLong`). LOGIN's user name and password and SCRAM's decoded
    /// user name and authzid are held to the same bound, so every mechanism accepts the
    /// same credentials. Not configurable: it is the RFC's floor and our ceiling.
    public static let maximumFieldLength = 255

    /// The iteration count shown to a user that is unknown or has no SCRAM keys: RFC 7677
    /// §4's minimum and Dovecot's default, so it matches most real users.
    public static let unknownUserIterations = 4096

    /// The salt length shown to a user that is unknown or has no SCRAM keys: the 16
    /// octets Dovecot (and Directory's `SCRAMCredentials.make`) use for real users.
    public static let unknownUserSaltLength = 16

    /// Random octets in the server's part of the SCRAM nonce (RFC 5802 §5.1 `r`), sent
    /// base64-encoded: 24 octets are 32 printable characters and 192 bits.
    public static let serverNonceLength = 24

    /// The longest decoded client response, the initial response included. The longest
    /// legitimate one is a SCRAM client-final-message (~200 octets) or a PLAIN message
    /// (at most 767 octets); 8192 leaves room for long SCRAM nonces and extensions.
    /// Longer responses fail the exchange with `.tooLong`.
    public var maximumResponseLength = 8192

    public init() {}
}
