// MailQueue — the durable spool for mail that leaves this server (remote recipients,
// alias forwards), until the outbound queue (scheduler, retries, DSNs) drains it.
// Today: `Spool` writes each accepted message with its SMTP envelope as one
// self-checking file in `incoming/`, and reads it back.
//
// Standards: RFC 5321 §4.5.3.1.10 and §6.1 (a message is ours once `250` is sent: the
// spool file is durable before `enqueue` returns), RFC 3461 (DSN parameters NOTIFY,
// ORCPT, ENVID, RET kept with the envelope), RFC 6152 / RFC 3030 (BODY=), RFC 6531
// (SMTPUTF8).
// Security: envelope fields and message bytes come from the network; they are stored
// as JSON and raw bytes behind explicit lengths, never interpreted. Queue files are
// read back only after their structure and end marker are checked; a damaged file is
// moved to `corrupt/` and never handed out as a message. Queue IDs given to `read`
// are checked against the ID alphabet, so they cannot name a path outside the spool.
// Files are created with O_EXCL and mode 0600, directories with mode 0700.
// Limits: `Spool.maximumLengthDigits` (the length fields of a queue file).
