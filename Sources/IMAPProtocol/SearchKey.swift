/// A SEARCH criterion: the whole tree a SEARCH program builds from keys, NOT, OR and
/// parenthesised lists. Several keys side by side (at the top level or inside
/// parentheses) must all match: they are an `.and`.
///
///     C: A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
///        .and([.flagged, .since(1-Feb-1994), .not(.from("Smith"))])
///     C: A283 SEARCH OR (SEEN FLAGGED) 1:5
///        .or(.and([.seen, .flagged]), .sequenceSet(1:5))
///
/// A single top-level key is that key, not an `.and` of one; a parenthesised list is
/// always an `.and`, even of one key, as written.
///
///     search-key = "ALL" / "ANSWERED" / "BCC" SP astring / "BEFORE" SP date /
///                  "BODY" SP astring / "CC" SP astring / "DELETED" / "FLAGGED" /
///                  "FROM" SP astring / "KEYWORD" SP flag-keyword / "NEW" / "OLD" /
///                  "ON" SP date / "RECENT" / "SEEN" / "SINCE" SP date /
///                  "SUBJECT" SP astring / "TEXT" SP astring / "TO" SP astring /
///                  "UNANSWERED" / "UNDELETED" / "UNFLAGGED" /
///                  "UNKEYWORD" SP flag-keyword / "UNSEEN" / "DRAFT" /
///                  "HEADER" SP header-fld-name SP astring / "LARGER" SP number64 /
///                  "NOT" SP search-key / "OR" SP search-key SP search-key /
///                  "SENTBEFORE" SP date / "SENTON" SP date / "SENTSINCE" SP date /
///                  "SMALLER" SP number64 / "UID" SP sequence-set / "UNDRAFT" /
///                  sequence-set / "(" search-key *(SP search-key) ")"
///     search-key =/ "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer   ; RFC 7162
///     search-key =/ ( "OLDER" / "YOUNGER" ) SP nz-number                  ; RFC 5032
///
/// NEW, OLD and RECENT are RFC 3501 keys (IMAP4rev2 dropped them); they are parsed so
/// that IMAP4rev1 clients can use them.
///
/// - SeeAlso: RFC 9051 §6.4.4, §9; RFC 3501 §6.4.4; RFC 7162 §3.1.5; RFC 5032 §3
public indirect enum SearchKey: Hashable, Sendable {
    case all
    case answered
    case deleted
    case draft
    case flagged
    case new
    case old
    case recent
    case seen
    case unanswered
    case undeleted
    case undraft
    case unflagged
    case unseen

    case bcc(String)
    case body(String)
    case cc(String)
    case from(String)
    case subject(String)
    case text(String)
    case to(String)
    /// `HEADER field-name string`
    case header(String, String)

    case keyword(String)
    case unkeyword(String)

    /// Internal date (the day, disregarding time and zone) earlier than.
    case before(IMAPDate)
    case on(IMAPDate)
    case since(IMAPDate)
    /// The Date: header field, disregarding time and zone.
    case sentBefore(IMAPDate)
    case sentOn(IMAPDate)
    case sentSince(IMAPDate)

    /// RFC 822 size larger than, in octets.
    case larger(UInt64)
    case smaller(UInt64)

    /// RFC 5032: internal date within the last n seconds / more than n seconds ago.
    case younger(UInt32)
    case older(UInt32)

    case uid(SequenceSet)
    case sequenceSet(SequenceSet)

    /// RFC 7162 §3.1.5: mod-sequence at least `value`; `entry` is the optional
    /// `"/flags/\flag" priv|shared|all`, which the server may ignore.
    case modSeq(entry: ModSeqEntry?, value: UInt64)

    case not(SearchKey)
    case or(SearchKey, SearchKey)
    case and([SearchKey])

    /// The metadata entry a MODSEQ key names (RFC 7162 §3.1.5).
    ///
    ///     search-modseq-ext = SP entry-name SP entry-type-req
    ///     entry-name        = entry-flag-name
    ///     entry-flag-name   = DQUOTE "/flags/" attr-flag DQUOTE
    ///     entry-type-req    = entry-type-resp / "all"
    ///     entry-type-resp   = "priv" / "shared"
    public struct ModSeqEntry: Hashable, Sendable {
        public enum EntryType: String, Hashable, Sendable {
            case `private` = "priv"
            case shared
            case all
        }

        /// The flag the entry names, from `"/flags/\Draft"`.
        public var flag: Flag
        public var type: EntryType

        public init(flag: Flag, type: EntryType) {
            self.flag = flag
            self.type = type
        }
    }
}
