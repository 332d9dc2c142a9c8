/// One entry of an address list in an ENVELOPE: an address, or a group marker.
///
///     address     = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"
///     addr-name   = nstring   ; display name (phrase), encoded words left as they are
///     addr-adl    = nstring   ; obsolete source route ("@a,@b")
///     addr-mailbox = nstring  ; local part; a group's name in a start marker
///     addr-host   = nstring   ; NIL in group markers
///
///     Mary Smith <mary@example.net>   ("Mary Smith" NIL "mary" "example.net")
///     A Group:                        (NIL NIL "A Group" NIL)   group start
///     ;                               (NIL NIL NIL NIL)         group end
///
/// Values are octets as in the message: RFC 6532 allows UTF-8, and other 8-bit text is
/// kept too (the encoder picks a literal when a quoted string cannot carry it).
///
/// An address without a domain gets the host `MISSING_DOMAIN`, one without a local part
/// the mailbox `MISSING_MAILBOX` (the placeholders Dovecot uses), so that no broken
/// address looks like a group marker.
///
/// - SeeAlso: RFC 9051 §7.5.2 (address structure, group markers); RFC 5322 §3.4
public struct EnvelopeAddress: Hashable, Sendable {
    public var name: [UInt8]?
    public var adl: [UInt8]?
    public var mailbox: [UInt8]?
    public var host: [UInt8]?

    public init(name: [UInt8]? = nil, adl: [UInt8]? = nil, mailbox: [UInt8]?, host: [UInt8]?) {
        self.name = name
        self.adl = adl
        self.mailbox = mailbox
        self.host = host
    }

    /// The start of a group called `name` (RFC 5322 `display-name ":"`).
    public static func groupStart(_ name: [UInt8]) -> EnvelopeAddress {
        EnvelopeAddress(mailbox: name, host: nil)
    }

    /// The end of a group (RFC 5322 `";"`).
    public static let groupEnd = EnvelopeAddress(mailbox: nil, host: nil)

    public var isGroupStart: Bool { host == nil && mailbox != nil }
    public var isGroupEnd: Bool { host == nil && mailbox == nil }

    /// The host given to an address without a domain.
    public static let missingDomain = Array("MISSING_DOMAIN".utf8)
    /// The mailbox given to an address without a local part.
    public static let missingMailbox = Array("MISSING_MAILBOX".utf8)
}
