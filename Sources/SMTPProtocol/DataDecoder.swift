public import NIOCore

/// Decodes the body of a DATA command: finds the end marker, removes dot-stuffing,
/// and watches line endings.
///
/// Only `CRLF "." CRLF` ends the data (RFC 5321 §4.1.1.4); the CRLF before the dot
/// must be a real one, so `LF.LF`, `LF.CRLF`, `CRLF.LF` and `CR.CR` are content, never an
/// end. A bare LF or bare CR anywhere is recorded (`sawBareLineEnding`); with
/// `.normalize` it is stored as CRLF instead. Either way a line that begins after a
/// bare line ending is plain content, so no sloppy end marker can start a second,
/// smuggled message (CVE-2023-51764 class).
///
/// The decoder is incremental: feed it whatever bytes have arrived; it consumes up to
/// and including the end marker and leaves anything after it (pipelined commands) in
/// the caller's buffer.
///
/// - SeeAlso: RFC 5321 §4.1.1.4, §4.5.2 (transparency)
public struct DataDecoder: Sendable {
    public enum BareLineEndings: Sendable, Equatable {
        /// Keep them as they are and refuse the message at its end (the default).
        case reject
        /// Store them as CRLF (Postfix `smtpd_forbid_bare_newline = normalize`).
        case normalize
    }

    public enum Result: Sendable, Equatable {
        case needMoreData
        case complete
    }

    private enum State: Sendable {
        case lineStart  // after CRLF (or at the very beginning)
        case dotAtLineStart  // "." right after CRLF
        case dotCR  // "." CR after CRLF
        case inLine
        case sawCR
    }

    private let maximumSize: Int
    private let bareLineEndings: BareLineEndings
    private var state = State.lineStart
    /// The decoded message, CRLF line ends; empty once `isTooBig`.
    public private(set) var message = ByteBuffer()
    /// Octets of decoded content so far (counted even after `isTooBig`).
    public private(set) var size = 0
    public private(set) var isTooBig = false
    public private(set) var sawBareLineEnding = false

    public init(maximumSize: Int, bareLineEndings: BareLineEndings) {
        self.maximumSize = maximumSize
        self.bareLineEndings = bareLineEndings
    }

    /// Consumes bytes from `buffer`; `.complete` once the end marker has been read.
    public mutating func decode(_ buffer: inout ByteBuffer) -> Result {
        var output: [UInt8] = []
        let (consumed, finished) = buffer.withUnsafeReadableBytes { bytes -> (Int, Bool) in
            output.reserveCapacity(bytes.count)
            var index = 0
            while index < bytes.count {
                if state == .inLine {
                    // Fast path: most of a message is the middle of lines; copy up to
                    // the next CR or LF in one go.
                    var end = index
                    while end < bytes.count && bytes[end] != 13 && bytes[end] != 10 { end += 1 }
                    if end > index {
                        output.append(contentsOf: bytes[index..<end])
                        index = end
                        continue
                    }
                }
                let byte = bytes[index]
                index += 1
                switch state {
                case .lineStart:
                    if byte == UInt8(ascii: ".") {
                        state = .dotAtLineStart
                    } else {
                        content(byte, &output)
                    }
                case .dotAtLineStart:
                    if byte == UInt8(ascii: "\r") {
                        state = .dotCR
                    } else {
                        // RFC 5321 §4.5.2: a leading period followed by more text is removed.
                        content(byte, &output)
                    }
                case .dotCR:
                    if byte == UInt8(ascii: "\n") {
                        return (index, true)
                    }
                    // ".<CR>x": the CR was bare; the dot was a stuffed dot.
                    bareCR(&output)
                    content(byte, &output)
                case .inLine:
                    content(byte, &output)
                case .sawCR:
                    if byte == UInt8(ascii: "\n") {
                        output.append(contentsOf: [13, 10])
                        state = .lineStart
                    } else {
                        bareCR(&output)
                        content(byte, &output)
                    }
                }
            }
            return (index, false)
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        append(output)
        return finished ? .complete : .needMoreData
    }

    /// A content byte in the middle of a line.
    private mutating func content(_ byte: UInt8, _ output: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\r"):
            state = .sawCR
        case UInt8(ascii: "\n"):
            sawBareLineEnding = true
            output.append(contentsOf: bareLineEndings == .normalize ? [13, 10] : [10])
            // Not `.lineStart`: a line after a bare LF can never end the data.
            state = .inLine
        default:
            output.append(byte)
            state = .inLine
        }
    }

    private mutating func bareCR(_ output: inout [UInt8]) {
        sawBareLineEnding = true
        output.append(contentsOf: bareLineEndings == .normalize ? [13, 10] : [13])
    }

    private mutating func append(_ bytes: [UInt8]) {
        size += bytes.count
        guard !isTooBig else { return }
        if size > maximumSize {
            isTooBig = true
            message = ByteBuffer()
            return
        }
        message.writeBytes(bytes)
    }
}
