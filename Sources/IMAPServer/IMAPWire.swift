import IMAPProtocol
import MailCore
import MailStore
import NIOCore

extension ByteBuffer {
    /// `value` in decimal, without going through a String.
    mutating func writeDecimal(_ value: some BinaryInteger) {
        var remaining = UInt64(value)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(truncatingIfNeeded: remaining % 10) &+ 48
                remaining /= 10
            } while remaining > 0
            writeBytes(UnsafeRawBufferPointer(UnsafeMutableBufferPointer(rebasing: digits[start..<20])))
        }
    }
}

/// Response pieces the connection writes: flag lists, dates, sequence sets, section
/// names, literals.
enum IMAPWire {
    /// The system flags in the order IMAP lists them, with their names.
    static let systemFlagNames: [(SystemFlags, StaticString)] = [
        (.answered, "\\Answered"), (.flagged, "\\Flagged"), (.deleted, "\\Deleted"), (.seen, "\\Seen"),
        (.draft, "\\Draft"),
    ]

    /// `(\Seen \Flagged $Forwarded)`, with `\Recent` for IMAP4rev1 sessions.
    static func flagList(_ flags: SystemFlags, keywords: [String], recent: Bool = false) -> String {
        var buffer = ByteBuffer()
        writeFlagList(flags, keywords: keywords, recent: recent, into: &buffer)
        return String(buffer: buffer)
    }

    /// `flagList` written straight into `buffer` (FETCH FLAGS of a whole mailbox).
    static func writeFlagList(_ flags: SystemFlags, keywords: [String], recent: Bool, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("(")
        var first = true
        for (flag, name) in systemFlagNames where flags.contains(flag) {
            if first { first = false } else { buffer.writeStaticString(" ") }
            buffer.writeStaticString(name)
        }
        if recent {
            if first { first = false } else { buffer.writeStaticString(" ") }
            buffer.writeStaticString("\\Recent")
        }
        for keyword in keywords {
            if first { first = false } else { buffer.writeStaticString(" ") }
            buffer.writeString(keyword)
        }
        buffer.writeStaticString(")")
    }

    /// System flags and keywords from a client's flag list; nil when it holds a flag a
    /// client may not set (`\Recent`, an unknown `\` flag).
    static func split(_ flags: [Flag]) -> (SystemFlags, [String])? {
        var system: SystemFlags = []
        var keywords: [String] = []
        for flag in flags {
            switch flag {
            case .answered: system.insert(.answered)
            case .flagged: system.insert(.flagged)
            case .deleted: system.insert(.deleted)
            case .seen: system.insert(.seen)
            case .draft: system.insert(.draft)
            case .keyword(let name):
                if !keywords.contains(where: { $0.lowercased() == name.lowercased() }) { keywords.append(name) }
            case .recent, .extension: return nil
            }
        }
        return (system, keywords)
    }

    /// `"17-Jul-1996 02:44:25 +0000"` (with the quotes) for seconds since 1970, in UTC.
    static func internalDate(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let rest = Int(seconds - days * 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        guard let date = IMAPDate(year: year, month: month, day: day),
            let dateTime = IMAPDateTime(
                date: date, hour: rest / 3600, minute: rest / 60 % 60, second: rest % 60, zoneMinutes: 0)
        else { return "\"01-Jan-1970 00:00:00 +0000\"" }
        return "\"" + dateTime.description + "\""
    }

    /// The day (UTC) of seconds since 1970.
    static func day(_ seconds: Int64) -> IMAPDate? {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (year, month, day) = civilDate(daysSince1970: days)
        return IMAPDate(year: year, month: month, day: day)
    }

    static func civilDate(daysSince1970 days: Int64) -> (Int, Int, Int) {
        let (year, month, day) = RFC5322Date.civilDate(daysSince1970: days)
        return (Int(year), Int(month), Int(day))
    }

    /// Numbers as a compact sequence set, in the order given (COPYUID pairs source and
    /// destination UIDs by position): runs that ascend by one become ranges, `1:3,5,7:9`.
    static func sequenceSet(_ numbers: [UInt32]) -> SequenceSet {
        var ranges: [SequenceRange] = []
        for number in numbers {
            if let last = ranges.last, case .number(let end) = last.last, end != UInt32.max, number == end + 1 {
                ranges[ranges.count - 1] = SequenceRange(last.first, .number(number))
            } else {
                ranges.append(SequenceRange(number))
            }
        }
        return .ranges(ranges)
    }

    /// The section as a FETCH response names it: `1.2.HEADER.FIELDS (DATE FROM)`.
    static func section(_ section: SectionSpecifier) -> String {
        var pieces = section.part.map(String.init)
        switch section.kind {
        case .complete: break
        case .header: pieces.append("HEADER")
        case .text: pieces.append("TEXT")
        case .mime: pieces.append("MIME")
        case .headerFields(let names):
            pieces.append("HEADER.FIELDS (" + names.map { String(decoding: IMAPEncoding.astring($0), as: UTF8.self) }
                .joined(separator: " ") + ")")
        case .headerFieldsNot(let names):
            pieces.append("HEADER.FIELDS.NOT (" + names.map { String(decoding: IMAPEncoding.astring($0), as: UTF8.self) }
                .joined(separator: " ") + ")")
        }
        return pieces.joined(separator: ".")
    }

    /// `{n}` CRLF and the octets (`~{n}` with `binary` when they hold NUL).
    static func writeLiteral(_ bytes: some Collection<UInt8>, binary: Bool = false, into buffer: inout ByteBuffer) {
        if binary && bytes.contains(0) {
            buffer.writeString("~{\(bytes.count)}\r\n")
        } else {
            buffer.writeString("{\(bytes.count)}\r\n")
        }
        buffer.writeBytes(bytes)
    }

    /// The message with CRLF line ends, a final line end added when missing: what
    /// RFC822.SIZE counts (the store's sizes are counted the same way).
    static func crlf(_ bytes: [UInt8]) -> [UInt8] {
        var needsWork = bytes.last != 0x0A
        if !needsWork {
            var previous: UInt8 = 0
            for byte in bytes {
                if byte == 0x0A && previous != 0x0D {
                    needsWork = true
                    break
                }
                previous = byte
            }
        }
        guard needsWork else { return bytes }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 40 + 2)
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A && previous != 0x0D { output.append(0x0D) }
            output.append(byte)
            previous = byte
        }
        if let last = bytes.last, last != 0x0A { output += [0x0D, 0x0A] }
        return output
    }

    /// The date of an RFC 5322 Date: field (`Tue, 1 Jul 2003 10:52:37 +0200`), its day as
    /// written, disregarding time and zone (RFC 9051 SENTBEFORE/SENTON/SENTSINCE).
    static func sentDate(_ value: String) -> IMAPDate? {
        var words = value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map(String.init)
        if let first = words.first, first.count == 3, Int(first) == nil { words.removeFirst() }
        guard words.count >= 3, let day = Int(words[0]), var year = Int(words[2]) else { return nil }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        guard let month = months.firstIndex(of: words[1].lowercased().prefix(3).description) else { return nil }
        if year < 50 { year += 2000 } else if year < 1000 { year += 1900 }
        return IMAPDate(year: year, month: month + 1, day: day)
    }
}
