// ServerSupport — the listener layer shared by SMTP, IMAP and POP3: TCP listeners with
// plain, STARTTLS and implicit TLS, line framing with a length limit, connection
// limits (total and per client IP), idle timeouts, graceful shutdown, TLS contexts and
// the self-signed certificate made on first start.
//
// Standards: RFC 3207 §4.2 and RFC 2595 §3.1 (STARTTLS/STLS: discard what came before
// the handshake), RFC 8314 (implicit TLS), RFC 8996/RFC 9325 (TLS 1.2 at the least).
// Security: every byte a client sends passes through `LineSessionHandler` first; it
// bounds what it buffers, and after STARTTLS it drops whatever plaintext arrived
// behind the command (CVE-2011-0411 "STARTTLS command injection").
// Limits: `ListenerLimits` — connections total and per IP, idle timeout, line length.
