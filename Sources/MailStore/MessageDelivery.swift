public import MailCore

/// The local-delivery interface the SMTP server hands accepted mail to — the role of
/// Dovecot's LDA/LMTP behind Postfix.
///
/// Delivery follows the SMTP transaction (STYLE §6): the session collects the
/// recipients and the message, and only when end-of-data has been received calls
/// `deliver`. The SMTP server answers `250` to end-of-data only after `deliver` has
/// returned (DESIGN §3, "Never lose accepted mail"); if it throws, the client gets a
/// `4xx`/`5xx` mapped from `StoreError.Kind` and keeps the message.
///
/// - SeeAlso: RFC 5321 §4.5.3.1.10, §6.1 (responsibility for a message after `250`)
public protocol MessageDelivery: Sendable {
    /// Writes `message` (the full RFC 5322 message as it should be stored, CRLF line
    /// ends — the caller has already prepended Return-Path/Received) durably into the
    /// INBOX of every recipient.
    ///
    /// Returns only after every copy is on disk (file fsynced, renamed into `new/`,
    /// directory fsynced). All-or-nothing: if any copy fails, copies already made are
    /// removed and the error is thrown. Recipients that name the same mailbox (for
    /// example the same address in different case) get one copy. Implementations never
    /// block the caller's thread on file I/O.
    func deliver(_ message: [UInt8], to recipients: [MailAddress]) async throws(StoreError)
}
