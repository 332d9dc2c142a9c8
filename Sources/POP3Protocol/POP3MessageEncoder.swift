public import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a stored message goes to the client in the multi-line responses of RETR and TOP.
///
///     stored (bare LF)          sent after "+OK 38 octets"
///     Subject: hi␊              Subject: hi␍␊
///     ␊                         ␍␊
///     .signature␊               ..signature␍␊
///     last line (no line end)   last line (no line end)␍␊
///                               .␍␊
///
/// - Every line ends in CRLF: a bare LF becomes CRLF; a CR that is not followed by LF is
///   data and is sent as it is (it is not a line end, so it cannot end the response).
/// - Every line that starts with "." gets one more "." (byte-stuffing, RFC 1939 §3), so
///   that no line of the message can be the terminating ".".
/// - A message that does not end with a line end gets CRLF after its last line; an empty
///   message has no lines. Then ".\r\n" ends the response.
///
/// The lines are found on LF, so CRLF and bare-LF files (Maildir written by other
/// software) come out the same. `transmittedSize(_:)` is the size of the message as the
/// client receives it after undoing the stuffing: what LIST and STAT must report.
///
/// - SeeAlso: RFC 1939 §3 (multi-line responses), §5 (RETR, LIST sizes), §7 (TOP)
public enum POP3MessageEncoder {
    /// RETR: all of `message`, then the terminating ".\r\n".
    public static func encode(_ message: [UInt8], into buffer: inout ByteBuffer) {
        reserve(for: message, in: &buffer)
        // The same output as writing line by line, but stored messages (CRLF already,
        // few lines starting with ".") go out in a handful of large copies: only a
        // stuffed dot or a bare LF interrupts the run being copied.
        message.withUnsafeBufferPointer { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
            let count = bytes.count
            var runStart = 0
            var lineStart = 0
            func flushRun(to end: Int) {
                if end > runStart { buffer.writeBytes(UnsafeRawBufferPointer(start: base + runStart, count: end - runStart)) }
            }
            while lineStart < count {
                if base[lineStart] == dot {
                    flushRun(to: lineStart)
                    buffer.writeInteger(dot)
                    runStart = lineStart
                }
                guard let found = memchr(base + lineStart, Int32(lf), count - lineStart) else { break }
                let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if newline == lineStart || base[newline - 1] != cr {
                    flushRun(to: newline)
                    buffer.writeStaticString("\r\n")
                    runStart = newline + 1
                }
                lineStart = newline + 1
            }
            flushRun(to: count)
            if base[count - 1] != lf { buffer.writeStaticString("\r\n") }
        }
        buffer.writeStaticString(".\r\n")
    }

    /// TOP: the header section up to and including the first empty line (the separator),
    /// then at most `bodyLines` lines of the body, then ".\r\n". A message without an
    /// empty line is all header and is sent whole; `bodyLines` beyond the end of the body
    /// sends the whole body; a negative count is treated as 0.
    ///
    /// - SeeAlso: RFC 1939 §7 (TOP)
    public static func encodeTop(_ message: [UInt8], bodyLines: Int, into buffer: inout ByteBuffer) {
        reserve(for: message, in: &buffer)
        var isInHeader = true
        var remaining = max(bodyLines, 0)
        forEachLine(message) { line in
            if isInHeader {
                writeLine(line, into: &buffer)
                if line.isEmpty { isInHeader = false }
                return true
            }
            guard remaining > 0 else { return false }
            remaining -= 1
            writeLine(line, into: &buffer)
            return remaining > 0
        }
        buffer.writeStaticString(".\r\n")
    }

    /// The octets of `bytes` with CRLF line ends, before byte-stuffing and without the
    /// terminating ".\r\n": every bare LF counts 2, a missing final line end counts 2.
    /// RFC 1939 §5 asks LIST and STAT for exactly this ("the exact size of the message");
    /// `encode` writes `transmittedSize + (stuffed dots) + 3` octets.
    public static func transmittedSize(_ bytes: [UInt8]) -> Int {
        var size = 0
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == lf && previous != cr { size += 1 }
            size += 1
            previous = byte
        }
        if let last = bytes.last, last != lf { size += 2 }
        return size
    }

    // MARK: - Lines

    private static let dot = UInt8(ascii: ".")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    /// Calls `body` with each line of `message` without its line end (LF, or CR LF),
    /// until it returns false. The last line may have no line end; a message that ends
    /// with a line end has no empty line after it.
    private static func forEachLine(_ message: [UInt8], _ body: (ArraySlice<UInt8>) -> Bool) {
        var start = message.startIndex
        while start < message.endIndex {
            let newline = message[start...].firstIndex(of: lf)
            var end = newline ?? message.endIndex
            // Only a CR right before the LF belongs to the line end.
            if newline != nil, end > start, message[end - 1] == cr { end -= 1 }
            guard body(message[start..<end]) else { return }
            guard let newline else { return }
            start = newline + 1
        }
    }

    /// One line, stuffed, with CRLF.
    private static func writeLine(_ line: ArraySlice<UInt8>, into buffer: inout ByteBuffer) {
        if line.first == UInt8(ascii: ".") { buffer.writeInteger(UInt8(ascii: ".")) }
        buffer.writeBytes(line)
        buffer.writeStaticString("\r\n")
    }

    /// Room for the message, some stuffing and the terminator, so that a large message is
    /// not copied each time the buffer grows.
    private static func reserve(for message: [UInt8], in buffer: inout ByteBuffer) {
        buffer.reserveCapacity(buffer.writerIndex + message.count + message.count / 32 + 8)
    }
}
