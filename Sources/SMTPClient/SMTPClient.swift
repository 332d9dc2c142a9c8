// SMTPClient — delivers queued mail to the next hop, the client side of RFC 5321:
// `SMTPDeliveryAgent` is the queue runner's `OutboundTransport`. It finds the target
// (MX lookup through DNS's `HostResolver`, or a fixed smarthost / route), connects,
// says EHLO, does STARTTLS and AUTH as the next hop's policy asks, runs the mail
// transaction (pipelined when offered; BDAT when CHUNKING is offered, else DATA with
// dot-stuffing) and maps every reply to a per-recipient result with an RFC 3463 status
// and a diagnostic for the DSN. Idle connections are cached briefly for the next
// message to the same next hop.
//
// Layers: `SMTPReplyHandler` (event-loop-confined channel handler: reply framing,
// deadlines, the switch to TLS) ← `SMTPClientConnection` (the same as async calls) ←
// `SMTPClientSession` (greeting, EHLO/HELO, STARTTLS, AUTH; drives SMTPProtocol's
// `SMTPClientTransactionStateMachine` for each transaction) ← `SMTPDeliveryAgent`
// (routing, fallback between addresses, results, logging) with `SMTPConnectionCache`.
//
// Standards: RFC 5321 (§3 sessions and transactions, §4.1.1 commands, §4.2 replies,
// §4.5.2 transparency, §4.5.3.2 timeouts, §5.1 locating the target host), RFC 7505
// (null MX), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING, BINARYMIME), RFC 6152
// (8BITMIME), RFC 6531 (SMTPUTF8), RFC 1870 (SIZE), RFC 3461 (DSN parameters),
// RFC 3207 (STARTTLS), RFC 8314 (implicit TLS), RFC 7435 (opportunistic security),
// RFC 4954 (AUTH) with RFC 4616 (PLAIN), draft-murchison-sasl-login (LOGIN), RFC 5802
// + RFC 7677 (SCRAM-SHA-256, server signature verified), RFC 2034 + RFC 3463 (enhanced
// status codes), RFC 3464 §2.3.5–6 (Remote-MTA, Diagnostic-Code).
// Not implemented: DANE/MTA-STS (RFC 7672, RFC 8461), REQUIRETLS, 8-bit to 7-bit
// downgrade (8-bit content for a server without 8BITMIME bounces 5.6.3, as RFC 6152 §3
// allows), SMTPUTF8 downgrade, "skip MX hosts of lower preference than ourselves"
// (RFC 5321 §5.1; the greeting-name loop check catches the loop instead), retrying a
// recipient deferred after the session started on the next MX.
// Security: every byte from a server is untrusted. Replies are bounded in line length,
// line count and buffered octets (`SMTPClientLimits`); a malformed or hostile reply
// fails the connection, never traps. Bytes a server sends after its 220 to STARTTLS
// fail the connection (reply injection, the client side of CVE-2011-0411). AUTH is
// only ever sent over TLS; passwords and message text never reach a log, and AUTH
// commands redact themselves. Addresses are re-parsed before they reach the wire, so
// no stored value can inject a command. Certificates are verified (system roots or a
// CA file, SNI and name = the host name) when the next hop asks for it.
// Limits: `SMTPClientLimits` (reply size, chunk and block sizes, addresses tried,
// cached connections) and `SMTPClientTimeouts` (RFC 5321 §4.5.3.2).
