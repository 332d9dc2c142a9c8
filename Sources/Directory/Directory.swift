// Directory — the seed's "auth process + user database": domains, accounts, aliases,
// credentials, and the one `Authenticator` every protocol logs in through.
//
// Standards: Dovecot password schemes (`{SCHEME}hash` strings, doc.dovecot.org
// "Password Schemes"), crypt(3) formats via libxcrypt, Argon2 (RFC 9106) via libargon2,
// SCRAM-SHA-256 stored keys (RFC 7677, RFC 5802 §3).
// Security: login names and passwords come from the network; hashes come from the
// database or imported user files. Comparisons are constant-time; a password never
// reaches a log or an error's description; unknown users cost as much as known ones.
// Limits: `PasswordHash.maximumPasswordLength`, `ThrottlePolicy` (failed-login delays
// and refusals), SQLite busy timeout.
