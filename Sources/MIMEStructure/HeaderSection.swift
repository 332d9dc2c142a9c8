/// The header section of a message or of a body part: its fields in order, and where it
/// lies in the message.
///
///     header  = *field [CRLF]     ; the blank line separates header and body
///
/// Tolerant of what real mail does: bare LF line ends, a missing blank line (the header
/// then ends at the end of its range), 8-bit octets in names and values, WSP before the
/// colon (RFC 5322 §4.5), a continuation line with no field before it (ignored), and
/// lines that are not fields (ignored here; `MessageStructure` ends the header at such a
/// line and reads it as body, as most MIME parsers do).
///
/// Bounded: at most `MIMELimits.maximumHeaderSize` octets are read and at most
/// `maximumHeaderFields` fields kept. Each line is scanned once, so a long line costs no
/// more than many short ones.
///
/// - SeeAlso: RFC 5322 §2.1, §2.2, §3.5; RFC 2045 §3 (MIME header fields of body parts)
public struct HeaderSection: Hashable, Sendable {
    /// The fields, in the order they appear.
    public let fields: [HeaderField]

    /// Where the header lies in the message, the blank line included when there is one.
    public let range: Range<Int>

    /// Whether the header ends with a blank line (RFC 5322 §2.1: it must when a body
    /// follows). IMAP's HEADER.FIELDS uses it (RFC 9051 §6.4.5).
    public let hasBlankLine: Bool

    /// Whether fields were dropped because of `MIMELimits.maximumHeaderFields` or the
    /// range was cut at `maximumHeaderSize`.
    public let isTruncated: Bool

    /// Parses the header that lies in `range` of `bytes` (the whole of `bytes` by
    /// default). Parsing stops at the first blank line.
    public init(parsing bytes: [UInt8], in range: Range<Int>? = nil, limits: MIMELimits = MIMELimits()) {
        let requested = range ?? 0..<bytes.count
        let start = max(0, min(requested.lowerBound, bytes.count))
        let requestedEnd = max(start, min(requested.upperBound, bytes.count))
        let sizeLimit = max(0, limits.maximumHeaderSize)
        let end = requestedEnd - start > sizeLimit ? start + sizeLimit : requestedEnd

        var fields: [HeaderField] = []
        var hasBlankLine = false
        var isTruncated = end < requestedEnd
        var pending: PendingField? = nil
        var position = start

        func finishPending() {
            guard let field = pending else { return }
            pending = nil
            guard fields.count < limits.maximumHeaderFields else {
                isTruncated = true
                return
            }
            var nameEnd = field.colon
            while nameEnd > field.start, MIMEGrammar.isWSP(bytes[nameEnd - 1]) { nameEnd -= 1 }
            let name = String(decoding: bytes[field.start..<nameEnd], as: UTF8.self)
            let valueStart = min(field.colon + 1, field.valueEnd)
            fields.append(
                HeaderField(
                    name: name, rawValue: Array(bytes[valueStart..<field.valueEnd]), range: field.start..<field.end))
        }

        while position < end {
            let line = Self.line(in: bytes, from: position, to: end)
            if line.isBlank {
                finishPending()
                hasBlankLine = true
                position = line.next
                break
            }
            if MIMEGrammar.isWSP(bytes[position]) {
                // RFC 5322 §2.2.3: a line starting with WSP continues the field above.
                if pending != nil {
                    pending?.valueEnd = line.contentEnd
                    pending?.end = line.next
                }
            } else {
                finishPending()
                if let colon = Self.colonIndex(in: bytes, from: position, to: line.contentEnd) {
                    pending = PendingField(start: position, colon: colon, valueEnd: line.contentEnd, end: line.next)
                }
            }
            position = line.next
        }
        finishPending()

        self.fields = fields
        self.range = start..<(hasBlankLine ? position : end)
        self.hasBlankLine = hasBlankLine
        self.isTruncated = isTruncated
    }

    /// An empty header at `offset` (a part with no header lines and no blank line).
    init(emptyAt offset: Int) {
        self.fields = []
        self.range = offset..<offset
        self.hasBlankLine = false
        self.isTruncated = false
    }

    /// Every field called `name` (ASCII case-insensitive), in order.
    public func fields(named name: String) -> [HeaderField] {
        fields.filter { $0.hasName(name) }
    }

    /// The first field called `name`.
    public func first(named name: String) -> HeaderField? {
        fields.first { $0.hasName(name) }
    }

    /// The unfolded, trimmed value of the first field called `name`; nil when there is
    /// none, empty when it is present but empty.
    public func value(named name: String) -> [UInt8]? {
        first(named: name)?.unfoldedValue
    }

    // MARK: - Lines

    private struct PendingField {
        var start: Int
        var colon: Int
        var valueEnd: Int
        var end: Int
    }

    /// One line of a message: `contentEnd` excludes the line end (CRLF or bare LF),
    /// `next` is where the following line starts.
    struct Line {
        var contentEnd: Int
        var next: Int
        var hasLineEnd: Bool
        var start: Int

        /// CRLF or LF alone.
        var isBlank: Bool { hasLineEnd && contentEnd == start }
    }

    /// The line that starts at `start`, looking no further than `end`.
    static func line(in bytes: [UInt8], from start: Int, to end: Int) -> Line {
        guard let lineFeed = bytes[start..<end].firstIndex(of: MIMEGrammar.lf) else {
            return Line(contentEnd: end, next: end, hasLineEnd: false, start: start)
        }
        var contentEnd = lineFeed
        if contentEnd > start, bytes[contentEnd - 1] == MIMEGrammar.cr { contentEnd -= 1 }
        return Line(contentEnd: contentEnd, next: lineFeed + 1, hasLineEnd: true, start: start)
    }

    /// The index of the colon when the line `start..<end` starts a field, else nil.
    ///
    ///     field-name = 1*ftext
    ///     ftext      = %d33-57 / %d59-126
    ///     obs-optional = field-name *WSP ":" unstructured CRLF   ; RFC 5322 §4.5
    ///
    /// 8-bit octets are tolerated in the name; a space inside it, a control character or
    /// a missing colon make the line something other than a field.
    static func colonIndex(in bytes: [UInt8], from start: Int, to end: Int) -> Int? {
        var index = start
        var sawWSP = false
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: ":") {
                return index > start ? index : nil
            }
            if MIMEGrammar.isWSP(byte) {
                if index == start { return nil }
                sawWSP = true
            } else if sawWSP || byte < 0x21 || byte == 0x7F {
                return nil
            }
            index += 1
        }
        return nil
    }
}
