/// A mailbox in an SMTP path, `Local-part "@" ( Domain / address-literal )`.
///
/// `localPart` is the decoded local part (quotes and quoted-pairs removed);
/// `isQuoted` records that it was a Quoted-string, which our directory never matches
/// (so `"user@other"@ours` can only be refused, never relayed).
///
/// - SeeAlso: RFC 5321 §4.1.2, RFC 6531 §3.3
public struct SMTPMailbox: Hashable, Sendable, CustomStringConvertible {
    public enum Domain: Hashable, Sendable {
        /// A domain name, lower-cased.
        case name(String)
        /// `[1.2.3.4]`, `[IPv6:…]` or a general literal, without the brackets.
        case addressLiteral(String)
    }

    public let localPart: String
    public let domain: Domain
    public let isQuoted: Bool

    public init(localPart: String, domain: Domain, isQuoted: Bool = false) {
        self.localPart = localPart
        self.domain = domain
        self.isQuoted = isQuoted
    }

    /// Whether any part uses UTF-8 (needs SMTPUTF8, RFC 6531 §3.4).
    public var isASCII: Bool {
        let domainText: String
        switch domain {
        case .name(let name): domainText = name
        case .addressLiteral(let literal): domainText = literal
        }
        return localPart.utf8.allSatisfy { $0 < 0x80 } && domainText.utf8.allSatisfy { $0 < 0x80 }
    }

    /// The domain name, or nil for an address literal.
    public var domainName: String? {
        if case .name(let name) = domain { return name }
        return nil
    }

    /// The wire form, quoting the local part when it needs it.
    public var description: String {
        let local: String
        if isQuoted || !Self.isDotString(localPart) {
            var quoted = "\""
            for scalar in localPart.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { quoted += "\\" }
                quoted.unicodeScalars.append(scalar)
            }
            local = quoted + "\""
        } else {
            local = localPart
        }
        switch domain {
        case .name(let name): return "\(local)@\(name)"
        case .addressLiteral(let literal): return "\(local)@[\(literal)]"
        }
    }

    static func isDotString(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else { return false }
        var previousDot = false
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousDot { return false }
                previousDot = true
            } else {
                previousDot = false
                if byte < 0x80 && !SMTPGrammar.isAtext(byte) { return false }
            }
        }
        return true
    }
}

/// The sender of a mail transaction; `.null` is the empty path used by bounces.
///
///     Reverse-path = Path / "<>"
///
/// - SeeAlso: RFC 5321 §4.1.2, §4.5.5 (null reverse-path for notifications)
public enum ReversePath: Hashable, Sendable, CustomStringConvertible {
    case null
    case mailbox(SMTPMailbox)

    public var description: String {
        switch self {
        case .null: return "<>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }
}

/// A recipient.
///
///     Forward-path = Path
///     Rcpt = "RCPT TO:" ( "<Postmaster@" Domain ">" / "<Postmaster>" / Forward-path ) …
///
/// - SeeAlso: RFC 5321 §4.1.1.3 (`<Postmaster>` without a domain must be accepted)
public enum ForwardPath: Hashable, Sendable, CustomStringConvertible {
    case postmaster
    case mailbox(SMTPMailbox)

    public var description: String {
        switch self {
        case .postmaster: return "<Postmaster>"
        case .mailbox(let mailbox): return "<\(mailbox)>"
        }
    }
}
