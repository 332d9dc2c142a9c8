// Delivery status notifications: the report the queue sends to the envelope sender
// when a message fails, is delayed, or (on request) was delivered. Pure: no I/O, the
// time is passed in; the queue runner decides when to report and enqueues the result.
//
// Standards: RFC 3464 (message/delivery-status: per-message and per-recipient fields,
// Appendix A examples), RFC 6522 (multipart/report; replaces RFC 3462, whose
// text/rfc822-headers it keeps, §4), RFC 3461 §4.1 (NOTIFY decides who is reported),
// §4.3 (RET: full message or headers), §4.4 (ENVID → Original-Envelope-Id), §4.2
// (ORCPT → Original-Recipient), RFC 6533 (the `utf-8` address type;
// message/global-delivery-status and message/global-headers for SMTPUTF8 mail),
// RFC 6532 §3.7 (message/global), RFC 5321 §4.5.5 (reports go from `<>`, never to
// `<>`), RFC 3834 §5 (Auto-Submitted), RFC 5322 §2.1.1 (998-octet lines, CRLF),
// RFC 2046 §5.1.1 (boundaries that do not occur in the content), §5.2.1
// (message/rfc822 is 7bit or 8bit).
// Security: diagnostics are remote servers' words, addresses, ORCPT and ENVID come
// from SMTP clients, and the returned message is whatever the sender sent. Every
// value is cleaned before it is written (line breaks become spaces, other control
// characters and bidirectional overrides are dropped, non-ASCII becomes `?` or
// `\x{HEX}` where only ASCII is allowed), folded at spaces, and hard-broken or cut so
// that no line exceeds 998 octets; a remote text therefore cannot add a header field,
// a status field or a MIME boundary. The boundary is chosen after the parts are
// written and never begins a line in any of them. The returned message is checked
// line by line; one that cannot be carried safely (NUL, bare CR, a line over 998
// octets) is returned as headers only, which are repaired instead.
// Limits: `maximumLineLength` (998, RFC 5322 §2.1.1), `preferredLineLength` (78),
// `maximumValueLength` (4,000 octets for one cleaned value), `maximumReturnedSize`
// (argument; default 1 MiB, past it only the header is returned, itself cut there).

public import Foundation
import MailCore

/// A delivery status notification (DSN): a `multipart/report` message telling the
/// envelope sender what became of some recipients of a queued message.
///
///     From: Mail Delivery System <MAILER-DAEMON@mail.example.org>
///     To: <sender@example.com>
///     Subject: Undelivered Mail Returned to Sender
///     Content-Type: multipart/report; report-type=delivery-status;
///         boundary="..."
///
///     1. text/plain                a Postfix-like explanation for people
///     2. message/delivery-status   RFC 3464 fields for programs
///     3. message/rfc822            the message (RET=FULL or no RET, failures only)
///        or text/rfc822-headers    its header (RET=HDRS, too large, delay, success)
///
/// For mail received with SMTPUTF8, parts 2 and 3 are message/global-delivery-status
/// and message/global or message/global-headers (RFC 6533 §6), and addresses are
/// written as UTF-8.
///
/// `make` reports the entries it is given; choosing them is the caller's job, with
/// `shouldNotify` (RFC 3461 §4.1) and, for successes, the knowledge whether the next
/// hop took over the duty to notify (RFC 3461 §5.2.2: a DSN-capable next hop that
/// received NOTIFY reports itself).
///
/// - SeeAlso: RFC 3464 §2, RFC 6522 §3, RFC 3461 §4, §6, RFC 6533 §3, §6
public struct DeliveryStatusNotification: Sendable {
    /// What the report is about: it decides the subject, the text, NOTIFY's keyword
    /// and whether the whole message may be returned.
    public enum Kind: Sendable, Hashable {
        /// Permanent failure: "Undelivered Mail Returned to Sender" (NOTIFY=FAILURE).
        case failure
        /// Still being retried: "Delayed Mail (still being retried)" (NOTIFY=DELAY).
        case delay
        /// Delivered or relayed: "Successful Mail Delivery Report" (NOTIFY=SUCCESS).
        case success
    }

