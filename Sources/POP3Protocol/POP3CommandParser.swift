import MailCore

/// Why a command line was refused, as the `-ERR` response to send.
public struct POP3ParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public let response: POP3Response
    /// The keyword is not a POP3 command, or the line is binary (a NUL): a first line
    /// like that ends the session (STYLE.md §4).
    public let isUnrecognized: Bool

    init(_ text: String, isUnrecognized: Bool = false) {
        self.response = .err(text)
        self.isUnrecognized = isUnrecognized
    }

    public var description: String { response.description }

    static let unrecognized = POP3ParseError("Unknown command", isUnrecognized: true)
    static let lineTooLong = POP3ParseError("Line too long")
    static let invalidCharacters = POP3ParseError("Invalid characters in command")
    static let invalidMessageNumber = POP3ParseError("Invalid message number")
    static let messageNumberTooLarge = POP3ParseError("Message number too large")
    static let invalidLineCount = POP3ParseError("Invalid number of lines")
    static let lineCountTooLarge = POP3ParseError("Number of lines too large")
    static func syntax(_ usage: String) -> POP3ParseError { POP3ParseError("Syntax: \(usage)") }
}

/// Parses one command line (without its CRLF) into a `POP3Command`.
///
///     command = keyword *(SP param) CRLF    ;255 octets maximum
///     keyword = 3*4VCHAR
///     param   = 1*VCHAR
///
/// Keywords match ASCII case-insensitively on bytes (RFC 1939 §3). Leniencies, each on
/// purpose: arguments may be separated (and followed) by more than one space, as
/// Dovecot accepts; `USER` takes the rest of the line, trimmed, so that a name is never
/// cut at a space. `PASS` takes everything after "PASS " unchanged: a password may
/// begin or end with spaces (RFC 1939 §7 allows spaces in it).
///
/// Refused: NUL anywhere (reported as unrecognised: binary input is not POP3), CR or LF
/// inside the line, ill-formed UTF-8, lines over `POP3Limits.maximumCommandLength`
/// except PASS and AUTH (the caller bounds those by its configured line length).
///
/// - SeeAlso: RFC 2449 §3 (grammar), §4 (255 octets), §9 (formal syntax); RFC 1939 §3
public enum POP3CommandParser {
    public static func parse(_ line: [UInt8]) -> Result<POP3Command, POP3ParseError> {
        do throws(POP3ParseError) {
            return .success(try parseCommand(line))
        } catch {
            return .failure(error)
        }
    }

    private enum Keyword: CaseIterable {
        case user, pass, apop, quit, stat, list, retr, dele, noop, rset, top, uidl, capa, stls, auth

        var name: String {
            switch self {
            case .user: return "USER"
            case .pass: return "PASS"
            case .apop: return "APOP"
            case .quit: return "QUIT"
            case .stat: return "STAT"
            case .list: return "LIST"
            case .retr: return "RETR"
            case .dele: return "DELE"
            case .noop: return "NOOP"
            case .rset: return "RSET"
            case .top: return "TOP"
            case .uidl: return "UIDL"
            case .capa: return "CAPA"
            case .stls: return "STLS"
            case .auth: return "AUTH"
            }
        }

        init?(_ bytes: ArraySlice<UInt8>) {
            guard bytes.count == 3 || bytes.count == 4,
                let keyword = Self.allCases.first(where: { POP3CommandParser.matches(bytes, $0.name) })
            else { return nil }
            self = keyword
        }
    }

    private static func parseCommand(_ line: [UInt8]) throws(POP3ParseError) -> POP3Command {
        // A NUL is never POP3: binary input (a TLS ClientHello on port 110, a scanner)
        // counts as an unrecognised command, so a first line like that ends the session.
        guard !line.contains(0) else { throw .unrecognized }
        let space = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
        guard let keyword = Keyword(line[..<space]) else { throw .unrecognized }
        let hasArgument = space < line.endIndex
        let rest = hasArgument ? line[(space + 1)...] : line[line.endIndex...]

        switch keyword {
        case .pass, .auth:
            // RFC 5034 §4 lets AUTH lines grow with the initial response; passwords may be
            // long. The caller bounds these lines by its configured maximum.
            break
        default:
            guard line.count <= POP3Limits.maximumCommandLength else { throw .lineTooLong }
        }
        // The framing removed the line end; a CR or LF left inside could only split a
        // response or a log line later.
        guard !line.contains(13), !line.contains(10) else { throw .invalidCharacters }
        guard String(validating: line, as: UTF8.self) != nil else { throw .invalidCharacters }

        let arguments = rest.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        switch keyword {
        case .user: return .user(try parseUser(rest))
        case .pass: return .pass(try parsePassword(rest))
        case .apop: return .apop  // refused by the state machine whatever its arguments
        case .quit: return try noArguments(arguments, .quit)
        case .stat: return try noArguments(arguments, .stat)
        case .noop: return try noArguments(arguments, .noop)
        case .rset: return try noArguments(arguments, .rset)
        case .capa: return try noArguments(arguments, .capa)
        case .stls: return try noArguments(arguments, .stls)
        case .list: return .list(try optionalMessageNumber(arguments, usage: "LIST [message-number]"))
        case .uidl: return .uidl(try optionalMessageNumber(arguments, usage: "UIDL [message-number]"))
        case .retr: return .retr(try requiredMessageNumber(arguments, usage: "RETR message-number"))
        case .dele: return .dele(try requiredMessageNumber(arguments, usage: "DELE message-number"))
        case .top: return try parseTop(arguments)
        case .auth: return try parseAuth(arguments)
        }
    }

