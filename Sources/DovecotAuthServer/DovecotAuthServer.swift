// DovecotAuthServer — the seed's "auth process" as a service other software can use:
// Dovecot's authentication protocol on a UNIX socket, so that Postfix
// (`smtpd_sasl_type = dovecot`, `smtpd_sasl_path = …`) checks logins against
// Tsubame's directory, with the same throttling and logging as Tsubame's own logins.
//
// Standards: Dovecot Authentication Protocol 1.x (see DovecotAuthProtocol).
// Security: the client is untrusted; only the socket's file mode and owner decide who
// may connect. Passwords are checked through `Authenticator` and never logged.
// Limits: `DovecotAuthLimits` (line length, concurrent requests per connection).