    /// The Action field of a per-recipient group.
    ///
    ///     action-field = "Action" ":" action-value
    ///     action-value = "failed" / "delayed" / "delivered" / "relayed" / "expanded"
    ///
    /// - SeeAlso: RFC 3464 §2.3.3
    public enum Action: String, Sendable, Hashable, CaseIterable {
        /// Could not be delivered and will not be tried again.
        case failed
        /// Not delivered yet; still being tried.
        case delayed
        /// Delivered to the recipient's mailbox.
        case delivered
        /// Handed to a system that does not report further (RFC 3461 §6.2.1.2).
        case relayed
        /// Delivered to a list or alias, and passed on to its members.
        case expanded
    }

    /// One recipient's group in the report.
    ///
    ///     Original-Recipient: rfc822;louisl@larry.slip.umd.edu
    ///     Final-Recipient: rfc822; louisl@larry.slip.umd.edu
    ///     Action: failed
    ///     Status: 4.0.0
    ///     Remote-MTA: dns; larry.slip.umd.edu
    ///     Diagnostic-Code: smtp; 426 connection timed out
    ///     Last-Attempt-Date: Thu, 7 Jul 1994 21:15:49 +0000
    ///
    /// - SeeAlso: RFC 3464 §2.3, Appendix A.1
    public struct RecipientEntry: Sendable, Hashable {
        /// The final recipient, as in the envelope (RFC 3464 §2.3.2).
        public var address: String
        /// RFC 3461 ORCPT as given: `rfc822;user@example.org` (RFC 3464 §2.3.1).
        public var originalRecipient: String?
        public var action: Action
        /// RFC 3463 status, `5.1.1`; a malformed one is replaced by `5.0.0`, `4.0.0`
        /// or `2.0.0` according to `action` (RFC 3464 §2.3.4 requires the field).
        public var status: String
        /// `smtp; 550 5.1.1 <x@y>: Recipient address rejected` (the remote reply,
        /// written as given), or plain words (`connect to mx.example.org[192.0.2.1]:25:
        /// Connection refused`), which become `X-Tsubame; ...` (RFC 3464 §2.3.6).
        public var diagnostic: String?
        /// The host that answered, `mx.example.org[192.0.2.1]`; the report says
        /// `Remote-MTA: dns; mx.example.org` (RFC 3464 §2.3.5).
        public var remoteMTA: String?
        /// RFC 3464 §2.3.7.
        public var lastAttempt: Date?
        /// When the queue gives up; written for `delayed` only (RFC 3464 §2.3.9).
        public var willRetryUntil: Date?

        public init(
            address: String, originalRecipient: String? = nil, action: Action, status: String,
            diagnostic: String? = nil, remoteMTA: String? = nil, lastAttempt: Date? = nil, willRetryUntil: Date? = nil
        ) {
            self.address = address
            self.originalRecipient = originalRecipient
            self.action = action
            self.status = status
            self.diagnostic = diagnostic
            self.remoteMTA = remoteMTA
            self.lastAttempt = lastAttempt
            self.willRetryUntil = willRetryUntil
        }

        /// The entry for one transport result: `bounced` → failed, `deferred` →
        /// delayed, `delivered` → relayed (the next hop is another MTA; set `action`
        /// to `.delivered` for a final delivery).
        public init(
            result: RecipientResult, recipient: Envelope.Recipient? = nil, lastAttempt: Date? = nil,
            willRetryUntil: Date? = nil
        ) {
            let action: Action
            switch result.outcome {
            case .bounced: action = .failed
            case .deferred: action = .delayed
            case .delivered: action = .relayed
            }
            self.init(
                address: result.address, originalRecipient: recipient?.originalRecipient, action: action,
                status: result.status, diagnostic: result.diagnostic.isEmpty ? nil : result.diagnostic,
                remoteMTA: result.remoteMTA, lastAttempt: lastAttempt, willRetryUntil: willRetryUntil)
        }
    }

