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
        // One concrete loop over contiguous bytes, copying the runs between the places
        // that need a byte inserted: the generic per-byte loop was 4–5% of the queue's
        // CPU in bench/outbound.sh (perf).
        let isDone: Bool? = message.withContiguousStorageIfAvailable { bytes in
            encode(bytes: bytes, into: &buffer)
            return true
        }
        if isDone == nil {
            Array(message).withUnsafeBufferPointer { encode(bytes: $0, into: &buffer) }
        }
    }

    static func encode(bytes: UnsafeBufferPointer<UInt8>, into buffer: inout ByteBuffer) {
        let cr = UInt8(ascii: "\r")
        let lf = UInt8(ascii: "\n")
        let dot = UInt8(ascii: ".")
        buffer.reserveCapacity(minimumWritableBytes: bytes.count + bytes.count / 64 + 8)
        var runStart = 0
        var atLineStart = true
        var previousWasCR = false
        func flush(upTo end: Int) {
            if end > runStart { buffer.writeBytes(UnsafeBufferPointer(rebasing: bytes[runStart..<end])) }
            runStart = end
        }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == lf {
                // CRLF, or a bare LF that becomes one.
                if !previousWasCR {
                    flush(upTo: index)
                    buffer.writeInteger(cr)
                }
                atLineStart = true
                previousWasCR = false
                index += 1
                continue
            }
            if byte == cr {
                // A CR after a CR: the first was bare.
                if previousWasCR {
                    flush(upTo: index)
                    buffer.writeInteger(lf)
                }
                previousWasCR = true
                index += 1
                continue
            }
            if previousWasCR {
                // A bare CR ends the line too.
                flush(upTo: index)
                buffer.writeInteger(lf)
                atLineStart = true
                previousWasCR = false
            }
            // RFC 5321 §4.5.2: double a leading period.
            if atLineStart && byte == dot {
                flush(upTo: index)
                buffer.writeInteger(dot)
            }
            atLineStart = false
            index += 1
        }
        flush(upTo: bytes.count)
        if previousWasCR {
            buffer.writeInteger(lf)
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
