import SASL
/// Parses a complete IMAP command into an `IMAPCommand`.
///
/// Two entry points: `parse(_:limits:)` takes the command's bytes as they came over the
/// wire, literals and all (a fuzz target and tests use it; it runs them through
/// `IMAPCommandFramer`, so both paths apply the same limits), and the framer calls
/// `parse(frame:limits:)` once it has a whole command.
///
///     command = tag SP (command-any / command-auth / command-nonauth /
///               command-select) CRLF
///
/// Keywords match ASCII case-insensitively on bytes (RFC 9051 §9: "ABNF strings are
/// case-insensitive"); strings are decoded to `String` only after validation. Strict where
/// the grammar is unambiguous, with these leniencies, each on purpose:
/// - numbers may have leading zeros (`FETCH 01`); only the value is checked;
/// - the day of an APPEND date-time may be one digit without the padding space;
/// - CHANGEDSINCE 0 is accepted (it means every message), as Dovecot does.
///
/// Refused: NUL outside `~{n}` literals, CR and LF outside literals, ill-formed UTF-8 in
/// strings, control characters in mailbox names, binary literals anywhere but APPEND
/// data, numbers out of range (nz-number 1...4294967295; mod-sequences up to 2^63-1),
/// unknown commands and options, and anything over `IMAPLimits`.
///
/// - SeeAlso: RFC 9051 §9 (formal syntax), RFC 3501 §9
public enum IMAPCommandParser {
    /// Parses one command from its bytes: every line with its CRLF (the final CRLF may be
    /// left out) and the literal data after each `{n}`/`{n+}`/`~{n}` announcement, as a
    /// client sends them. Synchronising literals are taken as if "+" had been sent.
    /// Anything after the command is an error.
    public static func parse(
        _ bytes: some Collection<UInt8>, limits: IMAPLimits = IMAPLimits()
    )
        -> Result<IMAPCommand, IMAPParseError>
    {
        var framer = IMAPCommandFramer(limits: limits)
        var remaining = Array(bytes)[...]
        var hasFedFinalLine = false
        while true {
            if framer.wantsRawBytes != nil {
                guard !remaining.isEmpty else { break }
                framer.receive(raw: &remaining)
                continue
            }
            var line: ArraySlice<UInt8>
            if let newline = remaining.firstIndex(of: 10) {
                line = remaining[..<newline]
                if line.last == 13 { line = line.dropLast() }
                remaining = remaining[(newline + 1)...]
            } else {
                // The last line, without its CRLF (or the empty rest after a literal).
                guard !hasFedFinalLine else { break }
                hasFedFinalLine = true
                line = remaining
                remaining = remaining[remaining.endIndex...]
            }
            switch framer.receive(line: Array(line)) {
            case .command(let command)?:
                guard remaining.isEmpty else {
                    return .failure(IMAPParseError(.syntax, tag: command.tag, "Unexpected data after the command"))
                }
                return .success(command)
            case .error(let error)?:
                return .failure(error)
            case .idleDone?, .authenticationResponse?, .authenticationCancelled?:
                // Not reachable: the framer starts in command mode and nothing here
                // changes it.
                return .failure(IMAPParseError(.syntax, tag: nil, "Not a command"))
            case .continuationRequest?, nil:
                continue
            }
        }
        return .failure(IMAPParseError(.syntax, tag: nil, "Incomplete command"))
    }

    /// The tag at the start of a command; an error has no tag to answer with.
    private static func parseTag(_ parser: inout IMAPGrammarParser) -> Result<String, IMAPParseError> {
        do throws(IMAPSyntaxError) {
            return .success(try parser.parseTag())
        } catch {
            return .failure(IMAPParseError(error.kind, tag: nil, error.text))
        }
    }

    /// Parses a framed command (see `IMAPCommandFrame`).
    static func parse(frame: IMAPCommandFrame, limits: IMAPLimits) -> Result<IMAPCommand, IMAPParseError> {
        var parser = IMAPGrammarParser(frame, limits: limits)
        let tag: String
        switch parseTag(&parser) {
        case .success(let value): tag = value
        case .failure(let error): return .failure(error)
        }
        do throws(IMAPSyntaxError) {
            let kind = try parser.parseCommandBody()
            guard parser.scanner.isAtEnd else { throw .syntax("Unexpected data after the command") }
            return .success(IMAPCommand(tag: tag, kind: kind))
        } catch {
            return .failure(IMAPParseError(error.kind, tag: tag, error.text))
        }
    }

