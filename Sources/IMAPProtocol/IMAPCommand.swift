/// A command from the client: its tag and what it asks for.
///
///     C: A142 SELECT INBOX
///        IMAPCommand(tag: "A142", kind: .select(.inbox, .init()))
///     C: A003 STORE 2:4 +FLAGS (\Deleted)
///        IMAPCommand(tag: "A003", kind: .store(2:4, StoreFlags(.add, [.deleted]), unchangedSince: nil))
///     C: a UID FETCH 300:* (FLAGS) (CHANGEDSINCE 12345)
///        IMAPCommand(tag: "a", kind: .uidFetch(300:*, [.flags], FetchModifiers(changedSince: 12345)))
///
/// DONE, which ends IDLE, and the client's lines during AUTHENTICATE are not commands:
/// `IMAPCommandFramer` reports them as `.idleDone` and `.authenticationResponse`.
///
/// Carries passwords, SASL data and messages: `description` redacts them, and the value
/// shows nothing to reflection.
///
/// - SeeAlso: RFC 9051 §6 (commands), §9 (command); RFC 3501 §6
public struct IMAPCommand: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    ///     tag = 1*<any ASTRING-CHAR except "+">
    public var tag: String
    public var kind: Kind

    public init(tag: String, kind: Kind) {
        self.tag = tag
        self.kind = kind
    }

    public enum Kind: Hashable, Sendable {
        // MARK: Any state (RFC 9051 §6.1)

        /// `CAPABILITY`
        case capability
        /// `NOOP`
        case noop
        /// `LOGOUT`
        case logout

        // MARK: Not authenticated (§6.2)

        /// `STARTTLS`
        case startTLS
        /// `AUTHENTICATE mechanism [initial-response]` (RFC 4959 SASL-IR): the mechanism
        /// upper-cased, the initial response base64-decoded (`=` is an empty one, `[]`).
        case authenticate(mechanism: String, initialResponse: [UInt8]?)
        /// `LOGIN userid password`
        case login(username: String, password: String)

        // MARK: Authenticated (§6.3)

        /// `ENABLE capability…` (RFC 5161), upper-cased.
        case enable([String])
        /// `SELECT mailbox [(CONDSTORE / QRESYNC (…))]`
        case select(MailboxName, SelectParameters)
        /// `EXAMINE mailbox […]`: SELECT read-only.
        case examine(MailboxName, SelectParameters)
        /// `CREATE mailbox [(USE (\Sent …))]` (RFC 6154 §3)
        case create(MailboxName, specialUse: [SpecialUse])
        /// `DELETE mailbox`
        case delete(MailboxName)
        /// `RENAME from to`
        case rename(from: MailboxName, to: MailboxName)
        /// `SUBSCRIBE mailbox`
        case subscribe(MailboxName)
        /// `UNSUBSCRIBE mailbox`
        case unsubscribe(MailboxName)
        /// `LIST`, basic or extended (RFC 5258, RFC 5819, RFC 6154).
        case list(ListArguments)
        /// `LSUB reference pattern` (RFC 3501 §6.3.9)
        case lsub(reference: MailboxName, pattern: String)
        /// `NAMESPACE`
        case namespace
        /// `STATUS mailbox (items)`
        case status(MailboxName, [StatusAttribute])
        /// `APPEND mailbox message…`, one or more messages (RFC 3502 MULTIAPPEND).
        case append(MailboxName, [AppendMessage])
        /// `IDLE` (RFC 2177); ended by DONE (`IMAPCommandFramer.Output.idleDone`).
        case idle

        // MARK: Selected (§6.4)

        /// `CHECK` (RFC 3501 §6.4.1; gone in IMAP4rev2, where it is a NOOP).
        case check
        /// `CLOSE`
        case close
        /// `UNSELECT` (RFC 3691)
        case unselect
        /// `EXPUNGE`
        case expunge
        /// `UID EXPUNGE uids` (RFC 4315)
        case uidExpunge(SequenceSet)
        /// `SEARCH …`
        case search(SearchArguments)
        /// `UID SEARCH …`
        case uidSearch(SearchArguments)
        /// `FETCH set items [(modifiers)]`
        case fetch(SequenceSet, [FetchAttribute], FetchModifiers)
        /// `UID FETCH uids items [(modifiers)]`
        case uidFetch(SequenceSet, [FetchAttribute], FetchModifiers)
        /// `STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags`
        case store(SequenceSet, StoreFlags, unchangedSince: UInt64?)
        /// `UID STORE …`
        case uidStore(SequenceSet, StoreFlags, unchangedSince: UInt64?)
        /// `COPY set mailbox`
        case copy(SequenceSet, MailboxName)
        /// `UID COPY uids mailbox`
        case uidCopy(SequenceSet, MailboxName)
        /// `MOVE set mailbox` (RFC 6851)
        case move(SequenceSet, MailboxName)
        /// `UID MOVE uids mailbox`
        case uidMove(SequenceSet, MailboxName)
    }

    /// The command name as the client would write it, upper-case: `UID FETCH`.
    public var name: String { kind.name }

    /// The tag and the command with its arguments, never a password, SASL data or
    /// message content: `A1 LOGIN "fred" <redacted>`.
    public var description: String { "\(tag) \(kind)" }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

