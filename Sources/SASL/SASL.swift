// SASL — the server side of the SASL mechanisms Tsubame offers, as a value-type state
// machine: PLAIN, LOGIN and SCRAM-SHA-256. Pure: no sockets, no NIO, no clock, no
// logging, no user database. The protocol layers (SMTP AUTH, IMAP AUTHENTICATE, POP3
// AUTH) base64-decode each client response, pass the bytes to `SASLServerStateMachine`
// and perform the `Action` it returns: send a challenge, verify a password through
// Directory's `Authenticator`, look up a user's SCRAM keys, or answer success/failure.
//
// Standards: RFC 4422 (SASL: exchange §3, authorization identity §3.4.1, abort §3.5,
// outcome and additional data §3.6, empty vs. absent initial response §4), RFC 4616
// (PLAIN), draft-murchison-sasl-login-00 (LOGIN), RFC 5802 (SCRAM: algorithm §3,
// exchange §5, channel-binding flag §6, grammar §7) with RFC 7677 (SCRAM-SHA-256).
// Not implemented: channel binding (SCRAM-SHA-256-PLUS, RFC 5802 §6, RFC 9266),
// SASLprep (RFC 4013) of user names and passwords (the UTF-8 bytes are used as sent),
// security layers (none of these mechanisms has one), EXTERNAL.
// Security: every byte handed in arrives from the network before authentication.
// Responses are bounded (`SASLLimits`); identities and passwords are validated UTF-8
// without NUL; nothing traps on any input (no `!`, no unchecked subscripts). Passwords,
// proofs and stored keys never appear in a `description`. The SCRAM proof is compared
// in constant time. A user that is unknown, or has no SCRAM keys, gets a fake salt that
// is stable per user name (for the life of the process) and the usual iteration count,
// and fails only at the last step, so the exchange does not tell whether the user
// exists. Throttling failures and offering PLAIN/LOGIN only under TLS (RFC 4616 §5)
// are the caller's job.
// Limits: `SASLLimits` — one client response (initial response included) is at most
// 8192 octets by default; every identity and password at most 255 octets (RFC 4616 §2).

// MARK: - Byte rules shared by the mechanisms

/// `bytes` as a `String` when they are well-formed UTF-8 (RFC 3629), else `nil`.
///
/// `String(decoding:as:)` replaces each ill-formed sequence with U+FFFD, so the decoded
/// string re-encodes to the input exactly when the input was well-formed. (The
/// standard library's validating initialiser needs macOS 15; the package supports 14.)
func decodeUTF8(_ bytes: some Collection<UInt8>) -> String? {
    let string = String(decoding: bytes, as: UTF8.self)
    return string.utf8.elementsEqual(bytes) ? string : nil
}

/// Compares two byte strings in time that depends only on their lengths.
func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (left, right) in zip(lhs, rhs) { difference |= left ^ right }
    return difference == 0
}