    /// The tag and command name at the start of a command's first line, for the framer
    /// to refuse unknown commands before asking for literal data, and to apply the APPEND
    /// limits to APPEND's message literals.
    static func parseHeader(_ text: ArraySlice<UInt8>) -> Result<IMAPCommandHeader, IMAPParseError> {
        var parser = IMAPGrammarParser(IMAPCommandFrame(text: Array(text), literals: []), limits: IMAPLimits())
        let tag: String
        switch parseTag(&parser) {
        case .success(let value): tag = value
        case .failure(let error): return .failure(error)
        }
        do throws(IMAPSyntaxError) {
            let name = try parser.parseCommandName()
            // The mailbox starts after "APPEND" and one space.
            var argumentsStart = parser.scanner.index
            if parser.scanner.peek == UInt8(ascii: " ") { argumentsStart += 1 }
            return .success(IMAPCommandHeader(tag: tag, name: name, argumentsStart: argumentsStart))
        } catch {
            return .failure(IMAPParseError(error.kind, tag: tag, error.text))
        }
    }
}

/// What the framer learns from a command's first line.
struct IMAPCommandHeader: Sendable {
    var tag: String
    var name: IMAPCommandName
    /// Where the arguments start in the command text.
    var argumentsStart: Int

    var isAppend: Bool { name == .append }
}

/// The commands by name; `UID` is followed by one of the `uid…` names.
enum IMAPCommandName: String, Sendable {
    case capability = "CAPABILITY"
    case noop = "NOOP"
    case logout = "LOGOUT"
    case startTLS = "STARTTLS"
    case authenticate = "AUTHENTICATE"
    case login = "LOGIN"
    case enable = "ENABLE"
    case select = "SELECT"
    case examine = "EXAMINE"
    case create = "CREATE"
    case delete = "DELETE"
    case rename = "RENAME"
    case subscribe = "SUBSCRIBE"
    case unsubscribe = "UNSUBSCRIBE"
    case list = "LIST"
    case lsub = "LSUB"
    case namespace = "NAMESPACE"
    case status = "STATUS"
    case append = "APPEND"
    case idle = "IDLE"
    case check = "CHECK"
    case close = "CLOSE"
    case unselect = "UNSELECT"
    case expunge = "EXPUNGE"
    case search = "SEARCH"
    case fetch = "FETCH"
    case store = "STORE"
    case copy = "COPY"
    case move = "MOVE"
    case uid = "UID"
    case uidExpunge = "UID EXPUNGE"
    case uidSearch = "UID SEARCH"
    case uidFetch = "UID FETCH"
    case uidStore = "UID STORE"
    case uidCopy = "UID COPY"
    case uidMove = "UID MOVE"
}

/// The recursive-descent parser over one framed command: one function per ABNF rule.
struct IMAPGrammarParser {
    var scanner: IMAPScanner
    let limits: IMAPLimits
    /// Open parentheses and NOT/OR levels, bounded by `maximumNestingDepth`.
    var depth = 0
    /// Search keys so far, bounded by `maximumSearchKeys`.
    var searchKeyCount = 0

    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")

    init(_ frame: IMAPCommandFrame, limits: IMAPLimits) {
        self.scanner = IMAPScanner(frame)
        self.limits = limits
    }

    // MARK: - Command

