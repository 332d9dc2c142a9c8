// SMTPProtocol — SMTP as values: commands and their parser, replies with enhanced
// status codes, paths and ESMTP parameters, the DATA decoder, and the server session
// state machine; for the outbound client, the reply decoder, EHLO capabilities,
// client commands, the dot-stuffing DATA encoder and the transaction state machine. Pure: no sockets, no clock, no storage; the SMTPServer module
// performs what the state machine asks for.
//
// Standards: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 2034 + RFC 3463 (enhanced status
// codes), RFC 2920 (PIPELINING), RFC 3030 (CHUNKING, BINARYMIME), RFC 3207 (STARTTLS),
// RFC 3461 (DSN parameters), RFC 4954 (AUTH), RFC 6152 (8BITMIME), RFC 6531
// (SMTPUTF8), RFC 3848 (`with` protocol types in Received).
// Security: every byte comes from the network. Command lines are bounded by
// `SMTPLimits.maximumCommandLineLength`; DATA ends only on CRLF.CRLF and bare CR/LF
// are refused or normalised (no SMTP smuggling); recipients, errors and junk commands
// are counted and bounded; nothing here traps on input.
// Limits: `SMTPLimits`.
