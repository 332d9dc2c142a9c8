public import Foundation

/// The SMTP envelope of one queued message: what MAIL FROM and RCPT TO said, with
/// their ESMTP parameters, which the outbound queue needs to relay the message and to
/// write delivery status notifications.
///
/// Addresses are kept as the strings the client sent (without angle brackets), so
/// nothing is lost for the DSN (RFC 3464 wants the original form).
///
/// - SeeAlso: RFC 5321 §4.1.1.2–3, RFC 3461 §4 (NOTIFY, ORCPT, RET, ENVID),
///   RFC 6152 / RFC 3030 (BODY=), RFC 6531 §3.4 (SMTPUTF8)
public struct Envelope: Codable, Sendable, Equatable {
    /// One forward-path with its DSN parameters.
    public struct Recipient: Codable, Sendable, Equatable {
        public var address: String
        /// RFC 3461 §4.1 NOTIFY: `NEVER`, or some of `SUCCESS`, `FAILURE`, `DELAY`;
        /// `nil` when the client gave none.
        public var notify: [String]?
        /// RFC 3461 §4.2 ORCPT, as given (`rfc822;user@example.org`).
        public var originalRecipient: String?

        public init(address: String, notify: [String]? = nil, originalRecipient: String? = nil) {
            self.address = address
            self.notify = notify
            self.originalRecipient = originalRecipient
        }
    }

    /// The reverse-path; `""` for the null sender `<>` (bounces, RFC 5321 §4.5.5).
    public var sender: String
    public var recipients: [Recipient]
    /// RFC 3461 §4.4 ENVID.
    public var envelopeID: String?
    /// RFC 3461 §4.3 RET: `FULL` or `HDRS`.
    public var ret: String?
    /// BODY=: `7BIT`, `8BITMIME` (RFC 6152) or `BINARYMIME` (RFC 3030).
    public var bodyType: String?
    /// The transaction used SMTPUTF8 (RFC 6531 §3.4): the next hop must offer it.
    public var smtpUTF8: Bool
    /// The login that submitted the message, `nil` for unauthenticated (port 25) mail.
    public var authenticatedUser: String?
    /// When end-of-data was accepted.
    public var receivedAt: Date
    /// The queue ID. `Spool.enqueue` assigns it; whatever is here before is replaced.
    public var id: String

    public init(
        sender: String,
        recipients: [Recipient],
        envelopeID: String? = nil,
        ret: String? = nil,
        bodyType: String? = nil,
        smtpUTF8: Bool = false,
        authenticatedUser: String? = nil,
        receivedAt: Date,
        id: String = ""
    ) {
        self.sender = sender
        self.recipients = recipients
        self.envelopeID = envelopeID
        self.ret = ret
        self.bodyType = bodyType
        self.smtpUTF8 = smtpUTF8
        self.authenticatedUser = authenticatedUser
        self.receivedAt = receivedAt
        self.id = id
    }
}
