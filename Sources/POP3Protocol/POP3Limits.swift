/// The limits a POP3 session enforces, each with its reason. The two that operators
/// tune (`maximumLineLength`, `maximumErrors`) are fields of
/// `POP3ServerStateMachine.Configuration`; these are their defaults.
public enum POP3Limits {
    /// RFC 2449 §4: "Servers which support the CAPA command MUST support commands up to
    /// 255 octets" (RFC 1939 allowed only 40-octet arguments). The RFC counts the CRLF;
    /// we count the line without it (as `max_line_length` does), which accepts two octets
    /// more than the minimum. PASS and AUTH (RFC 5034 §4 initial responses, continuation
    /// lines) are bounded by the configured `maximumLineLength` instead.
    public static let maximumCommandLength = 255

    /// The longest line read at all, without CRLF: PASS with a long password, AUTH with a
    /// long initial response, SASL continuation lines (base64 of at most
    /// `SASLLimits.maximumResponseLength` = 8192 decoded octets needs ~10924; the decoded
    /// bound is checked by SASL). `max_line_length` in the configuration.
    public static let defaultMaximumLineLength = 8192

    /// `-ERR` answers after which the session ends with "-ERR Too many errors"
    /// (Postfix `smtpd_hard_error_limit`, our SMTP default).
    public static let defaultMaximumErrors = 20

    /// The largest message number (and TOP line count) accepted: RFC 1939 does not bound
    /// them, but a maildrop never holds 2^31 messages, and a fixed bound keeps every
    /// number representable on every platform. Larger numbers are refused, never wrapped.
    public static let maximumMessageNumber = Int(Int32.max)

    /// The longest USER name: RFC 4616 §2's 255 octets, the bound every SASL mechanism
    /// applies to its authentication identity (`SASLLimits.maximumFieldLength`).
    public static let maximumUserLength = 255
}
