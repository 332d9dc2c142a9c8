/// Why a command line could not be parsed, as the reply to send.
public struct SMTPParseError: Error, Hashable, Sendable {
    public let reply: SMTPReply
    /// The verb was not one we know (as opposed to a known verb with bad arguments).
    public let isUnrecognized: Bool

    init(_ reply: SMTPReply, isUnrecognized: Bool = false) {
        self.reply = reply
        self.isUnrecognized = isUnrecognized
    }

    static let unrecognized = SMTPParseError(.commandUnrecognized, isUnrecognized: true)
    static func syntax(_ text: String) -> SMTPParseError { SMTPParseError(.parameterSyntax(text)) }
}

/// Parses one command line (without CRLF) into an `SMTPCommand`.
///
/// Keywords are matched case-insensitively on bytes (RFC 5321 §2.4). Leniencies, each
/// on purpose: a space after `MAIL FROM:`/`RCPT TO:` is tolerated (Outlook and many
/// scripts send `MAIL FROM: <a@b>`; Postfix accepts it too unless
/// `strict_rfc821_envelopes`).
///
/// - SeeAlso: RFC 5321 §4.1.1, §4.1.2
public enum SMTPCommandParser {
    public static func parse(_ line: [UInt8]) -> Result<SMTPCommand, SMTPParseError> {
        let space = line.firstIndex(of: UInt8(ascii: " ")) ?? line.endIndex
        let verb = line[..<space]
        let argument = space < line.endIndex ? line[(space + 1)...] : []
        // A NUL is never SMTP: binary input (a TLS ClientHello on port 25, a scanner)
        // counts as an unrecognized command, so a first line like that closes the session.
        guard line.allSatisfy({ $0 != 0 }) else { return .failure(.unrecognized) }
        do {
            return .success(try parseCommand(verb: verb, argument: argument))
        } catch {
            return .failure(error)
        }
    }

