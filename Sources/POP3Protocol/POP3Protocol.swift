// POP3Protocol — POP3 as values: commands and their parser, `+OK`/`-ERR` responses
// with extended response codes, the message encoder for RETR and TOP, and the server
// session state machine (AUTHORIZATION → TRANSACTION → UPDATE). Pure: no sockets, no
// clock, no storage, no user database; the POP3Server module performs the actions the
// state machine returns (verify a password, lock and list the maildrop, read a message,
// commit deletions) and feeds the outcomes back.
//
// Standards: RFC 1939 (POP3: states §3, AUTHORIZATION §4, TRANSACTION §5, UPDATE §6,
// optional commands §7 — TOP, UIDL, USER/PASS; APOP is recognised and refused), RFC 2449
// (CAPA, command length §4, extended response codes §8: IN-USE, LOGIN-DELAY; PIPELINING,
// EXPIRE, LOGIN-DELAY, IMPLEMENTATION capabilities), RFC 2595 §4 (STLS), RFC 3206
// (SYS/TEMP, SYS/PERM, AUTH response codes; AUTH-RESP-CODE), RFC 5034 (AUTH with SASL,
// initial response, "=" for an empty one, "*" to cancel), with the SASL module's
// PLAIN (RFC 4616), LOGIN (draft-murchison-sasl-login-00) and SCRAM-SHA-256 (RFC 7677).
// Not implemented: APOP (needs the plaintext password on the server), the RFC 2449
// SASL security layers (none of our mechanisms has one), UTF8/LANG (RFC 6856).
// Security: every command byte comes from the network before authentication. Command
// lines are bounded (`POP3Limits.maximumCommandLength`, and the configured
// `maximumLineLength` for PASS and AUTH data); NUL, CR, LF and ill-formed UTF-8 are
// refused; message numbers are parsed without overflow and bounded to 1...Int32.max;
// every `-ERR` is counted and the session ends after `maximumErrors`; a first line that
// is not POP3 at all (HTTP, a TLS ClientHello) gets one `-ERR` and the connection is
// closed. USER/PASS and the plaintext SASL mechanisms are refused without TLS unless
// `allowPlaintextAuth`; after STLS the session forgets everything it learned (RFC 2595
// §4). Passwords and AUTH data never appear in a `description`. Message content is
// stored bytes, but still untrusted: the encoder normalises line ends to CRLF and
// dot-stuffs every line, so no message can end the multi-line response early.
// Limits: `POP3Limits`; nothing here traps on any input (no `!`, no unchecked
// subscripts, no trapping arithmetic on client numbers).
