public import NIOCore

/// The client side's framing: cuts the server's byte stream into replies.
///
///     Greeting       = ( "220 " (Domain / address-literal) [ SP textstring ] CRLF ) /
///                      ( "220-" (Domain / address-literal) [ SP textstring ] CRLF
///                     *( "220-" [ textstring ] CRLF )
///                        "220" [ SP textstring ] CRLF )
///     Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
///                      Reply-code [ SP textstring ] CRLF
///     Reply-code     = %x32-35 %x30-35 %x30-39
///     textstring     = 1*(%d09 / %d32-126) ; HT, SP, Printable US-ASCII
///
/// A multi-line reply repeats the same code on every line (RFC 5321 §4.2.1: "the
/// reply code on each line of a multiline reply MUST be the same"); a line whose code
/// differs is refused rather than guessed at. The enhanced status code (RFC 2034 §4)
/// is taken from the start of the text when it is well-formed and its class matches
/// the reply code's first digit; it is removed from the text of every line that
/// carries it, so `SMTPReply.encode` writes the reply back as it came.
///
/// Incremental: `decode(_:)` consumes complete lines only and keeps the lines of an
/// unfinished multi-line reply, so replies may arrive split at any byte. Nothing is
/// buffered without a bound: a line longer than `maximumReplyLineLength` (counted with
/// its line end, before the end has arrived) and a reply of more than
/// `maximumReplyLines` lines are errors, as is a line that is not a reply at all.
/// After an error the stream cannot be resynchronised; the caller closes the connection.
///
/// Leniency: a bare LF ends a line as CRLF does (some servers send it, and it cannot
/// be mistaken for anything else in a reply); bytes outside `textstring` (8-bit text,
/// control characters) are kept as U+FFFD / `?` rather than refused, because the text
/// is only ever shown to people.
///
/// - SeeAlso: RFC 5321 §4.2, §4.2.1, §4.5.3.1.5; RFC 2034 §4; RFC 3463 §2
public struct SMTPReplyDecoder: Sendable {
    public let limits: SMTPClientLimits
    /// The lines of the reply being read, enhanced codes removed.
    private var lines: [String] = []
    private var code: Int?
    private var enhanced: EnhancedStatusCode?

    public init(limits: SMTPClientLimits = SMTPClientLimits()) {
        self.limits = limits
    }

    /// Whether part of a multi-line reply has been read.
    public var isInsideReply: Bool { !lines.isEmpty }

    /// The next complete reply, or nil when more bytes are needed.
    public mutating func decode(_ buffer: inout ByteBuffer) throws(SMTPReplyDecoderError) -> SMTPReply? {
        while true {
            let view = buffer.readableBytesView
            guard let newline = view.firstIndex(of: UInt8(ascii: "\n")) else {
                guard view.count < limits.maximumReplyLineLength else {
                    throw SMTPReplyDecoderError(.lineTooLong, hint: "no line end within the line length limit")
                }
                return nil
            }
            let length = newline - view.startIndex + 1
            guard length <= limits.maximumReplyLineLength else {
                throw SMTPReplyDecoderError(.lineTooLong, hint: "reply line longer than the limit")
            }
            var line = Array(view[view.startIndex..<newline])
            buffer.moveReaderIndex(forwardBy: length)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if let reply = try receive(line: line) { return reply }
        }
    }

    /// One line without its line end.
    private mutating func receive(line: [UInt8]) throws(SMTPReplyDecoderError) -> SMTPReply? {
        let parsed = try Self.parseReplyLine(line)
        if let code, code != parsed.code {
            throw SMTPReplyDecoderError(.inconsistentCodes, hint: "multi-line reply changes its code")
        }
        guard lines.count < limits.maximumReplyLines else {
            throw SMTPReplyDecoderError(.tooManyLines, hint: "multi-line reply has too many lines")
        }
        var text = parsed.text
        let lineEnhanced = Self.parseEnhancedStatusCode(&text, replyCode: parsed.code)
        if lines.isEmpty {
            code = parsed.code
            enhanced = lineEnhanced
        } else if let lineEnhanced, lineEnhanced != enhanced {
            // RFC 2034 §4 puts one code on every line; a line with another one keeps it
            // in its text so that nothing the server said is lost.
            text = lineEnhanced.description + (text.isEmpty ? "" : " " + text)
        }
        lines.append(text)
        guard parsed.isLast else { return nil }
        let reply = SMTPReply(parsed.code, enhanced, lines)
        lines = []
        code = nil
        enhanced = nil
        return reply
    }

