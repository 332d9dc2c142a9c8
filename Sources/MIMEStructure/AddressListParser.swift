import MailCore

/// Reads an RFC 5322 address list (From, To, Cc, …) into ENVELOPE address structures,
/// group markers included.
///
///     address-list = (address *("," address)) / obs-addr-list
///     address      = mailbox / group
///     mailbox      = name-addr / addr-spec
///     name-addr    = [display-name] angle-addr
///     angle-addr   = [CFWS] "<" addr-spec ">" [CFWS] / obs-angle-addr
///     group        = display-name ":" [group-list] ";" [CFWS]
///     addr-spec    = local-part "@" domain
///     obs-angle-addr = [CFWS] "<" obs-route addr-spec ">" [CFWS]
///     obs-route    = obs-domain-list ":"
///     obs-local-part = word *("." word)
///     obs-domain   = atom *("." atom)
///     obs-phrase   = word *(word / "." / CFWS)
///
/// Two steps, neither recursive: the value is cut into tokens (atoms, quoted strings,
/// domain literals, comments, specials), then each address is the run of tokens up to
/// a "," or ";" outside angle brackets. Anything goes: empty list elements are skipped
/// (obs-addr-list), an unterminated group or angle address ends with the field, a
/// mailbox with only a comment for a name (`jdoe@example.org (John Doe)`) gets the
/// comment as its name, as UW IMAP and Dovecot do, and text that is no address still
/// gives an entry with `MISSING_MAILBOX`/`MISSING_DOMAIN` rather than vanishing.
///
/// - SeeAlso: RFC 5322 §3.2 (lexical tokens), §3.4 (address specification), §4.4
///   (obsolete addressing)
enum AddressListParser {
    static func parse(_ value: [UInt8], limit: Int) -> [EnvelopeAddress] {
        let tokens = tokenize(value)
        var result: [EnvelopeAddress] = []
        var isInGroup = false
        var index = 0

        while index < tokens.count, result.count < limit {
            let token = tokens[index]
            if token.isSpecial(",") || token.kind == .comment {
                index += 1
                continue
            }
            if token.isSpecial(";") {
                if isInGroup {
                    result.append(.groupEnd)
                    isInGroup = false
                }
                index += 1
                continue
            }

            // The extent of one address: up to "," or ";" outside an angle address, or up
            // to the ":" of a group's display name.
            var end = index
            var angleOpen = false
            var angleClosed = false
            var groupColon: Int? = nil
            scan: while end < tokens.count {
                let current = tokens[end]
                if current.kind == .special, let special = current.text.first {
                    switch special {
                    case UInt8(ascii: "<"):
                        angleOpen = true
                    case UInt8(ascii: ">"):
                        if angleOpen { angleClosed = true }
                    case UInt8(ascii: ","):
                        // Inside <…> a comma belongs to an obsolete route.
                        if !angleOpen || angleClosed { break scan }
                    case UInt8(ascii: ";"):
                        break scan
                    case UInt8(ascii: ":"):
                        if !angleOpen, !isInGroup {
                            groupColon = end
                            break scan
                        }
                    default:
                        break
                    }
                }
                end += 1
            }

            if let colon = groupColon {
                result.append(.groupStart(phrase(tokens[index..<colon])))
                isInGroup = true
                index = colon + 1
                continue
            }
            if let address = mailbox(tokens[index..<end]) {
                result.append(address)
            }
            index = max(end, index + 1)
        }
        if isInGroup {
            // An unterminated group (or one cut by the limit) ends with the field, so
            // that group markers always come in pairs.
            result.append(.groupEnd)
        }
        return result
    }

    // MARK: - Addresses

