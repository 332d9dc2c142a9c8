public import NIOCore

/// The client's side of DATA: a message as it goes on the wire after `354`.
///
///     C: DATA
///     S: 354 End data with <CR><LF>.<CR><LF>
///     C: Subject: dots
///     C:
///     C: ..a line that started with a dot
///     C: .
///
/// RFC 5321 §4.5.2: "Before sending a line of mail text, the SMTP client checks the
/// first character of the line. If it is a period, one additional period is inserted
/// at the beginning of the line." The message then ends with CRLF "." CRLF; a message
/// whose last line has no CRLF gets one, so that the terminator stands on its own line.
///
/// Line ends are normalised: a bare LF or a bare CR becomes CRLF. The queue holds
/// CRLF text already; the normalisation makes sure that no byte sequence in a message
/// can end DATA early at a server that also accepts `LF.LF` or `CR.CR` (the "SMTP
/// smuggling" class of bugs). BDAT needs none of this: its chunks are counted, not
/// terminated (RFC 3030 §2), and go out as they are.
///
/// - SeeAlso: RFC 5321 §4.1.1.4, §4.5.2; RFC 3030 §2
public enum DataEncoder {
    /// The dot-stuffed message with its terminator, appended to `buffer`.
    public static func encode(_ message: some Collection<UInt8>, into buffer: inout ByteBuffer) {
        buffer.reserveCapacity(minimumWritableBytes: message.count + message.count / 64 + 8)
        var atLineStart = true
        var previousWasCR = false
        for byte in message {
            switch byte {
            case UInt8(ascii: "\n"):
                // CRLF, or a bare LF that becomes one.
                if !previousWasCR { buffer.writeInteger(UInt8(ascii: "\r")) }
                buffer.writeInteger(byte)
                atLineStart = true
                previousWasCR = false
                continue
            case UInt8(ascii: "\r"):
                // A CR after a CR: the first was bare.
                if previousWasCR { buffer.writeInteger(UInt8(ascii: "\n")) }
                buffer.writeInteger(byte)
                previousWasCR = true
                continue
            default:
                break
            }
            if previousWasCR {
                // A bare CR ends the line too.
                buffer.writeInteger(UInt8(ascii: "\n"))
                atLineStart = true
                previousWasCR = false
            }
            // RFC 5321 §4.5.2: double a leading period.
            if atLineStart && byte == UInt8(ascii: ".") { buffer.writeInteger(UInt8(ascii: ".")) }
            buffer.writeInteger(byte)
            atLineStart = false
        }
        if previousWasCR {
            buffer.writeInteger(UInt8(ascii: "\n"))
            atLineStart = true
        }
        if !atLineStart { buffer.writeString("\r\n") }
        buffer.writeString(".\r\n")
    }

    public static func encode(_ message: some Collection<UInt8>) -> ByteBuffer {
        var buffer = ByteBuffer()
        encode(message, into: &buffer)
        return buffer
    }
}