    /// One line of a reply.
    ///
    ///     Reply-line     = *( Reply-code "-" [ textstring ] CRLF )
    ///                      Reply-code [ SP textstring ] CRLF
    ///     Reply-code     = %x32-35 %x30-35 %x30-39
    static func parseReplyLine(_ line: [UInt8]) throws(SMTPReplyDecoderError) -> (code: Int, isLast: Bool, text: String)
    {
        guard line.count >= 3,
            (UInt8(ascii: "2")...UInt8(ascii: "5")).contains(line[0]),
            (UInt8(ascii: "0")...UInt8(ascii: "5")).contains(line[1]),
            SMTPGrammar.isDigit(line[2])
        else { throw SMTPReplyDecoderError(.malformed, hint: "line does not start with a reply code") }
        let code = Int(line[0] - 48) * 100 + Int(line[1] - 48) * 10 + Int(line[2] - 48)
        guard line.count > 3 else { return (code, true, "") }
        let isLast: Bool
        switch line[3] {
        case UInt8(ascii: " "): isLast = true
        case UInt8(ascii: "-"): isLast = false
        default: throw SMTPReplyDecoderError(.malformed, hint: "reply code not followed by SP or '-'")
        }
        return (code, isLast, Self.displayText(line[4...]))
    }

    /// The text as people may see it: UTF-8 (ill-formed sequences become U+FFFD),
    /// control characters other than HT replaced by `?` so that no reply can forge a
    /// log line or a header field of a bounce.
    static func displayText(_ bytes: ArraySlice<UInt8>) -> String {
        let cleaned = bytes.map { byte -> UInt8 in
            (byte < 0x20 && byte != 0x09) || byte == 0x7F ? UInt8(ascii: "?") : byte
        }
        return String(decoding: cleaned, as: UTF8.self)
    }

    /// Removes a leading enhanced status code from `text` and returns it.
    ///
    ///     status-code = class "." subject "." detail
    ///     class       = "2" / "4" / "5"
    ///     subject     = 1*3digit
    ///     detail      = 1*3digit
    ///
    /// RFC 2034 §4: the code is followed by SP (or ends the line) and its class is the
    /// reply code's first digit; anything else is ordinary text.
    static func parseEnhancedStatusCode(_ text: inout String, replyCode: Int) -> EnhancedStatusCode? {
        let bytes = Array(text.utf8.prefix(12))
        let parts = bytes.split(separator: UInt8(ascii: " "), maxSplits: 1, omittingEmptySubsequences: false)
        guard let candidate = parts.first else { return nil }
        let fields = candidate.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard fields.count == 3, fields[0].count == 1,
            fields.allSatisfy({ (1...3).contains($0.count) && $0.allSatisfy(SMTPGrammar.isDigit) })
        else { return nil }
        let numbers = fields.map { $0.reduce(0) { $0 * 10 + Int($1 - 48) } }
        guard numbers[0] == replyCode / 100, [2, 4, 5].contains(numbers[0]) else { return nil }
        // The code must end at a space or at the end of the text, not inside a longer
        // token ("2.1.0.5").
        let consumed = candidate.count
        let all = Array(text.utf8)
        guard consumed == all.count || all[consumed] == UInt8(ascii: " ") else { return nil }
        text = String(decoding: all[min(consumed + 1, all.count)...], as: UTF8.self)
        return EnhancedStatusCode(numbers[0], numbers[1], numbers[2])
    }
}

/// Why the server's replies could not be read. The stream is unusable afterwards.
///
/// `hint`, `file` and `line` are for the log; they are literals of this module.
public struct SMTPReplyDecoderError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// A line longer than `SMTPClientLimits.maximumReplyLineLength`.
        case lineTooLong
        /// A reply of more than `SMTPClientLimits.maximumReplyLines` lines.
        case tooManyLines
        /// A line that does not start with a reply code followed by SP, `-` or its end.
        case malformed
        /// A continuation line with another code than the first line (RFC 5321 §4.2.1).
        case inconsistentCodes
    }

    public let kind: Kind
    public let hint: StaticString
    public let file: StaticString
    public let line: UInt

    public init(_ kind: Kind, hint: StaticString = "", file: StaticString = #fileID, line: UInt = #line) {
        self.kind = kind
        self.hint = hint
        self.file = file
        self.line = line
    }

    /// Compares `kind` only: the context is for logs.
    public static func == (lhs: SMTPReplyDecoderError, rhs: SMTPReplyDecoderError) -> Bool { lhs.kind == rhs.kind }

    /// Plain words, for a diagnostic ("… sent an over-long reply line").
    public var description: String {
        switch kind {
        case .lineTooLong: return "an over-long reply line"
        case .tooManyLines: return "a reply with too many lines"
        case .malformed: return "a malformed reply"
        case .inconsistentCodes: return "a multi-line reply with mismatched codes"
        }
    }
}