extension IMAPCommand.Kind: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The command name, upper-case.
    public var name: String {
        switch self {
        case .capability: return "CAPABILITY"
        case .noop: return "NOOP"
        case .logout: return "LOGOUT"
        case .startTLS: return "STARTTLS"
        case .authenticate: return "AUTHENTICATE"
        case .login: return "LOGIN"
        case .enable: return "ENABLE"
        case .select: return "SELECT"
        case .examine: return "EXAMINE"
        case .create: return "CREATE"
        case .delete: return "DELETE"
        case .rename: return "RENAME"
        case .subscribe: return "SUBSCRIBE"
        case .unsubscribe: return "UNSUBSCRIBE"
        case .list: return "LIST"
        case .lsub: return "LSUB"
        case .namespace: return "NAMESPACE"
        case .status: return "STATUS"
        case .append: return "APPEND"
        case .idle: return "IDLE"
        case .check: return "CHECK"
        case .close: return "CLOSE"
        case .unselect: return "UNSELECT"
        case .expunge: return "EXPUNGE"
        case .uidExpunge: return "UID EXPUNGE"
        case .search: return "SEARCH"
        case .uidSearch: return "UID SEARCH"
        case .fetch: return "FETCH"
        case .uidFetch: return "UID FETCH"
        case .store: return "STORE"
        case .uidStore: return "UID STORE"
        case .copy: return "COPY"
        case .uidCopy: return "UID COPY"
        case .move: return "MOVE"
        case .uidMove: return "UID MOVE"
        }
    }

    /// The command name and its arguments, with the password, the SASL initial
    /// response and message content left out; client strings are quoted and escaped.
    public var description: String {
        switch self {
        case .capability, .noop, .logout, .startTLS, .namespace, .idle, .check, .close, .unselect, .expunge:
            return name
        case .authenticate(let mechanism, let initialResponse):
            return "AUTHENTICATE \(mechanism)" + (initialResponse == nil ? "" : " <redacted>")
        case .login(let username, _):
            return "LOGIN \(String(reflecting: username)) <redacted>"
        case .enable(let capabilities):
            return "ENABLE " + capabilities.joined(separator: " ")
        case .select(let mailbox, let parameters), .examine(let mailbox, let parameters):
            return "\(name) \(mailbox) \(parameters)"
        case .create(let mailbox, let specialUse):
            return "CREATE \(mailbox) \(specialUse)"
        case .delete(let mailbox), .subscribe(let mailbox), .unsubscribe(let mailbox):
            return "\(name) \(mailbox)"
        case .rename(let from, let to):
            return "RENAME \(from) \(to)"
        case .list(let arguments):
            return "LIST \(arguments)"
        case .lsub(let reference, let pattern):
            return "LSUB \(reference) \(String(reflecting: pattern))"
        case .status(let mailbox, let items):
            return "STATUS \(mailbox) \(items.map(\.rawValue))"
        case .append(let mailbox, let messages):
            // AppendMessage describes itself without its data.
            return "APPEND \(mailbox) \(messages)"
        case .uidExpunge(let set):
            return "UID EXPUNGE \(set)"
        case .search(let arguments), .uidSearch(let arguments):
            return "\(name) \(arguments)"
        case .fetch(let set, let attributes, let modifiers), .uidFetch(let set, let attributes, let modifiers):
            return "\(name) \(set) \(attributes) \(modifiers)"
        case .store(let set, let flags, let unchangedSince), .uidStore(let set, let flags, let unchangedSince):
            let modifier = unchangedSince.map { " UNCHANGEDSINCE \($0)" } ?? ""
            return "\(name) \(set)\(modifier) \(flags)"
        case .copy(let set, let mailbox), .uidCopy(let set, let mailbox), .move(let set, let mailbox),
            .uidMove(let set, let mailbox):
            return "\(name) \(set) \(mailbox)"
        }
    }

    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}

