/// What a server announced in its reply to EHLO: its name and its service extensions.
///
///     S: 250-mx.example.org Hello client.example.com
///     S: 250-PIPELINING
///     S: 250-SIZE 52428800
///     S: 250-STARTTLS
///     S: 250-AUTH PLAIN LOGIN SCRAM-SHA-256
///     S: 250 SMTPUTF8
///
///     ehlo-ok-rsp    = ( "250" SP Domain [ SP ehlo-greet ] CRLF )
///                      / ( "250-" Domain [ SP ehlo-greet ] CRLF
///                      *( "250-" ehlo-line CRLF )
///                      "250" SP ehlo-line CRLF )
///     ehlo-line      = ehlo-keyword *( SP ehlo-param )
///     ehlo-keyword   = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-")
///     ehlo-param     = 1*(%d33-126)
///
/// Keywords match case-insensitively (RFC 5321 §2.4) and are kept upper-cased. Lines
/// that do not follow `ehlo-line` are ignored, not refused: a server's odd announcement
/// should cost it that extension, not the mail. A server that answered only HELO has
/// no extensions (`init(heloReply:)`).
///
/// - SeeAlso: RFC 5321 §4.1.1.1, §4.1.4; RFC 2920 (PIPELINING), RFC 1870 (SIZE),
///   RFC 6152 (8BITMIME), RFC 3030 (CHUNKING, BINARYMIME), RFC 3461 (DSN),
///   RFC 3207 (STARTTLS), RFC 4954 (AUTH), RFC 2034 (ENHANCEDSTATUSCODES),
///   RFC 6531 (SMTPUTF8)
public struct SMTPServerCapabilities: Sendable, Hashable {
    /// The first word of the reply's first line: the name the server gives itself.
    public var serverName: String
    /// Whether the server answered EHLO (false after a fallback to HELO).
    public var isExtended: Bool
    /// Each announced keyword, upper-cased, with its parameters as sent.
    public var extensions: [String: [String]]

    /// The capabilities in an EHLO reply.
    public init(ehloReply reply: SMTPReply) {
        self.serverName = Self.firstWord(of: reply.lines.first ?? "")
        self.isExtended = true
        var extensions: [String: [String]] = [:]
        for line in reply.lines.dropFirst() {
            guard let (keyword, parameters) = Self.parseEHLOLine(line) else { continue }
            // Pre-RFC 2554 servers (old Exchange, some appliances) announce "AUTH=LOGIN"
            // beside or instead of "AUTH LOGIN"; both name mechanisms.
            if keyword.hasPrefix("AUTH=") {
                extensions["AUTH", default: []] += [String(keyword.dropFirst(5))] + parameters
            } else if keyword == "AUTH" {
                extensions["AUTH", default: []] += parameters
            } else {
                extensions[keyword] = parameters
            }
        }
        self.extensions = extensions
    }

    /// A server that answered HELO: no extensions.
    public init(heloReply reply: SMTPReply) {
        self.serverName = Self.firstWord(of: reply.lines.first ?? "")
        self.isExtended = false
        self.extensions = [:]
    }

    /// Whether `keyword` (upper-case) was announced.
    public func supports(_ keyword: String) -> Bool { extensions[keyword] != nil }

    /// RFC 2920
    public var supportsPipelining: Bool { supports("PIPELINING") }
    /// RFC 6152
    public var supports8BITMIME: Bool { supports("8BITMIME") }
    /// RFC 6531
    public var supportsSMTPUTF8: Bool { supports("SMTPUTF8") }
    /// RFC 3030 §2
    public var supportsChunking: Bool { supports("CHUNKING") }
    /// RFC 3030 §3 (usable only with CHUNKING)
    public var supportsBinaryMIME: Bool { supports("BINARYMIME") }
    /// RFC 3461 §4
    public var supportsDSN: Bool { supports("DSN") }
    /// RFC 3207 §4
    public var supportsStartTLS: Bool { supports("STARTTLS") }
    /// RFC 2034 §3
    public var supportsEnhancedStatusCodes: Bool { supports("ENHANCEDSTATUSCODES") }
    /// RFC 1870 §3: the announced size; `SIZE` alone or `SIZE 0` means no fixed limit.
    ///
    ///     size-param = [1*DIGIT]
    public var supportsSize: Bool { supports("SIZE") }

    /// The fixed message size limit, or nil when none was announced.
    public var maximumMessageSize: Int? {
        guard let value = extensions["SIZE"]?.first, !value.isEmpty, value.utf8.count <= 18,
            value.utf8.allSatisfy(SMTPGrammar.isDigit), let size = Int(value), size > 0
        else { return nil }
        return size
    }

    /// RFC 4954 §3: the SASL mechanisms offered, upper-cased, in the server's order.
    ///
    ///     auth-param = "AUTH" 1*(SP sasl-mech)    ; ehlo-line form
    ///     sasl-mech  = 1*20mech-char
    ///     mech-char  = UPPER-ALPHA / DIGIT / HYPHEN / UNDERSCORE
    public var authMechanisms: [String] {
        var seen: Set<String> = []
        return (extensions["AUTH"] ?? []).compactMap { name in
            let upper = String(decoding: name.utf8.map(Self.upperCased), as: UTF8.self)
            guard (1...20).contains(upper.utf8.count),
                upper.utf8.allSatisfy({ SMTPGrammar.isLetterOrDigit($0) || $0 == 0x2D || $0 == 0x5F }),
                seen.insert(upper).inserted
            else { return nil }
            return upper
        }
    }

    /// One line after the first.
    ///
    ///     ehlo-line      = ehlo-keyword *( SP ehlo-param )
    static func parseEHLOLine(_ line: String) -> (String, [String])? {
        let words = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let first = words.first else { return nil }
        let keywordBytes = Array(first.utf8)
        // "AUTH=…" is the one tolerated deviation from ehlo-keyword (see init).
        let keywordEnd = keywordBytes.firstIndex(of: UInt8(ascii: "=")) ?? keywordBytes.count
        let keyword = keywordBytes[..<keywordEnd]
        guard let head = keyword.first, SMTPGrammar.isLetterOrDigit(head), keyword.count <= 64,
            keyword.allSatisfy({ SMTPGrammar.isLetterOrDigit($0) || $0 == UInt8(ascii: "-") })
        else { return nil }
        if keywordEnd < keywordBytes.count && !SMTPGrammar.matches(keyword, "AUTH") { return nil }
        let parameters = words.dropFirst().map(String.init)
        guard parameters.allSatisfy({ $0.utf8.allSatisfy { (33...126).contains($0) } }) else { return nil }
        return (String(decoding: keywordBytes.map(upperCased), as: UTF8.self), parameters)
    }

    /// The first word of a reply line: the server's name in a greeting or an EHLO reply.
    public static func firstWord(of line: String) -> String {
        String(line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true).first ?? "")
    }

    static func upperCased(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte
    }
}
