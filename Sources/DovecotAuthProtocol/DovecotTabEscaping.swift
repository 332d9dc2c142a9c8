/// Dovecot's generic "tab-escaping" of protocol fields: `\001` is the escape character,
/// so that a field can carry TAB, CR, LF and NUL without breaking the line.
///
///     \001 0   NUL
///     \001 1   \001
///     \001 t   TAB
///     \001 r   CR
///     \001 n   LF      (the protocol document says `l`; Dovecot's str_tabescape
///     \001 l   LF       writes `n` and its unescaper reads both)
///     \001 x   x       (any other octet: itself, the \001 skipped)
///
/// A user name with a TAB in it, as Dovecot sends it in OK:
///
///     OK \t 7 \t user=a\001tb          (user "a<TAB>b")
///
/// Fields are cut at raw TABs first and each field is unescaped after; replies escape
/// every field before joining them. A `\001` at the very end of a field is dropped, as
/// Dovecot's `str_tabunescape` does.
///
/// - SeeAlso: Dovecot Authentication Protocol, "General"; Dovecot
///   src/lib/strescape.c (`str_append_tabescaped`, `str_tabunescape`)
public enum DovecotTabEscaping {
    static let escapeCharacter: UInt8 = 0x01

    /// `field` with NUL, `\001`, TAB, CR and LF escaped.
    public static func escape(_ field: some Sequence<UInt8>) -> [UInt8] {
        var escaped: [UInt8] = []
        escaped.reserveCapacity(field.underestimatedCount)
        for byte in field {
            switch byte {
            case 0x00: escaped += [escapeCharacter, UInt8(ascii: "0")]
            case escapeCharacter: escaped += [escapeCharacter, UInt8(ascii: "1")]
            case UInt8(ascii: "\t"): escaped += [escapeCharacter, UInt8(ascii: "t")]
            case UInt8(ascii: "\r"): escaped += [escapeCharacter, UInt8(ascii: "r")]
            case UInt8(ascii: "\n"): escaped += [escapeCharacter, UInt8(ascii: "n")]
            default: escaped.append(byte)
            }
        }
        return escaped
    }

    /// The octets `field` stands for. Never fails: every octet string is a valid field.
    public static func unescape(_ field: some Sequence<UInt8>) -> [UInt8] {
        var unescaped: [UInt8] = []
        unescaped.reserveCapacity(field.underestimatedCount)
        var isEscaping = false
        for byte in field {
            guard isEscaping else {
                if byte == escapeCharacter {
                    isEscaping = true
                } else {
                    unescaped.append(byte)
                }
                continue
            }
            isEscaping = false
            switch byte {
            case UInt8(ascii: "0"): unescaped.append(0x00)
            case UInt8(ascii: "1"): unescaped.append(escapeCharacter)
            case UInt8(ascii: "t"): unescaped.append(UInt8(ascii: "\t"))
            case UInt8(ascii: "r"): unescaped.append(UInt8(ascii: "\r"))
            case UInt8(ascii: "n"), UInt8(ascii: "l"): unescaped.append(UInt8(ascii: "\n"))
            default: unescaped.append(byte)
            }
        }
        return unescaped
    }
}