// MARK: - Arguments

extension IMAPCommand {
    /// SELECT and EXAMINE parameters (RFC 4466 §2.1).
    ///
    ///     select-params = SP "(" select-param *(SP select-param) ")"
    ///     select-param  = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP
    ///                     mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    ///
    ///     C: A142 SELECT INBOX (CONDSTORE)
    ///
    /// - SeeAlso: RFC 7162 §3.1.8 (CONDSTORE), §3.2.5 (QRESYNC)
    public struct SelectParameters: Hashable, Sendable {
        public var condStore: Bool
        public var qresync: QResyncParameters?

        public init(condStore: Bool = false, qresync: QResyncParameters? = nil) {
            self.condStore = condStore
            self.qresync = qresync
        }
    }

    /// What a QRESYNC client already knows about the mailbox (RFC 7162 §3.2.5).
    ///
    ///     seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    public struct QResyncParameters: Hashable, Sendable {
        public var uidValidity: UInt32
        public var modSeq: UInt64
        /// UIDs the client knows; never `*` or `$`.
        public var knownUIDs: SequenceSet?
        /// Message numbers and the UIDs they had, to speed up the server's answer.
        public var knownSequenceSet: SequenceSet?
        public var knownUIDSet: SequenceSet?

        public init(
            uidValidity: UInt32, modSeq: UInt64, knownUIDs: SequenceSet? = nil, knownSequenceSet: SequenceSet? = nil,
            knownUIDSet: SequenceSet? = nil
        ) {
            self.uidValidity = uidValidity
            self.modSeq = modSeq
            self.knownUIDs = knownUIDs
            self.knownSequenceSet = knownSequenceSet
            self.knownUIDSet = knownUIDSet
        }
    }

    /// LIST's arguments, basic or extended.
    ///
    ///     list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    ///            [SP list-return-opts]
    ///     mbox-or-pat = list-mailbox / patterns
    ///     patterns = "(" list-mailbox *(SP list-mailbox) ")"
    ///
    ///     C: A202 LIST "" %                         reference "", patterns ["%"]
    ///     C: A02 LIST (SUBSCRIBED) "" "*"           selection [.subscribed]
    ///     C: A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))
    ///
    /// - SeeAlso: RFC 9051 §6.3.9; RFC 5258 §3, §6; RFC 5819 §2; RFC 6154 §4
    public struct ListArguments: Hashable, Sendable {
        public var selectionOptions: [ListSelectionOption]
        public var reference: MailboxName
        /// One or more patterns with `*` and `%` wildcards, as sent.
        public var patterns: [String]
        public var returnOptions: [ListReturnOption]

        public init(
            selectionOptions: [ListSelectionOption] = [], reference: MailboxName, patterns: [String],
            returnOptions: [ListReturnOption] = []
        ) {
            self.selectionOptions = selectionOptions
            self.reference = reference
            self.patterns = patterns
            self.returnOptions = returnOptions
        }
    }

    ///     list-select-option = "SUBSCRIBED" / "REMOTE" / "RECURSIVEMATCH" /
    ///                          "SPECIAL-USE"                        ; RFC 6154
    ///
    /// Unknown options are refused with BAD (RFC 5258 §3: a server MUST).
    public enum ListSelectionOption: String, Hashable, Sendable {
        case subscribed = "SUBSCRIBED"
        case remote = "REMOTE"
        case recursiveMatch = "RECURSIVEMATCH"
        case specialUse = "SPECIAL-USE"
    }

    ///     return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
    ///                     "STATUS" SP "(" status-att *(SP status-att) ")"   ; RFC 5819
    public enum ListReturnOption: Hashable, Sendable {
        case subscribed
        case children
        case specialUse
        case status([StatusAttribute])
    }

    /// SEARCH's arguments.
    ///
    ///     search = "SEARCH" [search-return-opts] SP search-program
    ///     search-return-opts = SP "RETURN" SP "(" [search-return-opt
    ///                          *(SP search-return-opt)] ")"
    ///     search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
    ///
    ///     C: A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"
    ///
    /// - SeeAlso: RFC 9051 §6.4.4; RFC 4731 §3 (ESEARCH); RFC 5182 §2 (SAVE)
    public struct SearchArguments: Hashable, Sendable {
        /// `nil` without RETURN (an IMAP4rev1 client gets the SEARCH response); `[]` for
        /// `RETURN ()`, which means ALL (RFC 4731 §3.1).
        public var returnOptions: [SearchReturnOption]?
        /// "UTF-8" or "US-ASCII", upper-cased; others are refused by the parser with
        /// `NO [BADCHARSET]`.
        public var charset: String?
        public var key: SearchKey

        public init(returnOptions: [SearchReturnOption]? = nil, charset: String? = nil, key: SearchKey) {
            self.returnOptions = returnOptions
            self.charset = charset
            self.key = key
        }
    }

    ///     search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
    public enum SearchReturnOption: String, Hashable, Sendable {
        case min = "MIN"
        case max = "MAX"
        case all = "ALL"
        case count = "COUNT"
        /// RFC 5182: keep the result for `$`.
        case save = "SAVE"
    }

    /// One message of an APPEND.
    ///
    ///     append-message = append-opts SP append-data        ; RFC 3502
    ///     append-opts    = [SP flag-list] [SP date-time]
    ///     append-data    = literal / literal8                 ; RFC 3516
    public struct AppendMessage: Hashable, Sendable, CustomStringConvertible, CustomReflectable {
        public var flags: [Flag]
        public var internalDate: IMAPDateTime?
        /// The message, exactly as sent.
        public var data: [UInt8]
        /// Sent as `~{n}` (RFC 3516): may contain NUL.
        public var isBinary: Bool

        public init(flags: [Flag] = [], internalDate: IMAPDateTime? = nil, data: [UInt8], isBinary: Bool = false) {
            self.flags = flags
            self.internalDate = internalDate
            self.data = data
            self.isBinary = isBinary
        }

        public var description: String {
            "AppendMessage(\(data.count) octets, flags: \(flags), binary: \(isBinary))"
        }

        public var customMirror: Mirror { Mirror(self, children: [:]) }
    }

    /// STORE's flag change.
    ///
    ///     store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
    ///                       (flag-list / (flag *(SP flag)))
    public struct StoreFlags: Hashable, Sendable {
        public enum Operation: Hashable, Sendable {
            /// `FLAGS`
            case replace
            /// `+FLAGS`
            case add
            /// `-FLAGS`
            case remove
        }

        public var operation: Operation
        /// `.SILENT`: no untagged FETCH for the change.
        public var isSilent: Bool
        public var flags: [Flag]

        public init(_ operation: Operation, silent: Bool = false, _ flags: [Flag]) {
            self.operation = operation
            self.isSilent = silent
            self.flags = flags
        }
    }

    /// FETCH modifiers (RFC 4466 §2.4, RFC 7162).
    ///
    ///     fetch-modifier = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED"
    public struct FetchModifiers: Hashable, Sendable {
        public var changedSince: UInt64?
        /// RFC 7162 §3.2.6: only with UID FETCH and CHANGEDSINCE.
        public var vanished: Bool

        public init(changedSince: UInt64? = nil, vanished: Bool = false) {
            self.changedSince = changedSince
            self.vanished = vanished
        }
    }
}