    // MARK: - Who is told

    /// Whether `recipient` asked to be reported on for `kind`.
    ///
    ///     notify-esmtp-value = "NEVER" / 1#notify-list-element
    ///     notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
    ///
    /// Without NOTIFY, failures and delays are reported and successes are not (RFC 3461
    /// §4.1 lets the MTA choose FAILURE or FAILURE,DELAY; like Postfix, this takes the
    /// latter). With NOTIFY, exactly the listed kinds are; NEVER means none.
    ///
    /// - SeeAlso: RFC 3461 §4.1
    public static func shouldNotify(_ recipient: Envelope.Recipient, of kind: Kind) -> Bool {
        guard let notify = recipient.notify else { return kind != .success }
        let keywords = Set(notify.map { $0.uppercased() })
        if keywords.contains("NEVER") { return false }
        switch kind {
        case .failure: return keywords.contains("FAILURE")
        case .delay: return keywords.contains("DELAY")
        case .success: return keywords.contains("SUCCESS")
        }
    }

    // MARK: - The report

    /// The report about `entries` of `envelope`, as a whole message with CRLF line
    /// ends, to be sent from `<>` to `envelope.sender` (RFC 3461 §6.1, RFC 5321
    /// §4.5.5). `nil` when no report may be sent: the sender is `<>` (never report on
    /// a report), or there is nobody to report on.
    ///
    /// - Parameters:
    ///   - kind: failure, delay or success.
    ///   - reportingMTA: this server's host name (`Reporting-MTA: dns; ...`, the
    ///     `From:` domain, the text's "mail system at host ...").
    ///   - envelope: the queued message's envelope (sender, ENVID, RET, arrival, ID).
    ///   - entries: the recipients to report on, already chosen with `shouldNotify`.
    ///   - originalMessage: the queued message, to return whole or in part.
    ///   - now: the report's `Date:`.
    ///   - messageID: a unique `id-left@id-right`, written as `Message-ID: <...>`.
    ///   - maximumReturnedSize: a larger message is returned as its header only, and
    ///     no more than this much of the header (RFC 3461 §4.3 lets the MTA choose).
    ///
    /// - SeeAlso: RFC 3464 §2, RFC 6522 §3, RFC 3461 §4.3, §6
    public static func make(
        kind: Kind, reportingMTA: String, envelope: Envelope, entries: [RecipientEntry], originalMessage: [UInt8],
        now: Date, messageID: String, maximumReturnedSize: Int = 1 << 20
    ) -> [UInt8]? {
        // RFC 5321 §4.5.5, RFC 3461 §6.1: a report about a report could loop forever.
        guard !envelope.sender.isEmpty, !entries.isEmpty else { return nil }
        // RFC 6533 §6: a message that needed SMTPUTF8 is reported with the global
        // types, in which addresses and diagnostics may be UTF-8.
        let isGlobal = envelope.smtpUTF8
        let host = cleaned(reportingMTA, allowsUTF8: true, limit: 255).replacingOccurrences(of: " ", with: "")
        let returned = returnedContent(
            kind: kind, ret: envelope.ret, message: originalMessage, limit: max(0, maximumReturnedSize))

        let text = humanReadablePart(
            kind: kind, host: host, envelope: envelope, entries: entries, returned: returned, now: now,
            isGlobal: isGlobal)
        let status = deliveryStatusPart(host: host, envelope: envelope, entries: entries, isGlobal: isGlobal)

        let statusType = isGlobal ? "message/global-delivery-status" : "message/delivery-status"
        let returnedType: String
        switch (returned.isWhole, isGlobal) {
        case (true, false): returnedType = "message/rfc822"
        case (true, true): returnedType = "message/global"  // RFC 6532 §3.7
        case (false, false): returnedType = "text/rfc822-headers"  // RFC 6522 §4
        case (false, true): returnedType = "message/global-headers"  // RFC 6533 §6.3
        }
        let parts: [(headers: [String], body: [UInt8])] = [
            (
                [
                    "Content-Description: Notification",
                    "Content-Type: text/plain; charset=\(isSevenBit(text) ? "us-ascii" : "utf-8")",
                ] + transferEncoding(text), text
            ),
            (
                ["Content-Description: Delivery report", "Content-Type: \(statusType)"] + transferEncoding(status),
                status
            ),
            (
                [
                    "Content-Description: \(returned.isWhole ? "Undelivered Message" : "Message Headers")",
                    "Content-Type: \(returnedType)",
                ] + transferEncoding(returned.bytes), returned.bytes
            ),
        ]

        let boundary = boundary(
            prefix: boundaryPrefix(queueID: envelope.id, now: now, host: host),
            seed: fnv1a(Array("\(envelope.id) \(messageID)".utf8)),
            avoiding: parts.map { $0.body })

        var output: [UInt8] = []
        output.reserveCapacity(parts.reduce(4096) { $0 + $1.body.count })
        output += field("Date", RFC5322Date.format(secondsSince1970: seconds(now)))
        output += field("From", "Mail Delivery System <MAILER-DAEMON@\(host)>")
        output += field("Subject", subject(kind))
        output += field(
            "To", "<\(cleaned(envelope.sender, allowsUTF8: true, limit: 998).replacingOccurrences(of: " ", with: ""))>")
        output += field("Auto-Submitted", "auto-replied")  // RFC 3834 §5
        output += field("Message-ID", messageIDValue(messageID, host: host))
        output += field("MIME-Version", "1.0")
        output += Array(
            "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"\(boundary)\"\r\n".utf8)
        if !parts.allSatisfy({ isSevenBit($0.body) }) {
            output += Array("Content-Transfer-Encoding: 8bit\r\n".utf8)
        }
        output += Array("\r\nThis is a MIME-encapsulated message.\r\n".utf8)
        for part in parts {
            // RFC 2046 §5.1.1: the CRLF before "--boundary" belongs to the delimiter,
            // so a body that does not end in CRLF is carried unchanged.
            output += Array("\r\n--\(boundary)\r\n".utf8)
            for header in part.headers { output += Array("\(header)\r\n".utf8) }
            output += Array("\r\n".utf8)
            output += part.body
        }
        output += Array("\r\n--\(boundary)--\r\n".utf8)
        return output
    }

