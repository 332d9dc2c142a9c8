// MailQueue — the outbound queue for mail that leaves this server (remote recipients,
// alias forwards, reports to remote senders): `Spool` writes each accepted message
// with its SMTP envelope as one self-checking file in `incoming/`; `QueueRunner`
// (Postfix's qmgr) delivers it through an `OutboundTransport`, keeps per-recipient
// state in `status/`, retries with back-off (`QueuePolicy`) and reports failures,
// delays and (when asked) successes with `DeliveryStatusNotification`;
// `QueueAdministration` is `tsubame queue`.
//
// Standards: RFC 5321 §4.5.3.1.10 and §6.1 (a message is ours once `250` is sent: the
// spool file is durable before `enqueue` returns), §4.5.4 (retry strategy), §4.5.5
// (reports from the null sender, none about reports), RFC 3461 (DSN parameters NOTIFY,
// ORCPT, ENVID, RET kept with the envelope and honoured), RFC 3464 / RFC 6522 / RFC
// 6533 (the reports), RFC 3834 (Auto-Submitted), RFC 6152 / RFC 3030 (BODY=), RFC 6531
// (SMTPUTF8).
// Security: envelope fields and message bytes come from the network; they are stored
// as JSON and raw bytes behind explicit lengths, never interpreted. Queue files are
// read back only after their structure and end marker are checked; a damaged file is
// moved to `corrupt/` and never handed out as a message. Queue IDs given to `read`
// are checked against the ID alphabet, so they cannot name a path outside the spool.
// Files are created with O_EXCL and mode 0600, directories with mode 0700.
// Limits: `Spool.maximumLengthDigits` (the length fields of a queue file).