    ///     tag = 1*<any ASTRING-CHAR except "+">
    mutating func parseTag() throws(IMAPSyntaxError) -> String {
        let bytes = scanner.take(while: IMAPGrammar.isTagChar)
        if let next = scanner.peek, next != Self.space {
            throw IMAPSyntaxError(.unrecognized, "Invalid tag")
        }
        guard !bytes.isEmpty else {
            throw IMAPSyntaxError(.unrecognized, scanner.isAtEnd ? "Empty command line" : "Missing tag")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The command keyword after the tag (and `UID`'s subcommand).
    mutating func parseCommandName() throws(IMAPSyntaxError) -> IMAPCommandName {
        guard scanner.consume(Self.space) else { throw .syntax("Missing command") }
        let word = scanner.take(while: IMAPGrammar.isAtomChar)
        guard !word.isEmpty else { throw .syntax("Missing command") }
        guard word.count <= 16, let name = IMAPCommandName(rawValue: IMAPGrammar.upperString(word)),
            !name.rawValue.contains(" ")
        else { throw IMAPSyntaxError(.unrecognized, "Unknown command") }
        guard name == .uid else { return name }
        // uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)
        guard scanner.consume(Self.space) else { throw .syntax("Missing UID command") }
        let subcommand = scanner.take(while: IMAPGrammar.isAtomChar)
        guard subcommand.count <= 16,
            let uidName = IMAPCommandName(rawValue: "UID " + IMAPGrammar.upperString(subcommand))
        else { throw IMAPSyntaxError(.unrecognized, "Unknown UID command") }
        return uidName
    }

    /// Everything after the tag.
    mutating func parseCommandBody() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        let name = try parseCommandName()
        switch name {
        case .capability: return .capability
        case .noop: return .noop
        case .logout: return .logout
        case .startTLS: return .startTLS
        case .namespace: return .namespace
        case .idle: return .idle
        case .check: return .check
        case .close: return .close
        case .unselect: return .unselect
        case .expunge: return .expunge
        case .authenticate: return try parseAuthenticate()
        case .login: return try parseLogin()
        case .enable: return try parseEnable()
        case .select:
            let (mailbox, parameters) = try parseSelect()
            return .select(mailbox, parameters)
        case .examine:
            let (mailbox, parameters) = try parseSelect()
            return .examine(mailbox, parameters)
        case .create: return try parseCreate()
        case .delete:
            try expectSpace()
            return .delete(try parseMailbox())
        case .rename:
            try expectSpace()
            let from = try parseMailbox()
            try expectSpace()
            return .rename(from: from, to: try parseMailbox())
        case .subscribe:
            try expectSpace()
            return .subscribe(try parseMailbox())
        case .unsubscribe:
            try expectSpace()
            return .unsubscribe(try parseMailbox())
        case .list: return .list(try parseList())
        case .lsub:
            // lsub = "LSUB" SP mailbox SP list-mailbox
            try expectSpace()
            let reference = try parseMailbox()
            try expectSpace()
            return .lsub(reference: reference, pattern: try parseListMailbox())
        case .status: return try parseStatus()
        case .append: return try parseAppend()
        case .search: return .search(try parseSearch())
        case .uidSearch: return .uidSearch(try parseSearch())
        case .fetch:
            let (set, attributes, modifiers) = try parseFetch(isUID: false)
            return .fetch(set, attributes, modifiers)
        case .uidFetch:
            let (set, attributes, modifiers) = try parseFetch(isUID: true)
            return .uidFetch(set, attributes, modifiers)
        case .store:
            let (set, flags, unchangedSince) = try parseStore()
            return .store(set, flags, unchangedSince: unchangedSince)
        case .uidStore:
            let (set, flags, unchangedSince) = try parseStore()
            return .uidStore(set, flags, unchangedSince: unchangedSince)
        case .copy:
            let (set, mailbox) = try parseCopy()
            return .copy(set, mailbox)
        case .uidCopy:
            let (set, mailbox) = try parseCopy()
            return .uidCopy(set, mailbox)
        case .move:
            let (set, mailbox) = try parseCopy()
            return .move(set, mailbox)
        case .uidMove:
            let (set, mailbox) = try parseCopy()
            return .uidMove(set, mailbox)
        case .uidExpunge:
            // uid-expunge = "EXPUNGE" SP sequence-set          ; RFC 4315 §2.1
            try expectSpace()
            return .uidExpunge(try parseSequenceSet())
        case .uid:
            // parseCommandName never returns a bare UID.
            throw IMAPSyntaxError(.unrecognized, "Unknown UID command")
        }
    }

    // MARK: - Not authenticated

    ///     authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]
    ///     auth-type    = atom
    ///
    /// The mechanism name is checked as RFC 4422 §3.1 defines them (1*20 of upper-case
    /// letters, digits, "-" and "_"; lower case accepted) and upper-cased. The initial
    /// response (RFC 4959 §7) is decoded; "=" is an empty one.
    mutating func parseAuthenticate() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        try expectSpace()
        let mechanism = scanner.take(while: IMAPGrammar.isAtomChar)
        guard (1...20).contains(mechanism.count),
            mechanism.allSatisfy({ IMAPGrammar.isLetter($0) || IMAPGrammar.isDigit($0) || $0 == 0x2D || $0 == 0x5F })
        else { throw .syntax("Invalid mechanism name") }
        let name = IMAPGrammar.upperString(mechanism)
        guard scanner.consume(Self.space) else { return .authenticate(mechanism: name, initialResponse: nil) }
        let response = scanner.take(while: { Base64.value($0) != nil || $0 == UInt8(ascii: "=") })
        if response.count == 1, response.first == UInt8(ascii: "=") {
            return .authenticate(mechanism: name, initialResponse: [])
        }
        guard !response.isEmpty, let decoded = Base64.decode(response) else {
            throw .syntax("Invalid base64 in initial response")
        }
        return .authenticate(mechanism: name, initialResponse: decoded)
    }

    ///     login    = "LOGIN" SP userid SP password
    ///     userid   = astring
    ///     password = astring
    mutating func parseLogin() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        try expectSpace()
        let username = try parseAstringText("user name")
        try expectSpace()
        let password = try parseAstringText("password")
        return .login(username: username, password: password)
    }

