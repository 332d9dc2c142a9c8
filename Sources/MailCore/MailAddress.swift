/// A mailbox address `local-part@domain` as the directory and the protocols use it.
///
///     Mailbox        = Local-part "@" ( Domain / address-literal )
///     Local-part     = Dot-string / Quoted-string
///
/// This value is the *normalised* form: the domain is lower-cased (DNS names are
/// case-insensitive, RFC 5321 §2.4), the local part is kept as given. Directory
/// lookups compare local parts case-insensitively, like Postfix's virtual maps and
/// Dovecot's default `auth_username_format = %Lu`.
///
/// Quoted local parts and address literals are refused here: the directory never
/// stores them, and RFC 5321 §4.1.2 recommends against them. The SMTP parser has its
/// own full grammar and maps such paths to "not local".
///
/// - SeeAlso: RFC 5321 §4.1.2, RFC 6531 §3.3
public struct MailAddress: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLocalPartLength = 64  // RFC 5321 §4.5.3.1.1
    public static let maximumDomainLength = 255  // RFC 5321 §4.5.3.1.2

    public let localPart: String
    public let domain: String

    /// Parses `local@domain`; `nil` for anything that is not a plain dot-string
    /// mailbox with a valid domain name.
    public init?(_ text: String) {
        guard let at = text.lastIndex(of: "@") else { return nil }
        let local = String(text[..<at])
        let domainText = String(text[text.index(after: at)...])
        guard Self.isValidLocalPart(local), let domain = Self.normalizedDomain(domainText) else { return nil }
        self.localPart = local
        self.domain = domain
    }

    public init?(localPart: String, domain: String) {
        self.init(localPart + "@" + domain)
    }

    public var description: String { "\(localPart)@\(domain)" }

    /// The lookup key: local part and domain both lower-cased.
    public var canonical: String { "\(localPart.lowercased())@\(domain)" }

    ///     Dot-string = Atom *("." Atom)
    ///     Atom       = 1*atext
    ///
    /// UTF-8 (non-ASCII) characters are allowed as atext per RFC 6531 §3.3.
    public static func isValidLocalPart(_ local: String) -> Bool {
        let bytes = Array(local.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumLocalPartLength else { return false }
        var previousWasDot = true  // a leading dot is invalid
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if previousWasDot { return false }
                previousWasDot = true
                continue
            }
            previousWasDot = false
            guard byte >= 0x80 || isAtext(byte) else { return false }
        }
        return !previousWasDot  // a trailing dot is invalid
    }

    /// Validates and lower-cases a domain name (`Domain = sub-domain *("." sub-domain)`,
    /// RFC 5321 §4.1.2, with U-labels allowed per RFC 6531). A trailing root dot is
    /// refused: addresses never carry one.
    public static func normalizedDomain(_ text: String) -> String? {
        let domain = text.lowercased()
        let bytes = Array(domain.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumDomainLength else { return nil }
        for label in bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            // sub-domain = Let-dig [Ldh-str]; labels are at most 63 octets (RFC 1035 §2.3.4)
            guard !label.isEmpty, label.count <= 63 else { return nil }
            guard label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return nil }
            for byte in label {
                let isLetterDigit =
                    (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte >= 0x80
                guard isLetterDigit || byte == UInt8(ascii: "-") else { return nil }
            }
        }
        return domain
    }

    ///     atext = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" /
    ///             "-" / "/" / "=" / "?" / "^" / "_" / "`" / "{" / "|" / "}" / "~"
    ///
    /// - SeeAlso: RFC 5322 §3.2.3
    public static func isAtext(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// The address without its `+detail` (`alice+lists@example.com` → `alice@example.com`),
    /// canonical; nil when there is no detail. Postfix's `recipient_delimiter = +`.
    public var withoutDetail: String? {
        let local = localPart.lowercased()
        guard let plus = local.firstIndex(of: "+"), plus != local.startIndex else { return nil }
        return String(local[..<plus]) + "@" + domain
    }
}
