/// The limits the IMAP framer and parser enforce, each with its reason. All are
/// configurable; the defaults are documented on each property.
///
/// A command is refused as soon as it crosses a limit, and a literal announcement over a
/// limit is refused before any of its data is read (see `IMAPCommandFramer`).
///
/// - SeeAlso: RFC 9051 §4.3 (literals), RFC 7888 §4–§5 (LITERAL+ and LITERAL-), RFC 7162
///   §4 (command line length), RFC 7889 (APPENDLIMIT, TOOBIG)
public struct IMAPLimits: Hashable, Sendable {
    /// RFC 7162 §4: clients should keep command lines under 8192 octets and servers should
    /// accept at least that. Counted over all lines of one command without their CRLFs
    /// and without literal data (announcements included).
    public static let defaultMaximumCommandLength = 8192

    /// RFC 7888 §5: with LITERAL-, non-synchronising literals are at most 4096 octets.
    public static let literalMinusMaximum = 4096

    /// The longest command text (all lines of a command, excluding literal data).
    /// Default `defaultMaximumCommandLength` (8192).
    public var maximumCommandLength: Int

    /// The largest literal outside APPEND message data: mailbox names, LOGIN passwords,
    /// SEARCH strings. None of them needs more; 64 KiB leaves room for long search texts.
    public var maximumLiteralSize: Int

    /// The largest non-synchronising literal (`{n+}`): 4096 with LITERAL- (RFC 7888 §5,
    /// the default, announced as `LITERAL-`); `nil` for LITERAL+, where only the other
    /// limits apply. A larger one is refused with `BAD [TOOBIG]` and its data discarded.
    public var maximumNonSynchronizingLiteralSize: Int?

    /// The largest message one APPEND may carry: the server's message size limit
    /// (APPENDLIMIT, RFC 7889). Default 50 MiB. Refused with `NO [TOOBIG]`.
    public var maximumMessageSize: Int

    /// The most octets one command other than APPEND may carry, text and literals
    /// together. Default 8 MiB.
    public var maximumCommandSize: Int

    /// The most octets one APPEND (all messages of a MULTIAPPEND, RFC 3502) may carry.
    /// Every message is held in memory until the command is complete, so this is the
    /// per-connection memory bound for APPEND. Default 100 MiB: two messages of the
    /// default maximum size; a client with more sends several APPENDs.
    public var maximumAppendSize: Int

    /// The most messages in one MULTIAPPEND (RFC 3502). Default 1000.
    public var maximumAppendMessages: Int

    /// The deepest nesting of parenthesised lists and NOT/OR search keys: bounds the
    /// parser's recursion. Real searches nest a handful of levels. Default 32.
    public var maximumNestingDepth: Int

    /// The most ranges in one sequence set (`1,3,5:7` has three). Default 1000.
    public var maximumSequenceRanges: Int

    /// The most search keys in one SEARCH, nested ones included. Default 1000.
    public var maximumSearchKeys: Int

    /// The largest non-synchronising literal the framer reads and throws away after
    /// refusing it; a larger announcement closes the connection (`* BYE`): the client
    /// sends the data without waiting, and reading gigabytes to stay in sync is not worth
    /// it. Default 64 MiB.
    public var maximumDiscardedLiteralSize: Int

    public init(
        maximumCommandLength: Int = IMAPLimits.defaultMaximumCommandLength,
        maximumLiteralSize: Int = 64 * 1024,
        maximumNonSynchronizingLiteralSize: Int? = IMAPLimits.literalMinusMaximum,
        maximumMessageSize: Int = 50 * 1024 * 1024,
        maximumCommandSize: Int = 8 * 1024 * 1024,
        maximumAppendSize: Int = 100 * 1024 * 1024,
        maximumAppendMessages: Int = 1000,
        maximumNestingDepth: Int = 32,
        maximumSequenceRanges: Int = 1000,
        maximumSearchKeys: Int = 1000,
        maximumDiscardedLiteralSize: Int = 64 * 1024 * 1024
    ) {
        self.maximumCommandLength = maximumCommandLength
        self.maximumLiteralSize = maximumLiteralSize
        self.maximumNonSynchronizingLiteralSize = maximumNonSynchronizingLiteralSize
        self.maximumMessageSize = maximumMessageSize
        self.maximumCommandSize = maximumCommandSize
        self.maximumAppendSize = maximumAppendSize
        self.maximumAppendMessages = maximumAppendMessages
        self.maximumNestingDepth = maximumNestingDepth
        self.maximumSequenceRanges = maximumSequenceRanges
        self.maximumSearchKeys = maximumSearchKeys
        self.maximumDiscardedLiteralSize = maximumDiscardedLiteralSize
    }

    /// The largest `nz-number`/`number` (RFC 9051 §9: unsigned 32-bit).
    public static let maximumNumber = UInt64(UInt32.max)

    /// The largest `number64` and `mod-sequence-value` (RFC 9051 §9, RFC 7162 §7: 63-bit).
    public static let maximumNumber64 = UInt64(Int64.max)
}