    // MARK: - Authenticated

    ///     enable     = "ENABLE" 1*(SP capability)
    ///     capability = ("AUTH=" auth-type) / atom
    mutating func parseEnable() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        var capabilities: [String] = []
        repeat {
            try expectSpace()
            let atom = scanner.take(while: IMAPGrammar.isAtomChar)
            guard !atom.isEmpty else { throw .syntax("Expected a capability name") }
            capabilities.append(IMAPGrammar.upperString(atom))
        } while !scanner.isAtEnd
        return .enable(capabilities)
    }

    ///     copy = "COPY" SP sequence-set SP mailbox
    ///     move = "MOVE" SP sequence-set SP mailbox        ; RFC 6851 §3
    mutating func parseCopy() throws(IMAPSyntaxError) -> (SequenceSet, MailboxName) {
        try expectSpace()
        let set = try parseSequenceSet()
        try expectSpace()
        return (set, try parseMailbox())
    }

    // MARK: - Tokens

    mutating func expectSpace() throws(IMAPSyntaxError) {
        guard scanner.consume(Self.space) else {
            throw .syntax(scanner.isAtEnd ? "Missing arguments" : "Expected a space")
        }
    }

    mutating func expect(_ character: Unicode.Scalar, _ message: String) throws(IMAPSyntaxError) {
        guard scanner.consume(UInt8(ascii: character)) else { throw .syntax(message) }
    }

    /// Whether the next text is `keyword` (case-insensitive) followed by a non-atom
    /// character, the end, or a literal; consumes it if so.
    mutating func consumeKeyword(_ keyword: String) -> Bool {
        var lookahead = scanner
        let word = lookahead.take(while: IMAPGrammar.isAtomChar)
        guard IMAPGrammar.matches(word, keyword) else { return false }
        scanner = lookahead
        return true
    }

    ///     atom = 1*ATOM-CHAR
    mutating func parseAtom() throws(IMAPSyntaxError) -> ArraySlice<UInt8> {
        let atom = scanner.take(while: IMAPGrammar.isAtomChar)
        guard !atom.isEmpty else { throw .syntax("Expected an atom") }
        return atom
    }

    ///     astring = 1*ASTRING-CHAR / string
    mutating func parseAstring() throws(IMAPSyntaxError) -> [UInt8] {
        if scanner.isAtLiteral || scanner.peek == Self.quote { return try parseString() }
        let bytes = scanner.take(while: IMAPGrammar.isAstringChar)
        guard !bytes.isEmpty else {
            if let byte = scanner.peek, byte >= 0x80 { throw .syntax("Non-ASCII text must be quoted") }
            throw .syntax("Expected a string")
        }
        return Array(bytes)
    }

    /// An astring that must be UTF-8.
    mutating func parseAstringText(_ what: String) throws(IMAPSyntaxError) -> String {
        let bytes = try parseAstring()
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .syntax("Invalid UTF-8 in \(what)") }
        return text
    }

    ///     string = quoted / literal
    mutating func parseString() throws(IMAPSyntaxError) -> [UInt8] {
        if let literal = scanner.takeLiteral() {
            // literal8 is for APPEND data only (RFC 3516 §4.2); CHAR8 excludes NUL.
            guard !literal.isBinary else { throw .syntax("Binary literal not allowed here") }
            guard !literal.bytes.contains(0) else { throw .syntax("NUL in literal") }
            return literal.bytes
        }
        guard scanner.peek == Self.quote else { throw .syntax("Expected a string") }
        return try parseQuoted()
    }

    ///     quoted          = DQUOTE *QUOTED-CHAR DQUOTE
    ///     QUOTED-CHAR     = <any TEXT-CHAR except quoted-specials> /
    ///                       "\" quoted-specials / UTF8-2 / UTF8-3 / UTF8-4
    ///     quoted-specials = DQUOTE / "\"
    ///
    /// UTF-8 is allowed whatever the protocol revision (IMAP4rev1 clients that send it
    /// mean UTF-8 too), but must be well-formed. CR, LF and NUL are refused.
    mutating func parseQuoted() throws(IMAPSyntaxError) -> [UInt8] {
        guard scanner.consume(Self.quote) else { throw .syntax("Expected a quoted string") }
        var bytes: [UInt8] = []
        var hasEightBit = false
        while true {
            guard let byte = scanner.peek else { throw .syntax("Unterminated quoted string") }
            scanner.advance()
            switch byte {
            case Self.quote:
                if hasEightBit, String(validating: bytes, as: UTF8.self) == nil {
                    throw .syntax("Invalid UTF-8 in quoted string")
                }
                return bytes
            case Self.backslash:
                guard let escaped = scanner.peek, escaped == Self.quote || escaped == Self.backslash else {
                    throw .syntax("Invalid escape in quoted string")
                }
                scanner.advance()
                bytes.append(escaped)
            case 0, 10, 13:
                throw .syntax("Invalid character in quoted string")
            default:
                if byte >= 0x80 { hasEightBit = true }
                bytes.append(byte)
            }
        }
    }

    /// A number of at most `maximum`; `what` names it in the error for 0 where that is
    /// refused.
    mutating func parseNumber(maximum: UInt64, _ what: String) throws(IMAPSyntaxError) -> UInt64 {
        let digits = scanner.take(while: IMAPGrammar.isDigit)
        guard !digits.isEmpty else { throw .syntax("Expected a number") }
        guard let value = IMAPGrammar.decimal(digits, maximum: maximum) else { throw .syntax("Number too large") }
        return value
    }

    ///     number    = 1*DIGIT        ; unsigned 32-bit
    ///     nz-number = digit-nz *DIGIT
    mutating func parseNZNumber(_ what: String) throws(IMAPSyntaxError) -> UInt32 {
        let value = try parseNumber(maximum: IMAPLimits.maximumNumber, what)
        guard value > 0 else { throw .syntax("Invalid \(what) 0") }
        return UInt32(truncatingIfNeeded: value)
    }

    ///     number64 = 1*DIGIT         ; unsigned 63-bit
    mutating func parseNumber64(_ what: String) throws(IMAPSyntaxError) -> UInt64 {
        try parseNumber(maximum: IMAPLimits.maximumNumber64, what)
    }

    ///     mod-sequence-value  = 1*DIGIT   ; 1 <= n <= 9,223,372,036,854,775,807
    ///     mod-sequence-valzer = "0" / mod-sequence-value
    mutating func parseModSequence(allowZero: Bool) throws(IMAPSyntaxError) -> UInt64 {
        let value = try parseNumber(maximum: IMAPLimits.maximumNumber64, "mod-sequence")
        guard allowZero || value > 0 else { throw .syntax("Invalid mod-sequence 0") }
        return value
    }

    ///     sequence-set = (seq-number / seq-range) ["," sequence-set] / seq-last-command
    ///     seq-range    = seq-number ":" seq-number
    ///     seq-last-command = "$"                                  ; RFC 5182
    mutating func parseSequenceSet() throws(IMAPSyntaxError) -> SequenceSet {
        if scanner.consume(UInt8(ascii: "$")) { return .lastCommandResult }
        var ranges: [SequenceRange] = []
        repeat {
            guard ranges.count < limits.maximumSequenceRanges else {
                throw IMAPSyntaxError(.tooBig, "Too many ranges in sequence set")
            }
            let first = try parseSequenceNumber()
            var last = first
            if scanner.consume(UInt8(ascii: ":")) { last = try parseSequenceNumber() }
            ranges.append(SequenceRange(first, last))
        } while scanner.consume(UInt8(ascii: ","))
        return .ranges(ranges)
    }

    ///     seq-number = nz-number / "*"
    mutating func parseSequenceNumber() throws(IMAPSyntaxError) -> SequenceNumber {
        if scanner.consume(UInt8(ascii: "*")) { return .largest }
        guard let byte = scanner.peek, IMAPGrammar.isDigit(byte) else { throw .syntax("Invalid sequence set") }
        return .number(try parseNZNumber("sequence number"))
    }

    ///     mailbox = "INBOX" / astring
    mutating func parseMailbox() throws(IMAPSyntaxError) -> MailboxName {
        let bytes = try parseAstring()
        guard !bytes.contains(where: IMAPGrammar.isControl) else { throw .syntax("Invalid character in mailbox name") }
        guard let name = String(validating: bytes, as: UTF8.self) else {
            throw .syntax("Invalid UTF-8 in mailbox name")
        }
        return MailboxName(name)
    }

    ///     flag = "\Answered" / "\Flagged" / "\Deleted" / "\Seen" / "\Draft" /
    ///            flag-keyword / flag-extension
    mutating func parseFlag() throws(IMAPSyntaxError) -> Flag {
        if scanner.consume(Self.backslash) {
            let name = scanner.take(while: IMAPGrammar.isAtomChar)
            guard !name.isEmpty else { throw .syntax("Invalid flag") }
            return Flag.system(String(decoding: name, as: UTF8.self))
        }
        let keyword = scanner.take(while: IMAPGrammar.isAtomChar)
        guard !keyword.isEmpty else { throw .syntax("Invalid flag") }
        return .keyword(String(decoding: keyword, as: UTF8.self))
    }

    ///     flag-list = "(" [flag *(SP flag)] ")"
    mutating func parseFlagList() throws(IMAPSyntaxError) -> [Flag] {
        try expect("(", "Expected a flag list")
        var flags: [Flag] = []
        if scanner.consume(UInt8(ascii: ")")) { return flags }
        repeat {
            flags.append(try parseFlag())
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the flags")
        return flags
    }

    /// STORE and APPEND may set the five system flags and keywords only.
    func checkSettable(_ flags: [Flag]) throws(IMAPSyntaxError) {
        for flag in flags where !flag.isSettable {
            throw .syntax(flag == .recent ? "\\Recent cannot be set" : "Unknown system flag")
        }
    }

    ///     date = date-text / DQUOTE date-text DQUOTE
    mutating func parseDate() throws(IMAPSyntaxError) -> IMAPDate {
        let text: [UInt8]
        if scanner.peek == Self.quote {
            text = try parseQuoted()
        } else {
            text = Array(scanner.take(while: IMAPGrammar.isAtomChar))
        }
        guard let date = IMAPDate(dateText: text) else { throw .syntax("Invalid date") }
        return date
    }

    ///     date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    mutating func parseDateTime() throws(IMAPSyntaxError) -> IMAPDateTime {
        let text = try parseQuoted()
        guard let dateTime = IMAPDateTime(dateTimeText: text) else { throw .syntax("Invalid date-time") }
        return dateTime
    }

    /// One more level of parentheses or NOT/OR; the parse is abandoned on any error, so
    /// only the successful path calls `leaveNesting`.
    mutating func enterNesting() throws(IMAPSyntaxError) {
        depth += 1
        guard depth <= limits.maximumNestingDepth else { throw IMAPSyntaxError(.tooBig, "Too deeply nested") }
    }

    mutating func leaveNesting() {
        depth -= 1
    }
}