    private static func parseCommand(verb: ArraySlice<UInt8>, argument: ArraySlice<UInt8>) throws(SMTPParseError) -> SMTPCommand {
        func noArgument(_ command: SMTPCommand, _ name: String) throws(SMTPParseError) -> SMTPCommand {
            guard trimmed(argument).isEmpty else { throw .syntax("Syntax: \(name)") }
            return command
        }
        switch verb.count {
        case 4:
            if SMTPGrammar.matches(verb, "EHLO") { return .ehlo(try parseHelloName(argument, "EHLO")) }
            if SMTPGrammar.matches(verb, "HELO") { return .helo(try parseHelloName(argument, "HELO")) }
            if SMTPGrammar.matches(verb, "MAIL") { return try parseMail(argument) }
            if SMTPGrammar.matches(verb, "RCPT") { return try parseRcpt(argument) }
            if SMTPGrammar.matches(verb, "DATA") { return try noArgument(.data, "DATA") }
            if SMTPGrammar.matches(verb, "BDAT") { return try parseBdat(argument) }
            if SMTPGrammar.matches(verb, "RSET") { return try noArgument(.rset, "RSET") }
            if SMTPGrammar.matches(verb, "NOOP") { return .noop }  // RFC 5321 §4.1.1.9: a parameter is ignored
            if SMTPGrammar.matches(verb, "QUIT") { return try noArgument(.quit, "QUIT") }
            if SMTPGrammar.matches(verb, "VRFY") { return .vrfy(try requiredText(argument, "VRFY address")) }
            if SMTPGrammar.matches(verb, "EXPN") { return .expn(try requiredText(argument, "EXPN list")) }
            if SMTPGrammar.matches(verb, "HELP") {
                let text = trimmed(argument)
                return .help(text.isEmpty ? nil : String(decoding: text, as: UTF8.self))
            }
            if SMTPGrammar.matches(verb, "AUTH") { return try parseAuth(argument) }
        case 8:
            if SMTPGrammar.matches(verb, "STARTTLS") { return try noArgument(.startTLS, "STARTTLS") }
        default:
            break
        }
        throw .unrecognized
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice = slice.dropFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice = slice.dropLast() }
        return slice
    }

    private static func requiredText(_ argument: ArraySlice<UInt8>, _ usage: String) throws(SMTPParseError) -> String {
        let text = trimmed(argument)
        guard !text.isEmpty, let string = String(validating: Array(text), as: UTF8.self) else {
            throw .syntax("Syntax: \(usage)")
        }
        return string
    }

    ///     ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
    ///
    /// Any non-empty printable name is accepted and recorded, as Postfix does by
    /// default (`smtpd_helo_restrictions` empty): many clients send bare host names.
    private static func parseHelloName(_ argument: ArraySlice<UInt8>, _ verb: String) throws(SMTPParseError) -> String {
        let text = trimmed(argument)
        guard !text.isEmpty, text.count <= 255, text.allSatisfy({ $0 > 0x20 && $0 != 0x7F }),
            let name = String(validating: Array(text), as: UTF8.self)
        else { throw .syntax("Syntax: \(verb) hostname") }
        return name
    }

    ///     mail = "MAIL FROM:" Reverse-path [SP Mail-parameters] CRLF
    private static func parseMail(_ argument: ArraySlice<UInt8>) throws(SMTPParseError) -> SMTPCommand {
        guard argument.count >= 5, SMTPGrammar.matches(argument.prefix(5), "FROM:") else {
            throw .syntax("Syntax: MAIL FROM:<address>")
        }
        var scanner = Scanner(argument.dropFirst(5))
        scanner.skipSpaces()  // leniency: "MAIL FROM: <a@b>"
        let path = try parseReversePath(&scanner)
        let parameters = try parseMailParameters(try parseParameterList(&scanner))
        return .mail(path, parameters)
    }

    ///     rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" /
    ///            Forward-path ) [SP Rcpt-parameters] CRLF
    private static func parseRcpt(_ argument: ArraySlice<UInt8>) throws(SMTPParseError) -> SMTPCommand {
        guard argument.count >= 3, SMTPGrammar.matches(argument.prefix(3), "TO:") else {
            throw .syntax("Syntax: RCPT TO:<address>")
        }
        var scanner = Scanner(argument.dropFirst(3))
        scanner.skipSpaces()
        let path = try parseForwardPath(&scanner)
        let parameters = try parseRecipientParameters(try parseParameterList(&scanner))
        return .rcpt(path, parameters)
    }

    ///     bdat-cmd = "BDAT" SP chunk-size [ SP end-marker ] CR LF
    ///     chunk-size = 1*DIGIT
    ///     end-marker = "LAST"
    ///
    /// - SeeAlso: RFC 3030 §2
    private static func parseBdat(_ argument: ArraySlice<UInt8>) throws(SMTPParseError) -> SMTPCommand {
        let parts = trimmed(argument).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard parts.count == 1 || parts.count == 2, let digits = parts.first, !digits.isEmpty, digits.count <= 15,
            digits.allSatisfy(SMTPGrammar.isDigit), let size = Int(String(decoding: digits, as: UTF8.self))
        else { throw .syntax("Syntax: BDAT size [LAST]") }
        if parts.count == 2 {
            guard SMTPGrammar.matches(parts[1], "LAST") else { throw .syntax("Syntax: BDAT size [LAST]") }
            return .bdat(size: size, isLast: true)
        }
        return .bdat(size: size, isLast: false)
    }

    ///     auth-command = "AUTH" SP sasl-mech [SP initial-response]
    ///     initial-response = base64 / "="
    ///
    /// - SeeAlso: RFC 4954 §4
    private static func parseAuth(_ argument: ArraySlice<UInt8>) throws(SMTPParseError) -> SMTPCommand {
        let parts = trimmed(argument).split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
        guard parts.count == 1 || parts.count == 2, let mechanism = parts.first, mechanism.count <= 20,
            mechanism.allSatisfy({ SMTPGrammar.isLetterOrDigit($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") })
        else { throw .syntax("Syntax: AUTH mechanism [initial-response]") }
        let name = String(decoding: mechanism, as: UTF8.self).uppercased()
        let response = parts.count == 2 ? String(decoding: parts[1], as: UTF8.self) : nil
        return .auth(mechanism: name, initialResponse: response)
    }

    // MARK: - Paths

    ///     Reverse-path = Path / "<>"
    static func parseReversePath(_ scanner: inout Scanner) throws(SMTPParseError) -> ReversePath {
        if scanner.consume("<>") { return .null }
        return .mailbox(try parsePath(&scanner))
    }

    static func parseForwardPath(_ scanner: inout Scanner) throws(SMTPParseError) -> ForwardPath {
        var lookahead = scanner
        if lookahead.consumeCaseInsensitive("<POSTMASTER>") {
            scanner = lookahead
            return .postmaster
        }
        return .mailbox(try parsePath(&scanner))
    }

    ///     Path = "<" [ A-d-l ":" ] Mailbox ">"
    ///     A-d-l = At-domain *( "," At-domain )   ; source route, ignored (RFC 5321 §4.1.2, App. C)
    ///     At-domain = "@" Domain
    static func parsePath(_ scanner: inout Scanner) throws(SMTPParseError) -> SMTPMailbox {
        guard scanner.consume("<") else { throw .syntax("Error: address must be in angle brackets <>") }
        if scanner.peek == UInt8(ascii: "@") {
            repeat {
                guard scanner.consume("@") else { throw .syntax("Error: bad source route") }
                _ = try parseDomain(&scanner)
            } while scanner.consume(",")
            guard scanner.consume(":") else { throw .syntax("Error: bad source route") }
        }
        let mailbox = try parseMailbox(&scanner)
        guard scanner.consume(">") else { throw .syntax("Error: bad address syntax") }
        return mailbox
    }

    ///     Mailbox = Local-part "@" ( Domain / address-literal )
    ///     Local-part = Dot-string / Quoted-string
    static func parseMailbox(_ scanner: inout Scanner) throws(SMTPParseError) -> SMTPMailbox {
        let (local, isQuoted) = try parseLocalPart(&scanner)
        guard scanner.consume("@") else { throw .syntax("Error: bad address syntax") }
        if scanner.peek == UInt8(ascii: "[") {
            return SMTPMailbox(localPart: local, domain: .addressLiteral(try parseAddressLiteral(&scanner)), isQuoted: isQuoted)
        }
        return SMTPMailbox(localPart: local, domain: .name(try parseDomain(&scanner)), isQuoted: isQuoted)
    }

    ///     Dot-string = Atom *("." Atom)
    ///     Atom = 1*atext                       ; UTF8-non-ascii allowed too (RFC 6531 §3.3)
    ///     Quoted-string = DQUOTE *QcontentSMTP DQUOTE
    ///     QcontentSMTP = qtextSMTP / quoted-pairSMTP
    ///     quoted-pairSMTP = %d92 %d32-126
    ///     qtextSMTP = %d32-33 / %d35-91 / %d93-126
    static func parseLocalPart(_ scanner: inout Scanner) throws(SMTPParseError) -> (String, Bool) {
        var bytes: [UInt8] = []
        var isQuoted = false
        if scanner.consume("\"") {
            isQuoted = true
            while true {
                guard let byte = scanner.next() else { throw .syntax("Error: unterminated quoted string") }
                if byte == UInt8(ascii: "\"") { break }
                if byte == UInt8(ascii: "\\") {
                    guard let escaped = scanner.next(), escaped >= 32, escaped <= 126 else {
                        throw .syntax("Error: bad quoted pair")
                    }
                    bytes.append(escaped)
                } else {
                    guard (byte >= 32 && byte <= 126) || byte >= 0x80 else { throw .syntax("Error: bad quoted string") }
                    bytes.append(byte)
                }
            }
        } else {
            var previousDot = true
            while let byte = scanner.peek, byte != UInt8(ascii: "@") {
                if byte == UInt8(ascii: ".") {
                    guard !previousDot else { throw .syntax("Error: bad address syntax") }
                    previousDot = true
                } else {
                    guard SMTPGrammar.isAtext(byte) || byte >= 0x80 else { throw .syntax("Error: bad address syntax") }
                    previousDot = false
                }
                bytes.append(byte)
                scanner.advance()
            }
            guard !bytes.isEmpty, !previousDot else { throw .syntax("Error: bad address syntax") }
        }
        // RFC 5321 §4.5.3.1.1: 64 octets
        guard bytes.count <= 64 else { throw .syntax("Error: local part too long") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .syntax("Error: invalid UTF-8 in address") }
        return (text, isQuoted)
    }

    ///     Domain = sub-domain *("." sub-domain)
    ///     sub-domain = Let-dig [Ldh-str]       ; or a U-label (RFC 6531 §3.3)
    static func parseDomain(_ scanner: inout Scanner) throws(SMTPParseError) -> String {
        var bytes: [UInt8] = []
        var labelLength = 0
        while let byte = scanner.peek {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, bytes.last != UInt8(ascii: "-") else { throw .syntax("Error: bad domain") }
                labelLength = 0
            } else if SMTPGrammar.isLetterOrDigit(byte) || byte >= 0x80 {
                labelLength += 1
            } else if byte == UInt8(ascii: "-") {
                guard labelLength > 0 else { throw .syntax("Error: bad domain") }
                labelLength += 1
            } else {
                break
            }
            guard labelLength <= 63 else { throw .syntax("Error: bad domain") }
            bytes.append(byte)
            scanner.advance()
        }
        guard labelLength > 0, bytes.last != UInt8(ascii: "-"), bytes.count <= 255 else { throw .syntax("Error: bad domain") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .syntax("Error: invalid UTF-8 in domain") }
        return text.lowercased()
    }

    ///     address-literal = "[" ( IPv4-address-literal / IPv6-address-literal /
    ///                       General-address-literal ) "]"
    static func parseAddressLiteral(_ scanner: inout Scanner) throws(SMTPParseError) -> String {
        guard scanner.consume("[") else { throw .syntax("Error: bad address literal") }
        var bytes: [UInt8] = []
        while let byte = scanner.next() {
            if byte == UInt8(ascii: "]") {
                guard !bytes.isEmpty else { throw .syntax("Error: bad address literal") }
                return String(decoding: bytes, as: UTF8.self)
            }
            // dcontent = %d33-90 / %d94-126
            guard (byte >= 33 && byte <= 90) || (byte >= 94 && byte <= 126), bytes.count < 64 else {
                throw .syntax("Error: bad address literal")
            }
            bytes.append(byte)
        }
        throw .syntax("Error: bad address literal")
    }

    // MARK: - Parameters

    ///     Mail-parameters = esmtp-param *(SP esmtp-param)
    ///     esmtp-param = esmtp-keyword ["=" esmtp-value]
    ///     esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
    ///     esmtp-value = 1*(%d33-60 / %d62-126)   ; UTF-8 too with SMTPUTF8 (RFC 6531 §3.3)
    static func parseParameterList(_ scanner: inout Scanner) throws(SMTPParseError) -> [(String, ArraySlice<UInt8>?)] {
        var parameters: [(String, ArraySlice<UInt8>?)] = []
        var seen: Set<String> = []
        while !scanner.isAtEnd {
            guard scanner.consume(" ") else { throw .syntax("Error: bad parameter syntax") }
            scanner.skipSpaces()
            if scanner.isAtEnd { break }
            let token = scanner.takeUntilSpace()
            let equals = token.firstIndex(of: UInt8(ascii: "="))
            let keyword = equals.map { token[token.startIndex..<$0] } ?? token
            guard let first = keyword.first, SMTPGrammar.isLetterOrDigit(first), keyword.count <= 32,
                keyword.allSatisfy({ SMTPGrammar.isLetterOrDigit($0) || $0 == UInt8(ascii: "-") })
            else { throw .syntax("Error: bad parameter syntax") }
            let name = String(decoding: keyword, as: UTF8.self).uppercased()
            var value: ArraySlice<UInt8>? = nil
            if let equals {
                let raw = token[(equals + 1)...]
                guard !raw.isEmpty, raw.allSatisfy({ ($0 >= 33 && $0 != 61 && $0 <= 126) || $0 >= 0x80 }) else {
                    throw .syntax("Error: bad parameter value for \(name)")
                }
                value = raw
            }
            guard seen.insert(name).inserted else { throw .syntax("Error: duplicate parameter \(name)") }
            guard parameters.count < 16 else { throw .syntax("Error: too many parameters") }
            parameters.append((name, value))
        }
        return parameters
    }

    static func parseMailParameters(_ list: [(String, ArraySlice<UInt8>?)]) throws(SMTPParseError) -> MailParameters {
        var parameters = MailParameters()
        for (name, value) in list {
            switch name {
            case "SIZE":
                // RFC 1870 §3: size-value = 1*20DIGIT
                guard let value, value.count <= 20, value.allSatisfy(SMTPGrammar.isDigit) else {
                    throw .syntax("Error: bad SIZE value")
                }
                parameters.size = Int(String(decoding: value, as: UTF8.self)) ?? Int.max
            case "BODY":
                guard let value, let body = MailParameters.Body(rawValue: String(decoding: value, as: UTF8.self).uppercased())
                else { throw .syntax("Error: bad BODY value") }
                parameters.body = body
            case "SMTPUTF8":
                guard value == nil else { throw .syntax("Error: SMTPUTF8 takes no value") }
                parameters.smtpUTF8 = true
            case "RET":
                guard let value, let ret = MailParameters.Return(rawValue: String(decoding: value, as: UTF8.self).uppercased())
                else { throw .syntax("Error: bad RET value") }
                parameters.ret = ret
            case "ENVID":
                // RFC 3461 §4.4: at most 100 characters
                guard let value, value.count <= 100, let decoded = SMTPGrammar.decodeXtext(value) else {
                    throw .syntax("Error: bad ENVID value")
                }
                parameters.envelopeID = decoded
            case "AUTH":
                guard let value, let decoded = SMTPGrammar.decodeXtext(value) else { throw .syntax("Error: bad AUTH value") }
                parameters.auth = decoded
            default:
                throw SMTPParseError(SMTPReply(555, .init(5, 5, 4), "Unsupported option: \(name)"))
            }
        }
        return parameters
    }

    static func parseRecipientParameters(_ list: [(String, ArraySlice<UInt8>?)]) throws(SMTPParseError) -> RecipientParameters {
        var parameters = RecipientParameters()
        for (name, value) in list {
            switch name {
            case "NOTIFY":
                // RFC 3461 §4.1: "NEVER" / 1#( "SUCCESS" / "FAILURE" / "DELAY" )
                guard let value else { throw .syntax("Error: bad NOTIFY value") }
                var notify: [RecipientParameters.Notify] = []
                for item in value.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                    guard let entry = RecipientParameters.Notify(rawValue: String(decoding: item, as: UTF8.self).uppercased()),
                        !notify.contains(entry)
                    else { throw .syntax("Error: bad NOTIFY value") }
                    notify.append(entry)
                }
                if notify.contains(.never) && notify.count > 1 { throw .syntax("Error: NOTIFY=NEVER stands alone") }
                parameters.notify = notify
            case "ORCPT":
                // RFC 3461 §4.2: orcpt-parameter = "ORCPT=" original-recipient-address
                //                original-recipient-address = addr-type ";" xtext
                guard let value, let semicolon = value.firstIndex(of: UInt8(ascii: ";")), semicolon > value.startIndex,
                    value.count <= 500,
                    let address = SMTPGrammar.decodeXtext(value[(semicolon + 1)...])
                else { throw .syntax("Error: bad ORCPT value") }
                let type = String(decoding: value[..<semicolon], as: UTF8.self)
                parameters.originalRecipient = "\(type);\(address)"
            default:
                throw SMTPParseError(SMTPReply(555, .init(5, 5, 4), "Unsupported option: \(name)"))
            }
        }
        return parameters
    }
}

/// A cursor over a line's bytes.
struct Scanner {
    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    var isAtEnd: Bool { index >= bytes.endIndex }
    var peek: UInt8? { index < bytes.endIndex ? bytes[index] : nil }

    mutating func advance() { index += 1 }

    mutating func next() -> UInt8? {
        guard index < bytes.endIndex else { return nil }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func consume(_ literal: String) -> Bool {
        let expected = Array(literal.utf8)
        guard bytes.endIndex - index >= expected.count else { return false }
        for (offset, byte) in expected.enumerated() where bytes[index + offset] != byte { return false }
        index += expected.count
        return true
    }

    mutating func consumeCaseInsensitive(_ literal: String) -> Bool {
        let count = literal.utf8.count
        guard bytes.endIndex - index >= count, SMTPGrammar.matches(bytes[index..<(index + count)], literal) else {
            return false
        }
        index += count
        return true
    }

    mutating func skipSpaces() {
        while peek == UInt8(ascii: " ") { index += 1 }
    }

    mutating func takeUntilSpace() -> ArraySlice<UInt8> {
        let start = index
        while let byte = peek, byte != UInt8(ascii: " ") { index += 1 }
        return bytes[start..<index]
    }
}
