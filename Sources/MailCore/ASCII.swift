/// ASCII character classes and keyword matching on bytes, for every protocol parser
/// (SMTP, POP3, IMAP keywords are ASCII and case-insensitive).
public enum ASCII {
    public static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    public static func isLetter(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A)
    }

    public static func isLetterOrDigit(_ byte: UInt8) -> Bool { isLetter(byte) || isDigit(byte) }

    /// Whether `bytes` spell `keyword` (given in upper case), ignoring ASCII case.
    public static func matches(_ bytes: ArraySlice<UInt8>, keyword: String) -> Bool {
        let upper = keyword.utf8
        guard bytes.count == upper.count else { return false }
        for (byte, expected) in zip(bytes, upper) {
            let folded = (byte >= 0x61 && byte <= 0x7A) ? byte - 0x20 : byte
            if folded != expected { return false }
        }
        return true
    }
}
