/// The ENVELOPE of a message: its main header fields, as IMAP returns them.
///
///     envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
///                env-reply-to SP env-to SP env-cc SP env-bcc SP
///                env-in-reply-to SP env-message-id ")"
///     env-from = "(" 1*address ")" / nil      ; likewise sender, reply-to, to, cc, bcc
///
///     ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes"
///      (("Terry Gray" NIL "gray" "cac.washington.edu")) … NIL NIL
///      "<B27397-0100000@cac.washington.edu>")
///
/// Date, Subject, In-Reply-To and Message-ID are the raw field values, unfolded and
/// trimmed (encoded words are not decoded): nil when the field is absent, empty when it
/// is present but empty. An absent or empty From, To, Cc or Bcc is an empty list (NIL);
/// an absent or empty Sender or Reply-To is the From list, "the client is not expected
/// to know how to do this". When a field appears more than once, the first counts.
///
/// - SeeAlso: RFC 9051 §7.5.2 (ENVELOPE), §9 (envelope grammar); RFC 5322 §3.6
public struct Envelope: Hashable, Sendable {
    public var date: [UInt8]?
    public var subject: [UInt8]?
    public var from: [EnvelopeAddress]
    public var sender: [EnvelopeAddress]
    public var replyTo: [EnvelopeAddress]
    public var to: [EnvelopeAddress]
    public var cc: [EnvelopeAddress]
    public var bcc: [EnvelopeAddress]
    public var inReplyTo: [UInt8]?
    public var messageID: [UInt8]?

    public init(
        date: [UInt8]? = nil, subject: [UInt8]? = nil, from: [EnvelopeAddress] = [], sender: [EnvelopeAddress] = [],
        replyTo: [EnvelopeAddress] = [], to: [EnvelopeAddress] = [], cc: [EnvelopeAddress] = [],
        bcc: [EnvelopeAddress] = [], inReplyTo: [UInt8]? = nil, messageID: [UInt8]? = nil
    ) {
        self.date = date
        self.subject = subject
        self.from = from
        self.sender = sender
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.inReplyTo = inReplyTo
        self.messageID = messageID
    }

    /// The envelope of the message (or encapsulated message) whose header is `header`.
    public init(header: HeaderSection, limits: MIMELimits = MIMELimits()) {
        func addresses(_ name: String) -> [EnvelopeAddress] {
            guard let value = header.value(named: name) else { return [] }
            return AddressListParser.parse(value, limit: limits.maximumAddresses)
        }
        let from = addresses("From")
        let sender = addresses("Sender")
        let replyTo = addresses("Reply-To")
        self.init(
            date: header.value(named: "Date"),
            subject: header.value(named: "Subject"),
            from: from,
            sender: sender.isEmpty ? from : sender,
            replyTo: replyTo.isEmpty ? from : replyTo,
            to: addresses("To"),
            cc: addresses("Cc"),
            bcc: addresses("Bcc"),
            inReplyTo: header.value(named: "In-Reply-To"),
            messageID: header.value(named: "Message-ID"))
    }

    /// Parses an address list (the value of From, To, …) as ENVELOPE reports it.
    public static func addresses(in fieldValue: [UInt8], limits: MIMELimits = MIMELimits()) -> [EnvelopeAddress] {
        AddressListParser.parse(fieldValue, limit: limits.maximumAddresses)
    }
}
