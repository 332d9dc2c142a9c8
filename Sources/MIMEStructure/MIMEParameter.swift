/// One parameter of a Content-Type or Content-Disposition field, with RFC 2231
/// continuations joined and its charset and language read.
///
///     parameter       := attribute "=" value                        ; RFC 2045 §5.1
///     extended-parameter := (extended-initial-name "=" extended-initial-value) /
///                           (extended-other-names "=" extended-other-values)
///     extended-initial-value := [charset] "'" [language] "'" extended-other-values
///     extended-other-values  := *(ext-octet / attribute-char)     ; RFC 2231 §7
///
///     title*0*=us-ascii'en'This%20is%20even%20more%20
///     title*1*=%2A%2A%2Afun%2A%2A%2A%20
///     title*2="isn't it!"
///       → name "title", value "This is even more ***fun*** isn't it!", charset
///         "us-ascii", language "en", isExtended
///
/// When a parameter comes both plain and in RFC 2231 form, the RFC 2231 form wins. The
/// sections are joined from 0 up to the first missing number.
///
/// - SeeAlso: RFC 2045 §5.1, RFC 2231 §3 (continuations), §4 (charset and language),
///   §4.1 (both together); RFC 2183 §2 (Content-Disposition parameters)
public struct MIMEParameter: Hashable, Sendable {
    /// The attribute, lower-cased, without RFC 2231's "*" and section numbers.
    public var name: String

    /// The value's octets: sections joined, percent-encoding undone, quoted-string
    /// escapes undone; not converted from `charset`.
    public var octets: [UInt8]

    /// The value as text: `octets` converted from `charset` when it is one `Charset`
    /// converts, else read as UTF-8 (or windows-1252 when that fails).
    public var value: String

    /// The charset an RFC 2231 extended value names.
    public var charset: String?

    /// The language an RFC 2231 extended value names.
    public var language: String?

    /// Whether the value came in RFC 2231 extended (`*`, percent-encoded) form.
    public var isExtended: Bool

    public init(
        name: String, octets: [UInt8], charset: String? = nil, language: String? = nil, isExtended: Bool = false
    ) {
        self.name = name
        self.octets = octets
        self.charset = charset
        self.language = language
        self.isExtended = isExtended
        if let charset, let text = Charset.decode(octets, charset: charset) {
            self.value = text
        } else {
            self.value = Charset.decodeUnlabelled(octets)
        }
    }

    public init(name: String, value: String) {
        self.init(name: name, octets: Array(value.utf8))
    }

    // MARK: - BODYSTRUCTURE form

    /// The attribute as BODYSTRUCTURE writes it: upper case, with a trailing "*" for an
    /// extended value (so that a client reads the value as RFC 2231 `charset'lang'text`).
    var imapName: [UInt8] {
        MIMEGrammar.uppercasedBytes(name.utf8) + (isExtended ? [UInt8(ascii: "*")] : [])
    }

    /// The value as BODYSTRUCTURE writes it: the octets of a plain value (continuations
    /// joined); for an extended value the single-section RFC 2231 form
    /// `charset'language'percent-encoded`, which keeps 8-bit text 7-bit and labelled.
    var imapValue: [UInt8] {
        guard isExtended else { return octets }
        var output = Array((charset ?? "").utf8)
        output.append(UInt8(ascii: "'"))
        output.append(contentsOf: (language ?? "").utf8)
        output.append(UInt8(ascii: "'"))
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in octets {
            if Self.isAttributeCharacter(byte) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            }
        }
        return output
    }

    ///     attribute-char := <any (US-ASCII) CHAR except SPACE, CTLs, "*", "'", "%", or tspecials>
    static func isAttributeCharacter(_ byte: UInt8) -> Bool {
        guard byte < 0x80, StructuredFieldScanner.isTokenCharacter(byte) else { return false }
        return byte != UInt8(ascii: "*") && byte != UInt8(ascii: "'") && byte != UInt8(ascii: "%")
    }

    // MARK: - RFC 2231 assembly

    /// Joins raw `attribute=value` pairs into parameters: RFC 2231 sections of the same
    /// name are put together in number order, extended values are percent-decoded and
    /// their charset and language read. Order: where each name first appears.
    static func assemble(_ raw: [(name: [UInt8], value: [UInt8])]) -> [MIMEParameter] {
        struct Section {
            var value: [UInt8]
            var isEncoded: Bool
        }
        struct Entry {
            var plain: [UInt8]?
            var sections: [Int: Section] = [:]
        }
        var entries: [String: Entry] = [:]
        var order: [String] = []

        for (rawName, value) in raw {
            let lower = rawName.map(MIMEGrammar.lowercased)
            var base = lower[...]
            var section: Int? = nil
            var isEncoded = false
            if let star = lower.firstIndex(of: UInt8(ascii: "*")), star > 0 {
                let rest = lower[(star + 1)...]
                if rest.isEmpty {
                    // name*=charset'lang'value: one extended section.
                    section = 0
                    isEncoded = true
                    base = lower[..<star]
                } else {
                    var digitsEnd = rest.endIndex
                    let encoded = rest.last == UInt8(ascii: "*")
                    if encoded { digitsEnd -= 1 }
                    let digits = lower[(star + 1)..<digitsEnd]
                    if !digits.isEmpty, digits.count <= 4, digits.allSatisfy(MIMEGrammar.isDigit) {
                        section = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                        isEncoded = encoded
                        base = lower[..<star]
                    }
                }
            }
            let key = String(decoding: base, as: UTF8.self)
            if entries[key] == nil {
                entries[key] = Entry()
                order.append(key)
            }
            if let section {
                if entries[key]?.sections[section] == nil {
                    entries[key]?.sections[section] = Section(value: value, isEncoded: isEncoded)
                }
            } else if entries[key]?.plain == nil {
                entries[key]?.plain = value
            }
        }

        var parameters: [MIMEParameter] = []
        for key in order {
            guard let entry = entries[key] else { continue }
            if let first = entry.sections[0] {
                var octets: [UInt8] = []
                var charset: String? = nil
                var language: String? = nil
                var isExtended = false
                var number = 0
                var section: Section? = first
                while let current = section {
                    if current.isEncoded {
                        isExtended = true
                        var encoded = current.value[...]
                        if number == 0, let firstQuote = encoded.firstIndex(of: UInt8(ascii: "'")),
                            let secondQuote = encoded[(firstQuote + 1)...].firstIndex(of: UInt8(ascii: "'"))
                        {
                            let charsetBytes = encoded[encoded.startIndex..<firstQuote]
                            let languageBytes = encoded[(firstQuote + 1)..<secondQuote]
                            if !charsetBytes.isEmpty { charset = String(decoding: charsetBytes, as: UTF8.self) }
                            if !languageBytes.isEmpty { language = String(decoding: languageBytes, as: UTF8.self) }
                            encoded = encoded[(secondQuote + 1)...]
                        }
                        octets.append(contentsOf: MIMEGrammar.percentDecoded(encoded))
                    } else {
                        octets.append(contentsOf: current.value)
                    }
                    number += 1
                    section = entry.sections[number]
                }
                parameters.append(
                    MIMEParameter(
                        name: key, octets: octets, charset: charset, language: language, isExtended: isExtended))
            } else if let plain = entry.plain {
                parameters.append(MIMEParameter(name: key, octets: plain))
            }
        }
        return parameters
    }
}

extension [MIMEParameter] {
    /// The first parameter called `name` (ASCII case-insensitive).
    func first(named name: String) -> MIMEParameter? {
        first { MIMEGrammar.equalsIgnoringCase($0.name.utf8, name.utf8) }
    }
}