    /// One mailbox (name-addr or addr-spec); nil when the tokens hold nothing but
    /// comments.
    static func mailbox(_ tokens: ArraySlice<AddressToken>) -> EnvelopeAddress? {
        guard tokens.contains(where: { $0.kind != .comment }) else { return nil }

        if let open = tokens.firstIndex(where: { $0.isSpecial("<") }) {
            let close = tokens[(open + 1)...].firstIndex(where: { $0.isSpecial(">") }) ?? tokens.endIndex
            let displayName = phrase(tokens[tokens.startIndex..<open])
            var inner = tokens[(open + 1)..<close]
            var route: [UInt8]? = nil
            // obs-route = obs-domain-list ":", e.g. <@node.test:mary@example.net>
            if let first = inner.first(where: { $0.kind != .comment }), first.isSpecial("@"),
                let colon = inner.firstIndex(where: { $0.isSpecial(":") })
            {
                route = joined(inner[inner.startIndex..<colon])
                inner = inner[(colon + 1)...]
            }
            var address = addrSpec(inner)
            address.name = displayName.isEmpty ? nil : displayName
            address.adl = route
            if displayName.isEmpty, let comment = trailingComment(tokens[close...]) {
                address.name = comment
            }
            return address
        }

        var address = addrSpec(tokens)
        if address.name == nil, let comment = trailingComment(tokens) {
            address.name = comment
        }
        return address
    }

    /// The last non-empty comment among `tokens`, trimmed: the name of
    /// `jdoe@example.org (John Doe)`.
    private static func trailingComment(_ tokens: ArraySlice<AddressToken>) -> [UInt8]? {
        guard let comment = tokens.last(where: { $0.kind == .comment }) else { return nil }
        let text = Array(MIMEGrammar.trimmed(comment.text[...]))
        return text.isEmpty ? nil : text
    }

    ///     addr-spec = local-part "@" domain
    ///
    /// The last "@" separates local part and domain. Without one, a single word is a
    /// local part with a missing domain; several words are a name with neither.
    static func addrSpec(_ tokens: ArraySlice<AddressToken>) -> EnvelopeAddress {
        let words = tokens.filter { $0.kind != .comment }
        guard let at = words.lastIndex(where: { $0.isSpecial("@") }) else {
            if words.count > 1, words.dropFirst().contains(where: { $0.isPrecededBySpace }) {
                return EnvelopeAddress(
                    name: phrase(words[...]), mailbox: EnvelopeAddress.missingMailbox,
                    host: EnvelopeAddress.missingDomain)
            }
            let local = localPart(words[...])
            return EnvelopeAddress(
                mailbox: local.isEmpty ? EnvelopeAddress.missingMailbox : local, host: EnvelopeAddress.missingDomain)
        }
        let local = localPart(words[..<at])
        let domain = joined(words[(at + 1)...])
        return EnvelopeAddress(
            mailbox: local.isEmpty ? EnvelopeAddress.missingMailbox : local,
            host: domain.isEmpty ? EnvelopeAddress.missingDomain : domain)
    }

    ///     local-part = dot-atom / quoted-string / obs-local-part
    ///
    /// The words are joined. A local part that needs quoting (it came quoted and is not
    /// a dot-atom, `"john doe"`) keeps its quotes, so that a client can put
    /// `mailbox "@" host` back together; `"john".doe` becomes `john.doe`.
    static func localPart(_ words: ArraySlice<AddressToken>) -> [UInt8] {
        var plain: [UInt8] = []
        var hadQuotedString = false
        for word in words {
            if word.kind == .quotedString { hadQuotedString = true }
            plain.append(contentsOf: word.text)
        }
        guard hadQuotedString, !isDotAtom(plain) else { return plain }
        var quoted: [UInt8] = [UInt8(ascii: "\"")]
        for byte in plain {
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { quoted.append(UInt8(ascii: "\\")) }
            quoted.append(byte)
        }
        quoted.append(UInt8(ascii: "\""))
        return quoted
    }