    // MARK: - Arguments

    private static func noArguments(_ arguments: [ArraySlice<UInt8>], _ command: POP3Command) throws(POP3ParseError)
        -> POP3Command
    {
        guard arguments.isEmpty else { throw .syntax("\(command.keyword) takes no arguments") }
        return command
    }

    ///     user = "USER" SP name        ; RFC 1939 §7
    private static func parseUser(_ rest: ArraySlice<UInt8>) throws(POP3ParseError) -> String {
        var name = rest
        while name.first == UInt8(ascii: " ") { name = name.dropFirst() }
        while name.last == UInt8(ascii: " ") { name = name.dropLast() }
        guard !name.isEmpty else { throw .syntax("USER name") }
        guard name.count <= POP3Limits.maximumUserLength else { throw POP3ParseError("User name too long") }
        // Control characters have no place in a login and would end up in logs.
        guard name.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }), let text = String(validating: name, as: UTF8.self)
        else { throw .invalidCharacters }
        return text
    }

    ///     pass = "PASS" SP string      ; RFC 1939 §7: the rest of the line
    private static func parsePassword(_ rest: ArraySlice<UInt8>) throws(POP3ParseError) -> String {
        guard !rest.isEmpty, let password = String(validating: rest, as: UTF8.self) else {
            throw .syntax("PASS password")
        }
        return password
    }

    private static func optionalMessageNumber(_ arguments: [ArraySlice<UInt8>], usage: String)
        throws(POP3ParseError) -> Int?
    {
        guard arguments.count <= 1 else { throw .syntax(usage) }
        guard let argument = arguments.first else { return nil }
        return try parseMessageNumber(argument)
    }

    private static func requiredMessageNumber(_ arguments: [ArraySlice<UInt8>], usage: String)
        throws(POP3ParseError) -> Int
    {
        guard arguments.count == 1, let argument = arguments.first else { throw .syntax(usage) }
        return try parseMessageNumber(argument)
    }

    ///     top = "TOP" SP msg SP n      ; RFC 1939 §7: n is non-negative
    private static func parseTop(_ arguments: [ArraySlice<UInt8>]) throws(POP3ParseError) -> POP3Command {
        guard arguments.count == 2, let first = arguments.first, let second = arguments.last else {
            throw .syntax("TOP message-number lines")
        }
        let number = try parseMessageNumber(first)
        switch parseDecimal(second) {
        case .value(let lines): return .top(number, lines: lines)
        case .invalid: throw .invalidLineCount
        case .tooLarge: throw .lineCountTooLarge
        }
    }

    ///     msg = 1*DIGIT                ; RFC 1939 §5: a message number, never 0
    ///
    /// No sign, no spaces, no hex; the value is bounded before it could overflow.
    static func parseMessageNumber(_ bytes: ArraySlice<UInt8>) throws(POP3ParseError) -> Int {
        switch parseDecimal(bytes) {
        case .value(let number):
            guard number >= 1 else { throw .invalidMessageNumber }
            return number
        case .invalid: throw .invalidMessageNumber
        case .tooLarge: throw .messageNumberTooLarge
        }
    }

    enum DecimalValue: Equatable {
        case value(Int)
        case invalid
        case tooLarge
    }

    /// `1*DIGIT` as a value in 0...`POP3Limits.maximumMessageNumber`. Each step checks
    /// `value * 10 + digit <= maximum` before computing it, so nothing can overflow
    /// whatever the length (leading zeros are fine).
    static func parseDecimal(_ bytes: ArraySlice<UInt8>) -> DecimalValue {
        guard !bytes.isEmpty, bytes.allSatisfy(isDigit) else { return .invalid }
        let maximum = POP3Limits.maximumMessageNumber
        var value = 0
        for byte in bytes {
            let digit = Int(byte &- UInt8(ascii: "0"))
            guard value <= (maximum - digit) / 10 else { return .tooLarge }
            value = value * 10 + digit
        }
        return .value(value)
    }

    ///     auth-command     = "AUTH" SP sasl-mech [SP initial-response]
    ///     initial-response = base64 / "="
    ///     sasl-mech        = 1*20mech-char      ; RFC 4422 §3.1
    ///     mech-char        = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    ///
    /// Lower-case mechanism names are accepted and upper-cased (clients send them).
    /// `AUTH` alone lists the mechanisms (not in RFC 5034; see `.authMechanisms`).
    ///
    /// - SeeAlso: RFC 5034 §4
    private static func parseAuth(_ arguments: [ArraySlice<UInt8>]) throws(POP3ParseError) -> POP3Command {
        guard let mechanism = arguments.first else { return .authMechanisms }
        guard arguments.count <= 2, mechanism.count <= 20,
            mechanism.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { throw .syntax("AUTH [mechanism [initial-response]]") }
        let name = String(decoding: mechanism, as: UTF8.self).uppercased()
        let response = arguments.count == 2 ? arguments.last.map { String(decoding: $0, as: UTF8.self) } : nil
        return .auth(mechanism: name, initialResponse: response)
    }

    // MARK: - Character classes

    static func isDigit(_ byte: UInt8) -> Bool { ASCII.isDigit(byte) }

    static func isLetterOrDigit(_ byte: UInt8) -> Bool { ASCII.isLetterOrDigit(byte) }

    /// ASCII case-insensitive comparison of `bytes` with an upper-case ASCII keyword.
    static func matches(_ bytes: ArraySlice<UInt8>, _ keyword: String) -> Bool { ASCII.matches(bytes, keyword: keyword) }
}