    /// Postfix's subjects, which people and filters recognise.
    static func subject(_ kind: Kind) -> String {
        switch kind {
        case .failure: return "Undelivered Mail Returned to Sender"
        case .delay: return "Delayed Mail (still being retried)"
        case .success: return "Successful Mail Delivery Report"
        }
    }

    // MARK: - Part 1: text/plain

    /// The explanation for people, after Postfix's bounce templates: who we are, what
    /// happened, then one paragraph per recipient with the reason.
    static func humanReadablePart(
        kind: Kind, host: String, envelope: Envelope, entries: [RecipientEntry], returned: ReturnedContent, now: Date,
        isGlobal: Bool
    ) -> [UInt8] {
        var paragraphs: [String] = ["This is the mail system at host \(host)."]
        let attachment: String
        switch returned.reason {
        case .whole: attachment = "It is attached below."
        case .headersRequested, .notFailure: attachment = "Its header is attached below."
        case .tooLarge:
            attachment =
                "It was too large (\(returned.originalSize) octets) to be returned in full; "
                + "its header is attached below."
        case .unsafe:
            attachment =
                "It could not be returned in full as it was (it has NUL characters, stray carriage returns "
                + "or lines over 998 octets); its header is attached below."
        }
        switch kind {
        case .failure:
            paragraphs.append(
                "I'm sorry to have to inform you that your message could not be delivered to one or more "
                    + "recipients. \(attachment)")
            paragraphs.append(
                "For further assistance, please send mail to postmaster. If you do so, please include this "
                    + "problem report. You can delete your own text from the attached returned message.")
        case .delay:
            paragraphs.append("THIS IS A WARNING ONLY. YOU DO NOT NEED TO RESEND YOUR MESSAGE.")
            var sentence = "Your message could not be delivered for \(duration(from: envelope.receivedAt, to: now))."
            if let until = entries.compactMap(\.willRetryUntil).max() {
                sentence += " The mail system will retry until \(RFC5322Date.format(secondsSince1970: seconds(until)))."
            }
            paragraphs.append(sentence + " \(attachment)")
            paragraphs.append("For further assistance, please send mail to postmaster.")
        case .success:
            paragraphs.append(
                "Your message was successfully delivered to the destinations listed below. If the message was "
                    + "delivered to a mailbox you will receive no further notifications. Otherwise you may still "
                    + "receive notifications of mail delivery errors from other systems.")
        }

        var output: [UInt8] = []
        for paragraph in paragraphs {
            output += wrapped(paragraph, indent: "")
            output += crlf
        }
        output += Array("                   The mail system\r\n\r\n".utf8)
        for (index, entry) in entries.enumerated() {
            if index > 0 { output += crlf }
            output += wrapped(recipientSentence(entry, isGlobal: isGlobal), indent: "    ")
        }
        return output
    }

