// MailStore — what the protocols need from mail storage, as protocols and values, with
// no implementation: `MessageDelivery` (the SMTP write path) and `StoreError`. The
// mailbox/transaction/message side that IMAP and POP3 read through (UID, ModSeq, flags,
// staged saves, change events; STYLE §6) is added here by the IMAP work; backends
// (`MaildirStore`, later `PostgresStore`) implement these protocols and only
// `TsubameServer` knows which one is in use.
//
// Standards: RFC 5321 §4.5.3.1.10 and §6.1 (a message is the server's responsibility
// once `250` is sent, so delivery returns only when the message is durable), RFC 5322
// (the stored message format, CRLF line ends).
// Security: message bytes and recipient addresses come from the network; backends must
// never build a file name, path or query from them without encoding it.
// `StoreError.detail` may hold paths and system error text: it is for logs only and
// never reaches a client.
// Limits: none of its own; message size and recipient count are bounded by the
// protocols (`SMTPLimits`) before a delivery starts.
