/// The text IMAP SEARCH looks at.
///
///     SUBJECT/FROM/TO/CC/BCC/HEADER  decodedHeaderValues(named:)
///     BODY                           searchableBodyText()
///     TEXT                           searchableHeaderText() and searchableBodyText()
///
/// Header values have their RFC 2047 encoded words decoded; bodies of text/* parts have
/// their transfer encoding undone and are converted to UTF-8 when their charset is one
/// `Charset` converts (else read as UTF-8 or windows-1252). Non-text parts are not
/// searched (their content is not text). Match with `TextSearch.containsCaseInsensitive`.
///
/// - SeeAlso: RFC 9051 §6.4.4 (SEARCH: "In all search keys that use strings, a message
///   matches the key if the string is a substring of the associated text matching
///   type"; case-insensitive), RFC 2047 §6.3, RFC 2045 §6
extension MessageStructure {
    /// The values of every `name` field of the message header, unfolded and with encoded
    /// words decoded.
    public func decodedHeaderValues(named name: String) -> [String] {
        root.header.fields(named: name).map { EncodedWord.decode($0.unfoldedValue) }
    }

    /// Every header field of the message, its parts and the messages they hold, one
    /// `name: value` line each, values decoded as in `decodedHeaderValues(named:)`.
    public func searchableHeaderText() -> String {
        var text = ""
        for part in allParts {
            for field in part.header.fields {
                text += field.name
                text += ": "
                text += EncodedWord.decode(field.unfoldedValue)
                text += "\n"
            }
        }
        return text
    }

    /// The decoded text of every text/* part, in document order, separated by line
    /// feeds.
    public func searchableBodyText() -> String {
        var text = ""
        for part in allParts {
            guard case .single = part.content, !part.isOpaque, part.contentType.isText else { continue }
            if !text.isEmpty { text += "\n" }
            text += decodedText(of: part)
        }
        return text
    }

    /// The content of a part as text: transfer encoding undone (an unknown one leaves
    /// the octets as they are), converted from the part's charset.
    public func decodedText(of part: BodyPart) -> String {
        let body = octets(in: part.bodyRange)
        let decoded = part.contentTransferEncoding.decode(body) ?? Array(body)
        if let charset = part.contentType.charset, let text = Charset.decode(decoded, charset: charset) {
            return text
        }
        return Charset.decodeUnlabelled(decoded)
    }
}

/// Case-insensitive substring matching for SEARCH.
///
/// Both strings are lower-cased with Unicode's default case mapping
/// (`String.lowercased()`, which covers ASCII and the simple and special mappings of
/// other scripts), then compared as UTF-8 octets with Knuth–Morris–Pratt, so the time is
/// linear in both lengths whatever they hold. No normalisation: "é" precomposed does not
/// match "e" + U+0301.
///
///     TextSearch.containsCaseInsensitive("Keld Jørn Simonsen", "JØRN")   true
///
/// - SeeAlso: RFC 9051 §6.4.4; Unicode §3.13 (default case operations)
public enum TextSearch {
    public static func containsCaseInsensitive(_ haystack: String, _ needle: String) -> Bool {
        let pattern = fold(needle)
        guard !pattern.isEmpty else { return true }
        return contains(fold(haystack), pattern)
    }

    /// `text` as `containsCaseInsensitive` compares it: lower-cased UTF-8. For a text
    /// searched several times (one message, many SEARCH keys), fold it once and use
    /// `contains`.
    public static func fold(_ text: String) -> [UInt8] { Array(text.lowercased().utf8) }

    /// Whether `pattern` occurs in `text` (Knuth–Morris–Pratt); both already folded.
    public static func contains(_ text: [UInt8], _ pattern: [UInt8]) -> Bool {
        guard !pattern.isEmpty else { return true }
        guard pattern.count <= text.count else { return false }
        // failure[i]: the length of the longest proper prefix of pattern[0...i] that is
        // also a suffix of it.
        var failure = [Int](repeating: 0, count: pattern.count)
        var length = 0
        var index = 1
        while index < pattern.count {
            if pattern[index] == pattern[length] {
                length += 1
                failure[index] = length
                index += 1
            } else if length > 0 {
                length = failure[length - 1]
            } else {
                failure[index] = 0
                index += 1
            }
        }
        var matched = 0
        for byte in text {
            while matched > 0, byte != pattern[matched] {
                matched = failure[matched - 1]
            }
            if byte == pattern[matched] {
                matched += 1
                if matched == pattern.count { return true }
            }
        }
        return false
    }
}