    /// `<rcpt@example.net>: host mx.example.net[192.0.2.1] said: 550 5.1.1 User unknown`
    /// (Postfix's wording), or the diagnostic in plain words.
    static func recipientSentence(_ entry: RecipientEntry, isGlobal: Bool) -> String {
        let address = displayedAddress(entry.address, isGlobal: isGlobal)
        let host = entry.remoteMTA.map { cleaned($0, allowsUTF8: false, limit: 300) }.flatMap { $0.isEmpty ? nil : $0 }
        var reply: String?
        var words: String?
        if let diagnostic = entry.diagnostic.map({ cleaned($0, allowsUTF8: isGlobal) }), !diagnostic.isEmpty {
            if let smtp = smtpDiagnostic(diagnostic) { reply = smtp } else { words = diagnostic }
        }
        var sentence = "<\(address)>:"
        switch (entry.action, host, reply) {
        case (.failed, .some(let host), .some(let reply)), (.delayed, .some(let host), .some(let reply)):
            sentence += " host \(host) said: \(reply)"
        case (.delivered, .some(let host), _), (.relayed, .some(let host), _), (.expanded, .some(let host), _):
            sentence += " delivery via \(host)" + (reply.map { ": \($0)" } ?? "")
        case (_, _, .some(let reply)):
            sentence += " \(reply)"
        default:
            break
        }
        if let words { sentence += " \(words)" }
        // Nothing else to say: at least the outcome.
        if sentence == "<\(address)>:" { sentence += " \(entry.action.rawValue)" }
        return sentence
    }

    // MARK: - Part 2: message/delivery-status

