// DovecotAuthProtocol — the server side of Dovecot's authentication protocol, the one
// an MTA speaks over a UNIX socket to let another process check SMTP AUTH logins
// (Postfix `smtpd_sasl_type = dovecot`, `smtpd_sasl_path = private/auth`; Exim's
// `dovecot` authenticator). Pure: no sockets, no clock, no user database, no logging.
// The listener cuts the stream into lines and feeds them to
// `DovecotAuthServerStateMachine`, performs the actions it returns (send a line, check a
// password or fetch SCRAM keys through Directory, close) and hands results back as
// events. The SASL mechanisms themselves are the SASL module's.
//
// Standards: Dovecot Authentication Protocol 1.x, as documented in Dovecot's developer
// manual (doc.dovecot.org, developer_manual/design/auth_protocol; 1.1 in Dovecot's
// doc/auth-protocol.txt) and as Dovecot's auth process implements it
// (src/auth/auth-client-connection.c, auth-request-handler.c). We announce version 1.2.
// The client side we must satisfy is Postfix's src/xsasl/xsasl_dovecot_server.c (it
// sends `VERSION 1 0`, reads VERSION/MECH/DONE, and takes `user=` from OK and `reason=`
// from FAIL). SASL per RFC 4422, PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login-00)
// and SCRAM-SHA-256 (RFC 5802, RFC 7677) through the SASL module.
// Not implemented: the master/userdb side of the protocol (REQUEST, USER, PASS — the
// `auth-master`/`auth-userdb` sockets), out-of-band CONT data (`#`), channel binding
// (1.3), and every mechanism the SASL module lacks.
//
// Security: the client is untrusted (the protocol document says so). Every line comes
// from it; nothing here traps on any input (no `!`, no unchecked subscripts). Broken
// commands, commands out of order and duplicate request IDs close the connection, as in
// Dovecot; a bad request fails only that request. Plaintext mechanisms (PLAIN, LOGIN)
// are accepted only when the client says the end user's connection is `secured` (TLS) or
// local (`rip` = `lip`, or a loopback `rip`), unless configured otherwise — Dovecot's
// `disable_plaintext_auth`. Passwords never appear in a `description`. Throttling, the
// failure delay and logging are the caller's (Directory's `Authenticator`); the
// `noPenalty` flag is passed on for that.
//
// Limits: `DovecotAuthLimits` — a line is at most 16384 octets (Dovecot's
// AUTH_CLIENT_MAX_LINE_LENGTH; the listener enforces it and reports `lineTooLong()`,
// which closes the connection), at most 64 requests in progress per connection, and
// the SASL module's `SASLLimits` on every decoded response.

import SASL

// MARK: - Byte rules shared by the commands and replies

/// The octets the line grammar is made of.
enum DovecotAuthGrammar {
    static let tab = UInt8(ascii: "\t")
    static let lineFeed = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let equals = UInt8(ascii: "=")
}

/// `bytes` as a `String` when they are well-formed UTF-8 (RFC 3629), else `nil`.
///
/// `String(decoding:as:)` replaces each ill-formed sequence with U+FFFD, so the decoded
/// string re-encodes to the input exactly when the input was well-formed.
func decodeUTF8(_ bytes: some Collection<UInt8>) -> String? {
    let string = String(decoding: bytes, as: UTF8.self)
    return string.utf8.elementsEqual(bytes) ? string : nil
}

/// Base64 (RFC 4648 §4, with padding) of `bytes`, as the protocol sends SASL data.
func encodeBase64(_ bytes: [UInt8]) -> [UInt8] {
    Array(Base64.encode(bytes).utf8)
}

