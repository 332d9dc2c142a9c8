// MailCore — values shared by every protocol and backend.
//
// Standards: RFC 5321 §4.1.2 (Mailbox, Local-part, Domain), RFC 6531 §3.3 (UTF-8
// local parts and domains), RFC 5322 §3.4.1 (addr-spec).
// Security: everything here parses untrusted input (SMTP paths, login names, config
// values); nothing traps, everything is bounded by the limits below.
// Limits: `MailAddress.maximumLocalPartLength` (64), `maximumDomainLength` (255),
// RFC 5321 §4.5.3.1.1–2.