    ///     dot-atom-text = 1*atext *("." 1*atext)     ; RFC 5322 §3.2.3, UTF-8 allowed (RFC 6532)
    static func isDotAtom(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        var previousWasDot = true
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousWasDot { return false }
                previousWasDot = true
            } else {
                guard byte >= 0x80 || MailAddress.isAtext(byte) else { return false }
                previousWasDot = false
            }
        }
        return !previousWasDot
    }

    /// The tokens' text run together without spaces: domains (`test . example` is
    /// `test.example`, RFC 5322 §4.4) and routes.
    static func joined(_ tokens: ArraySlice<AddressToken>) -> [UInt8] {
        var output: [UInt8] = []
        for token in tokens where token.kind != .comment {
            output.append(contentsOf: token.text)
        }
        return output
    }

    ///     display-name = phrase
    ///     phrase       = 1*word / obs-phrase
    ///
    /// Words joined by single spaces where whitespace or a comment separated them;
    /// quoted strings lose their quotes; comments are dropped.
    static func phrase(_ tokens: ArraySlice<AddressToken>) -> [UInt8] {
        var output: [UInt8] = []
        for token in tokens where token.kind != .comment {
            if token.isPrecededBySpace, !output.isEmpty { output.append(MIMEGrammar.space) }
            output.append(contentsOf: token.text)
        }
        return output
    }

    // MARK: - Tokens

    /// A lexical token of a structured header field (RFC 5322 §3.2).
    struct AddressToken: Hashable {
        enum Kind {
            /// A run of atext (and 8-bit octets, RFC 6532, and anything else that is not
            /// a special).
            case atom
            /// The content of a quoted string, quoted pairs undone.
            case quotedString
            /// A domain literal with its brackets.
            case domainLiteral
            /// The content of a comment.
            case comment
            /// One of `< > : ; @ , .`
            case special
        }

        var kind: Kind
        var text: [UInt8]
        /// Whether whitespace or a comment came right before the token.
        var isPrecededBySpace: Bool

        func isSpecial(_ character: Unicode.Scalar) -> Bool {
            kind == .special && text.count == 1 && text[0] == UInt8(ascii: character)
        }
    }

    static func isSpecialCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "@"),
            UInt8(ascii: ","), UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }

    static func tokenize(_ value: [UInt8]) -> [AddressToken] {
        var scanner = StructuredFieldScanner(value)
        var tokens: [AddressToken] = []
        var sawSpace = false
        while let byte = scanner.current {
            if MIMEGrammar.isWhitespace(byte) {
                sawSpace = true
                scanner.index += 1
            } else if byte == UInt8(ascii: "(") {
                tokens.append(AddressToken(kind: .comment, text: scanner.readComment(), isPrecededBySpace: sawSpace))
                sawSpace = true
            } else if byte == UInt8(ascii: "\"") {
                tokens.append(
                    AddressToken(kind: .quotedString, text: scanner.readQuotedString(), isPrecededBySpace: sawSpace))
                sawSpace = false
            } else if byte == UInt8(ascii: "[") {
                tokens.append(
                    AddressToken(kind: .domainLiteral, text: readDomainLiteral(&scanner), isPrecededBySpace: sawSpace))
                sawSpace = false
            } else if isSpecialCharacter(byte) {
                tokens.append(AddressToken(kind: .special, text: [byte], isPrecededBySpace: sawSpace))
                scanner.index += 1
                sawSpace = false
            } else {
                let start = scanner.index
                while let next = scanner.current, !MIMEGrammar.isWhitespace(next), !isSpecialCharacter(next),
                    next != UInt8(ascii: "("), next != UInt8(ascii: "\""), next != UInt8(ascii: "[")
                {
                    scanner.index += 1
                }
                tokens.append(
                    AddressToken(
                        kind: .atom, text: Array(value[start..<scanner.index]), isPrecededBySpace: sawSpace))
                sawSpace = false
            }
        }
        return tokens
    }

    ///     domain-literal = [CFWS] "[" *([FWS] dtext) [FWS] "]" [CFWS]
    ///
    /// Kept with its brackets, whitespace dropped; unterminated, it runs to the end.
    private static func readDomainLiteral(_ scanner: inout StructuredFieldScanner) -> [UInt8] {
        var text: [UInt8] = [UInt8(ascii: "[")]
        scanner.index += 1
        while let byte = scanner.current {
            scanner.index += 1
            if byte == UInt8(ascii: "]") {
                text.append(byte)
                return text
            }
            if byte == UInt8(ascii: "\\"), let escaped = scanner.current {
                text.append(escaped)
                scanner.index += 1
                continue
            }
            if !MIMEGrammar.isWhitespace(byte) { text.append(byte) }
        }
        text.append(UInt8(ascii: "]"))
        return text
    }
}
