import Foundation
import MailCore

// MARK: - Encoding

/// How a report is written out safely: cleaning untrusted text, folding fields and
/// text to 998-octet lines, choosing the boundary, and cutting the returned message.
extension DeliveryStatusNotification {
    /// RFC 5322 §2.1.1: a line MUST NOT be longer than 998 octets (without CRLF).
    static let maximumLineLength = 998
    /// RFC 5322 §2.1.1: a line SHOULD NOT be longer than 78 octets; fields and text
    /// are folded there when they have a space to fold at.
    static let preferredLineLength = 78
    /// The most octets kept of one cleaned value (a diagnostic, an address). RFC 3464
    /// sets no limit; an SMTP reply is at most a few 512-octet lines (RFC 5321
    /// §4.5.3.1.5), so this keeps every real one and bounds a hostile one.
    static let maximumValueLength = 4000

    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let crlf: [UInt8] = [cr, lf]

    // MARK: Untrusted text

    /// `text` as one line of harmless characters: CR, LF, TAB and Unicode line
    /// separators become spaces, runs of spaces one space, other C0/C1 controls, DEL
    /// and bidirectional overrides are dropped, and non-ASCII becomes `?` unless
    /// `allowsUTF8`. Longer than `limit` octets, it is cut (at a character) and ends in
    /// `...`. Leading and trailing spaces are removed.
    ///
    /// - SeeAlso: RFC 5322 §2.2 (a field body has no CR or LF), RFC 3464 §2.1.1
    ///   (`*text`, US-ASCII), RFC 6533 §3 (UTF-8 in the global form)
    static func cleaned(_ text: String, allowsUTF8: Bool, limit: Int = maximumValueLength) -> String {
        var result = String.UnicodeScalarView()
        var length = 0
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            let value = scalar.value
            switch value {
            case 0x09, 0x0A, 0x0D, 0x20, 0x85, 0x2028, 0x2029:
                pendingSpace = !result.isEmpty
                continue
            case 0x00..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                continue
            default:
                break
            }
            let kept: Unicode.Scalar = value >= 0x80 && !allowsUTF8 ? "?" : scalar
            let size = (pendingSpace ? 1 : 0) + UTF8.width(kept)
            if length + size > limit {
                // Cut: make room for the marker, dropping whole characters.
                while length + 3 > limit, let last = result.popLast() {
                    length -= UTF8.width(last)
                }
                if length + 3 <= limit {
                    result.append(contentsOf: "...".unicodeScalars)
                }
                break
            }
            if pendingSpace {
                result.append(" ")
                pendingSpace = false
            }
            result.append(kept)
            length += size
        }
        while result.last == " " { result.removeLast() }
        return String(result)
    }

    // MARK: Lines

    /// `name: value` CRLF, folded at spaces before column 78 when it can be, and never
    /// longer than 998 octets a line: a word that cannot fit is broken (unfolding then
    /// shows a space inside it). The value is cleaned first, so no CR or LF from it
    /// reaches the output.
    ///
    /// - SeeAlso: RFC 5322 §2.1.1, §2.2.3 (folding), RFC 3464 §2.1.1
    static func field(_ name: String, _ value: String) -> [UInt8] {
        laidOut(
            cleaned(value, allowsUTF8: true, limit: .max), lead: Array("\(name):".utf8), firstSeparator: [0x20],
            continuation: [])
    }

    /// Text for people: words laid out on lines of about 78 octets (never more than
    /// 998), continuation lines starting with `indent`; ends with CRLF.
    static func wrapped(_ text: String, indent: String) -> [UInt8] {
        laidOut(
            cleaned(text, allowsUTF8: true, limit: .max), lead: [], firstSeparator: [],
            continuation: Array(indent.utf8))
    }

    /// Lays the space-separated words of `text` out after `lead`. A fold is CRLF
    /// followed by `continuation` and then `firstSeparator`: for a header field the
    /// separator is the space that unfolding keeps (RFC 5322 §2.2.3).
    private static func laidOut(
        _ text: String, lead: [UInt8], firstSeparator: [UInt8], continuation: [UInt8]
    ) -> [UInt8] {
        var output = lead
        var lineLength = lead.count
        var wordsOnLine = 0
        let largestPiece = max(1, maximumLineLength - continuation.count - firstSeparator.count)
        for word in text.split(separator: " ") {
            for piece in pieces(Array(word.utf8), largest: largestPiece) {
                let separatorLength = wordsOnLine == 0 ? firstSeparator.count : 1
                let end = lineLength + separatorLength + piece.count
                let mustFold = wordsOnLine == 0 ? end > maximumLineLength : end > preferredLineLength
                if mustFold && (wordsOnLine > 0 || lineLength > continuation.count) {
                    output += crlf
                    output += continuation
                    lineLength = continuation.count
                    wordsOnLine = 0
                }
                let separator = wordsOnLine == 0 ? firstSeparator : [0x20]
                output += separator
                output += piece
                lineLength += separator.count + piece.count
                wordsOnLine += 1
            }
        }
        return output + crlf
    }

    /// `word` cut into pieces of at most `largest` octets, at UTF-8 character
    /// boundaries.
    private static func pieces(_ word: [UInt8], largest: Int) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var start = 0
        while start < word.count {
            var end = min(word.count, start + largest)
            // Never split a UTF-8 sequence: back up over continuation octets.
            while end < word.count, end > start + 1, word[end] & 0xC0 == 0x80 { end -= 1 }
            result.append(Array(word[start..<end]))
            start = end
        }
        return result
    }

    // MARK: Values

    /// Whole seconds since 1970 for `RFC5322Date`, kept within the years 1970–9999
    /// (RFC 5322 §3.3 wants four-digit years; the dates are ours, but trap-free).
    static func seconds(_ date: Date) -> Int64 {
        let value = date.timeIntervalSince1970.rounded(.down)
        guard value.isFinite else { return 0 }
        return Int64(min(max(value, 0), 253_402_300_799))
    }

    /// "4 hours", "3 days", "1 minute".
    static func duration(from start: Date, to end: Date) -> String {
        let total = max(0, seconds(end) - seconds(start))
        let (count, unit): (Int64, String)
        if total >= 2 * 86400 {
            (count, unit) = (total / 86400, "day")
        } else if total >= 2 * 3600 {
            (count, unit) = (total / 3600, "hour")
        } else if total >= 60 {
            (count, unit) = (total / 60, "minute")
        } else {
            (count, unit) = (total, "second")
        }
        return "\(count) \(unit)\(count == 1 ? "" : "s")"
    }

    static func isASCII(_ text: String) -> Bool { text.utf8.allSatisfy { $0 < 0x80 } }

    /// An address as the text part shows it: as is, or in the `\x{HEX}` form when
    /// only ASCII may be written.
    static func displayedAddress(_ address: String, isGlobal: Bool) -> String {
        let clean = cleaned(address, allowsUTF8: true)
        return isGlobal || isASCII(clean) ? clean : xtext(clean, escapingSpecials: true)
    }

    /// `address-type ";" generic-address` for Final-Recipient and the sender:
    /// `rfc822; user@example.org`, or for a non-ASCII address the `utf-8` type of
    /// RFC 6533 §3, in UTF-8 in a global report and as `utf-8-addr-xtext` otherwise.
    ///
    ///     utf-8-type-addr  = "utf-8;" utf-8-enc-addr
    ///     utf-8-enc-addr   = utf-8-addr-xtext / utf-8-addr-unitext / utf-8-address
    ///
    /// - SeeAlso: RFC 3464 §2.1.2, §2.3.2, RFC 6533 §3
    static func typedAddress(_ address: String, isGlobal: Bool) -> String {
        let clean = cleaned(address, allowsUTF8: true)
        if isASCII(clean) { return "rfc822; \(clean)" }
        return "utf-8; " + (isGlobal ? clean : xtext(clean, escapingSpecials: true))
    }

    /// The ORCPT value as the client gave it (`rfc822;user@example.org`), unless it
    /// holds non-ASCII that this report may not carry: then its address becomes the
    /// RFC 6533 `utf-8` form. `nil` when nothing is left after cleaning.
    ///
    ///     original-recipient-field = "Original-Recipient" ":" address-type ";" generic-address
    ///
    /// - SeeAlso: RFC 3464 §2.3.1, RFC 3461 §4.2, RFC 6533 §3
    static func originalRecipientValue(_ value: String, isGlobal: Bool) -> String? {
        let clean = cleaned(value, allowsUTF8: true)
        guard let semicolon = clean.firstIndex(of: ";") else {
            return clean.isEmpty ? nil : typedAddress(clean, isGlobal: isGlobal)
        }
        let type = clean[..<semicolon].trimmingCharacters(in: .whitespaces)
        let address = clean[clean.index(after: semicolon)...].trimmingCharacters(in: .whitespaces)
        guard !address.isEmpty else { return nil }
        // address-type = atom (RFC 3464 §2.1.2); anything else is not worth keeping.
        guard !type.isEmpty, type.utf8.allSatisfy({ ASCII.isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else {
            return typedAddress(address, isGlobal: isGlobal)
        }
        if isASCII(address) { return "\(type);\(address)" }
        let isUTF8Type = type.lowercased() == "utf-8"
        if isGlobal { return "utf-8;\(address)" }
        // A `utf-8` ORCPT may already hold \x{...} escapes: escape only what is not ASCII.
        return "utf-8;" + xtext(address, escapingSpecials: !isUTF8Type)
    }

    /// RFC 6533 §3, for a report that must stay ASCII:
    ///
    ///     utf-8-addr-xtext    = 1*(QCHAR / EmbeddedUnicodeChar)
    ///     QCHAR               = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e
    ///     EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"   ; \x{E9}, \x{3042}
    ///
    /// With `escapingSpecials` false, `+`, `=` and `\` stay as they are (for a value
    /// already in this form).
    static func xtext(_ address: String, escapingSpecials: Bool) -> String {
        var output = ""
        for scalar in address.unicodeScalars {
            let value = scalar.value
            let isQCHAR = (0x21...0x7E).contains(value) && value != 0x2B && value != 0x3D && value != 0x5C
            if isQCHAR || (!escapingSpecials && (0x21...0x7E).contains(value)) {
                output.unicodeScalars.append(scalar)
            } else {
                let hex = String(value, radix: 16, uppercase: true)
                output += "\\x{\(hex.count < 2 ? "0" + hex : hex)}"
            }
        }
        return output
    }

    /// The host name of `mx.example.org[192.0.2.1]` (or the address of `[192.0.2.1]`)
    /// for `Remote-MTA: dns; ...`; nil when it does not look like one.
    ///
    /// - SeeAlso: RFC 3464 §2.3.5
    static func remoteMTAName(_ text: String) -> String? {
        let clean = cleaned(text, allowsUTF8: false, limit: 600)
        var name = clean.prefix { $0 != " " }
        if let open = name.firstIndex(of: "[") {
            let before = name[..<open]
            if before.isEmpty {
                name = name[name.index(after: open)...].prefix { $0 != "]" }
                if name.lowercased().hasPrefix("ipv6:") { name = name.dropFirst(5) }
            } else {
                name = before
            }
        } else if let colon = name.firstIndex(of: ":"), name.contains(".") {
            name = name[..<colon]  // mx.example.org:25
        }
        let allowed = name.utf8.allSatisfy {
            ASCII.isLetterOrDigit($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
                || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":")
        }
        return allowed && (1...255).contains(name.utf8.count) ? String(name) : nil
    }

    /// The reply of a `smtp; 550 5.1.1 ...` diagnostic (what follows `smtp;`), or nil
    /// for a diagnostic of another kind. `cleaned` is already one line.
    ///
    /// - SeeAlso: RFC 3464 §2.3.6, RFC 3461 §9.2 (the "smtp" diagnostic-type)
    static func smtpDiagnostic(_ cleaned: String) -> String? {
        let bytes = Array(cleaned.utf8)
        guard bytes.count >= 5, ASCII.matches(bytes[0..<4], keyword: "SMTP") else { return nil }
        var index = 4
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
        guard index < bytes.count, bytes[index] == UInt8(ascii: ";") else { return nil }
        return String(decoding: bytes[(index + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
    }

    /// `<id-left@id-right>` from the caller's ID (with or without angle brackets).
    ///
    /// - SeeAlso: RFC 5322 §3.6.4
    static func messageIDValue(_ messageID: String, host: String) -> String {
        let clean = cleaned(messageID, allowsUTF8: false, limit: 900)
        let core = String(clean.unicodeScalars.filter { $0 != " " && $0 != "<" && $0 != ">" })
        if core.isEmpty { return "<report@\(host)>" }
        return core.contains("@") ? "<\(core)>" : "<\(core)@\(host)>"
    }

    static func isSevenBit(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 < 0x80 } }

    /// The part's Content-Transfer-Encoding field: none (7bit is the default) or
    /// `8bit`, the only other encoding message/rfc822 allows (RFC 2046 §5.2.1).
    static func transferEncoding(_ bytes: [UInt8]) -> [String] {
        isSevenBit(bytes) ? [] : ["Content-Transfer-Encoding: 8bit"]
    }

    // MARK: The returned message

    /// What part 3 carries.
    struct ReturnedContent {
        enum Reason: Equatable {
            /// The whole message.
            case whole
            /// RET=HDRS (RFC 3461 §4.3).
            case headersRequested
            /// Delay and success reports return the header only (RFC 3461 §4.3 leaves
            /// it to the MTA; Postfix does the same).
            case notFailure
            /// Larger than `maximumReturnedSize`.
            case tooLarge
            /// It has NUL, a bare CR or a line over 998 octets: it cannot go into a
            /// message/rfc822 part as it is.
            case unsafe
        }

        var bytes: [UInt8]
        var reason: Reason
        var originalSize: Int

        var isWhole: Bool { reason == .whole }
    }

    /// The message, or its header, as part 3 carries it: CRLF line ends, no line over
    /// 998 octets. RET=FULL and no RET both return a failed message whole, as Postfix
    /// does; everything else returns the header (RFC 3461 §4.3, RFC 6522 §4).
    static func returnedContent(kind: Kind, ret: String?, message: [UInt8], limit: Int) -> ReturnedContent {
        let reason: ReturnedContent.Reason
        if kind != .failure {
            reason = .notFailure
        } else if ret?.uppercased() == "HDRS" {
            reason = .headersRequested
        } else if message.count > limit {
            reason = .tooLarge
        } else if let whole = canonicalLines(message[...], repairing: false, limit: .max) {
            return ReturnedContent(bytes: whole, reason: .whole, originalSize: message.count)
        } else {
            reason = .unsafe
        }
        let header = canonicalLines(headerSection(of: message), repairing: true, limit: limit) ?? []
        return ReturnedContent(bytes: header, reason: reason, originalSize: message.count)
    }

    /// The header section of `message`: everything before the first empty line (CRLF
    /// CRLF, or LF LF), with the line end of its last field; the whole message when
    /// it has no empty line (no body).
    ///
    /// - SeeAlso: RFC 5322 §2.1 (header, empty line, body), RFC 6522 §4
    static func headerSection(of message: [UInt8]) -> ArraySlice<UInt8> {
        var lineStart = 0
        while lineStart < message.count, let end = message[lineStart...].firstIndex(of: lf) {
            let length = end - lineStart
            if length == 0 || (length == 1 && message[lineStart] == cr) {
                return message[..<lineStart]
            }
            lineStart = end + 1
        }
        return message[...]
    }

    /// `bytes` with every line ending in CRLF (a bare LF becomes CRLF; a last line
    /// without a line end stays so unless `repairing`). Without `repairing`, nil when
    /// a line holds NUL or a bare CR or is longer than 998 octets; with it, those are
    /// removed or cut (at a character), and output stops at the last whole line within
    /// `limit` octets.
    ///
    /// - SeeAlso: RFC 5322 §2.1.1, §2.3 (CR and LF only together), RFC 2046 §5.2.1
    static func canonicalLines(_ bytes: ArraySlice<UInt8>, repairing: Bool, limit: Int) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(min(bytes.count + bytes.count / 16, max(0, limit)))
        var lineStart = bytes.startIndex
        while lineStart < bytes.endIndex {
            let lineFeed = bytes[lineStart...].firstIndex(of: lf)
            var line = bytes[lineStart..<(lineFeed ?? bytes.endIndex)]
            if lineFeed != nil, line.last == cr { line = line.dropLast() }
            var content = Array(line)
            if content.contains(0) || content.contains(cr) {
                guard repairing else { return nil }
                content.removeAll { $0 == 0 || $0 == cr }
            }
            if content.count > maximumLineLength {
                guard repairing else { return nil }
                var end = maximumLineLength
                while end > 0, content[end] & 0xC0 == 0x80 { end -= 1 }
                content.removeSubrange(end...)
            }
            let isTerminated = lineFeed != nil || repairing
            if output.count + content.count + (isTerminated ? 2 : 0) > limit {
                guard repairing else { return nil }
                break
            }
            output += content
            if isTerminated { output += crlf }
            lineStart = lineFeed.map { $0 + 1 } ?? bytes.endIndex
        }
        return output
    }

    // MARK: The boundary

    /// Postfix's form, `<queue ID>.<time>/<host>`, in boundary characters only
    /// (RFC 2046 §5.1.1 `bchars`), at most 50 of them.
    static func boundaryPrefix(queueID: String, now: Date, host: String) -> String {
        func safe(_ text: String, _ count: Int) -> String {
            String(
                String.UnicodeScalarView(
                    text.unicodeScalars.filter {
                        $0.isASCII && (ASCII.isLetterOrDigit(UInt8($0.value)) || $0 == "." || $0 == "-")
                    }.prefix(count)))
        }
        let id = safe(queueID, 20)
        return "\(id.isEmpty ? "report" : id).\(seconds(now))/\(safe(host, 16))"
    }

    /// A boundary that no line of `parts` begins with, so that no content line can be
    /// taken for a delimiter (RFC 2046 §5.1.1: the boundary "must not appear inside
    /// any of the encapsulated parts"). Candidates are `prefix/` and 16 hex digits of
    /// `seed + n`, all of one length and all different, so each line starting with
    /// "--" rules out at most one: the search ends after at most one more candidate
    /// than there are such lines. The seed (from the queue ID, whose low bits are
    /// random, and the report's Message-ID) only makes a first collision unlikely;
    /// the check is what makes the boundary safe.
    ///
    /// - SeeAlso: RFC 2046 §5.1.1 (at most 70 characters)
    static func boundary(prefix: String, seed: UInt64, avoiding parts: [[UInt8]]) -> String {
        let length = prefix.utf8.count + 17
        var taken = Set<[UInt8]>()
        for part in parts {
            var lineStart = 0
            while lineStart < part.count {
                let end = part[lineStart...].firstIndex(of: lf) ?? part.count
                if end - lineStart >= 2 + length, part[lineStart] == UInt8(ascii: "-"),
                    part[lineStart + 1] == UInt8(ascii: "-")
                {
                    taken.insert(Array(part[(lineStart + 2)..<(lineStart + 2 + length)]))
                }
                lineStart = end + 1
            }
        }
        var attempt: UInt64 = 0
        while true {
            let hex = String(seed &+ attempt, radix: 16, uppercase: true)
            let candidate = prefix + "/" + String(repeating: "0", count: max(0, 16 - hex.count)) + hex
            if !taken.contains(Array(candidate.utf8)) { return candidate }
            attempt &+= 1
        }
    }

    /// FNV-1a, 64 bits: a cheap, stable hash for the boundary seed (not security: the
    /// boundary check above is what guarantees it).
    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}
