// SMTPServer — the SwiftNIO side of SMTP on 25, 587 and 465: one `SMTPSession` per
// connection adapts `SMTPServerStateMachine` to the listener layer and performs what
// it asks for — directory lookups, logins, durable storage.
//
// Standards: see SMTPProtocol. This module adds RFC 5321 §4.4 trace fields
// (`Received:` with the date, `Return-Path:` at final delivery).
// Security: the open-relay decision is the state machine's; this module maps the
// directory's answer without widening it: an address that the directory cannot parse,
// a quoted local part or an address literal is never treated as local.
// Limits: `SMTPLimits` (in the state machine) and `ListenerLimits` (in the listener).
