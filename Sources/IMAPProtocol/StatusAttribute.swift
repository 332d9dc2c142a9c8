/// An item STATUS (and LIST RETURN (STATUS …)) asks for.
///
///     status-att = "MESSAGES" / "UIDNEXT" / "UIDVALIDITY" / "UNSEEN" / "DELETED" /
///                  "SIZE"
///     status-att =/ "RECENT"          ; RFC 3501
///     status-att =/ "HIGHESTMODSEQ"   ; RFC 7162 §3.1.3
///
///     C: A042 STATUS blurdybloop (UIDNEXT MESSAGES)     [.uidNext, .messages]
///
/// - SeeAlso: RFC 9051 §6.3.11, §9; RFC 3501 §6.3.10; RFC 7162 §3.1.3
public enum StatusAttribute: String, Hashable, Sendable, CaseIterable {
    case messages = "MESSAGES"
    case uidNext = "UIDNEXT"
    case uidValidity = "UIDVALIDITY"
    case unseen = "UNSEEN"
    case deleted = "DELETED"
    case size = "SIZE"
    case recent = "RECENT"
    case highestModSeq = "HIGHESTMODSEQ"
}