    /// The machine-readable report, fields in the order of RFC 3464 §2.2 and §2.3:
    ///
    ///     per-message-fields = [ original-envelope-id-field CRLF ]
    ///                          reporting-mta-field CRLF
    ///                          [ dsn-gateway-field CRLF ]
    ///                          [ received-from-mta-field CRLF ]
    ///                          [ arrival-date-field CRLF ]
    ///                          *( extension-field CRLF )
    ///     per-recipient-fields = [ original-recipient-field CRLF ]
    ///                          final-recipient-field CRLF
    ///                          action-field CRLF
    ///                          status-field CRLF
    ///                          [ remote-mta-field CRLF ]
    ///                          [ diagnostic-code-field CRLF ]
    ///                          [ last-attempt-date-field CRLF ]
    ///                          [ final-log-id-field CRLF ]
    ///                          [ will-retry-until-field CRLF ]
    ///                          *( extension-field CRLF )
    ///     delivery-status-content = per-message-fields 1*( CRLF per-recipient-fields )
    ///
    /// - SeeAlso: RFC 3464 §2.1–§2.3, RFC 6533 §3, §6.2
    static func deliveryStatusPart(
        host: String, envelope: Envelope, entries: [RecipientEntry], isGlobal: Bool
    ) -> [UInt8] {
        var output: [UInt8] = []
        if let envelopeID = envelope.envelopeID {
            // RFC 3464 §2.2.1; the SMTP parser already decoded the xtext (RFC 3461 §4.4).
            let value = cleaned(envelopeID, allowsUTF8: false)
            if !value.isEmpty { output += field("Original-Envelope-Id", value) }
        }
        output += field("Reporting-MTA", "dns; \(host)")  // RFC 3464 §2.2.2
        output += field("Arrival-Date", RFC5322Date.format(secondsSince1970: seconds(envelope.receivedAt)))  // §2.2.5
        // Extension fields (RFC 3464 §2.1, `X-` names §8.3), as Postfix writes its own.
        let queueID = cleaned(envelope.id, allowsUTF8: false, limit: 200)
        if !queueID.isEmpty { output += field("X-Tsubame-Queue-ID", queueID) }
        output += field("X-Tsubame-Sender", typedAddress(envelope.sender, isGlobal: isGlobal))

        for entry in entries {
            output += Array("\r\n".utf8)
            if let original = entry.originalRecipient.flatMap({ originalRecipientValue($0, isGlobal: isGlobal) }) {
                output += field("Original-Recipient", original)  // §2.3.1
            }
            output += field("Final-Recipient", typedAddress(entry.address, isGlobal: isGlobal))  // §2.3.2
            output += field("Action", entry.action.rawValue)  // §2.3.3
            output += field("Status", statusCode(entry.status, action: entry.action))  // §2.3.4
            if let name = entry.remoteMTA.flatMap(remoteMTAName) {
                output += field("Remote-MTA", "dns; \(name)")  // §2.3.5
            }
            if let diagnostic = entry.diagnostic.map({ cleaned($0, allowsUTF8: isGlobal) }), !diagnostic.isEmpty {
                // §2.3.6: "smtp" for a reply from the remote MTA, else our own type.
                let value = smtpDiagnostic(diagnostic).map { "smtp; \($0)" } ?? "X-Tsubame; \(diagnostic)"
                output += field("Diagnostic-Code", value)
            }
            if let lastAttempt = entry.lastAttempt {
                // §2.3.7
                output += field("Last-Attempt-Date", RFC5322Date.format(secondsSince1970: seconds(lastAttempt)))
            }
            if entry.action == .delayed, let until = entry.willRetryUntil {
                output += field("Will-Retry-Until", RFC5322Date.format(secondsSince1970: seconds(until)))  // §2.3.9
            }
        }
        return output
    }

    /// `status-code = DIGIT "." 1*3DIGIT "." 1*3DIGIT` with class 2, 4 or 5
    /// (RFC 3463 §2); anything else becomes the generic code of the action.
    ///
    /// - SeeAlso: RFC 3464 §2.3.4, RFC 3463 §2
    static func statusCode(_ status: String, action: Action) -> String {
        let trimmed = status.trimmingCharacters(in: .whitespaces)
        let pieces = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        let isValid =
            pieces.count == 3 && ["2", "4", "5"].contains(pieces[0])
            && pieces.dropFirst().allSatisfy {
                (1...3).contains($0.count) && $0.allSatisfy { ("0"..."9").contains($0) }
            }
        if isValid { return trimmed }
        switch action {
        case .failed: return "5.0.0"
        case .delayed: return "4.0.0"
        case .delivered, .relayed, .expanded: return "2.0.0"
        }
    }
}
