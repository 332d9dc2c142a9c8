/// An IPv6 address: the RDATA of an AAAA record, or an address literal.
///
///     2001:db8::1        ::1        ::ffff:192.0.2.1
///
/// Text input follows RFC 4291 §2.2 (eight groups of one to four hex digits, one `::`
/// for one or more zero groups, the last 32 bits optionally in dotted decimal); zone
/// IDs (`fe80::1%eth0`) are refused. Text output is the canonical form of RFC 5952 §4
/// (lowercase, no leading zeros, the longest run of two or more zero groups as `::`,
/// the first one on a tie) with IPv4-mapped addresses written as `::ffff:192.0.2.1`
/// (§5).
///
/// - SeeAlso: RFC 3596 §2.2 (AAAA RDATA), RFC 4291 §2.2, RFC 5952
public struct IPv6Address: Hashable, Sendable, CustomStringConvertible {
    /// The sixteen octets, in network order.
    public let octets: [UInt8]

    /// The address with these sixteen octets; `nil` unless there are exactly sixteen.
    public init?(octets: some Collection<UInt8>) {
        guard octets.count == 16 else { return nil }
        self.octets = Array(octets)
    }

    /// Parses RFC 4291 §2.2 text; `nil` for anything else.
    public init?(_ text: some StringProtocol) {
        guard let octets = Self.parse(Array(text.utf8)[...]) else { return nil }
        self.octets = octets
    }

    /// The sixteen octets as eight 16-bit groups.
    var groups: [UInt16] {
        stride(from: 0, to: 16, by: 2).map { UInt16(octets[$0]) << 8 | UInt16(octets[$0 + 1]) }
    }

    /// The canonical text form of RFC 5952 §4 (see the type's documentation).
    public var description: String {
        let groups = self.groups
        // RFC 5952 §5: IPv4-mapped addresses keep the dotted-decimal tail.
        if groups[0..<5].allSatisfy({ $0 == 0 }) && groups[5] == 0xFFFF {
            return "::ffff:" + octets[12...].map { String($0) }.joined(separator: ".")
        }
        // RFC 5952 §4.2: the longest run of at least two zero groups, the first on a tie.
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < groups.count {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < groups.count && groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        // RFC 5952 §4.1, §4.3: no leading zeros, lowercase.
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// The name of the PTR record for this address: the 32 nibbles reversed, under
    /// `ip6.arpa` (RFC 3596 §2.5): `2001:db8::1` →
    /// `1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa`.
    public var reverseLookupName: String {
        var labels: [String] = []
        for octet in octets.reversed() {
            labels.append(String(octet & 0x0F, radix: 16))
            labels.append(String(octet >> 4, radix: 16))
        }
        return labels.joined(separator: ".") + ".ip6.arpa"
    }

    // MARK: - Parsing

    private static let colon = UInt8(ascii: ":")
    /// The longest text form: eight groups of four, seven colons (39), or six groups, six
    /// colons and a dotted IPv4 tail (45; INET6_ADDRSTRLEN is 46 with the NUL).
    private static let maximumTextLength = 45

    /// RFC 4291 §2.2 forms 1–3.
    static func parse(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        guard bytes.count <= maximumTextLength else { return nil }
        guard let doubleColon = firstDoubleColon(in: bytes) else {
            guard let octets = parseGroups(bytes, allowsIPv4Tail: true), octets.count == 16 else { return nil }
            return octets
        }
        let tailStart = doubleColon + 2
        // A second `::` shows up as an empty group in the tail and fails there.
        guard let head = parseGroups(bytes[..<doubleColon], allowsIPv4Tail: false),
            let tail = parseGroups(bytes[tailStart...], allowsIPv4Tail: true),
            head.count + tail.count <= 14  // `::` stands for at least one group
        else { return nil }
        return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
    }

    private static func firstDoubleColon(in bytes: ArraySlice<UInt8>) -> Int? {
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == colon && bytes[index + 1] == colon { return index }
            index += 1
        }
        return nil
    }

    /// `h16 *( ":" h16 ) [ ":" IPv4address ]` (RFC 3986 §3.2.2's pieces of IPv6address),
    /// as octets; an empty input is zero groups.
    private static func parseGroups(_ bytes: ArraySlice<UInt8>, allowsIPv4Tail: Bool) -> [UInt8]? {
        guard !bytes.isEmpty else { return [] }
        let pieces = bytes.split(separator: colon, omittingEmptySubsequences: false)
        var octets: [UInt8] = []
        for (position, piece) in pieces.enumerated() {
            if allowsIPv4Tail && position == pieces.count - 1 && piece.contains(UInt8(ascii: ".")) {
                guard let ipv4 = IPv4Address.parse(piece) else { return nil }
                octets += ipv4
                continue
            }
            guard let group = parseH16(piece) else { return nil }
            octets.append(UInt8(group >> 8))
            octets.append(UInt8(group & 0xFF))
        }
        return octets
    }

    ///     h16 = 1*4HEXDIG
    ///
    /// - SeeAlso: RFC 3986 §3.2.2
    private static func parseH16(_ bytes: ArraySlice<UInt8>) -> UInt16? {
        guard (1...4).contains(bytes.count) else { return nil }
        var value: UInt16 = 0
        for byte in bytes {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }
}
