/// An IPv4 or IPv6 address parsed from the text an auth client sends in `lip=`/`rip=`,
/// only to decide whether the end user's connection is local (the plaintext rule).
///
///     rip=127.0.0.1          loopback
///     rip=::1                loopback
///     rip=::ffff:127.0.0.1   loopback (IPv4-mapped, RFC 4291 §2.5.5.2)
///     rip=192.0.2.7 lip=192.0.2.7     same address: local
///
/// IPv4 addresses are kept as their IPv4-mapped IPv6 form, so `127.0.0.1` and
/// `::ffff:127.0.0.1` compare equal. Text that is not an address (zone IDs such as
/// `fe80::1%eth0` included) gives `nil`, which never counts as local.
///
/// - SeeAlso: RFC 4291 §2.2 (text form), §2.5.3 (loopback), §2.5.5.2 (IPv4-mapped);
///   RFC 1122 §3.2.1.3 (127.0.0.0/8)
struct InternetAddress: Equatable, Sendable {
    /// Always 16 octets, network order.
    let octets: [UInt8]

    init?(parsing text: String) {
        let bytes = Array(text.utf8)[...]
        if bytes.contains(Self.colon) {
            guard let octets = Self.parseIPv6(bytes) else { return nil }
            self.octets = octets
        } else {
            guard let ipv4 = Self.parseIPv4(bytes) else { return nil }
            self.octets = Self.ipv4MappedPrefix + ipv4
        }
    }

    /// 127.0.0.0/8 (IPv4 or IPv4-mapped) or `::1`.
    var isLoopback: Bool {
        if octets.starts(with: Self.ipv4MappedPrefix) {
            return octets.dropFirst(Self.ipv4MappedPrefix.count).first == 127
        }
        return octets == [UInt8](repeating: 0, count: 15) + [1]
    }

    // MARK: - Parsing

    private static let colon = UInt8(ascii: ":")
    private static let dot = UInt8(ascii: ".")
    /// `::ffff:0:0/96`.
    private static let ipv4MappedPrefix: [UInt8] = [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]

    /// `dec-octet "." dec-octet "." dec-octet "." dec-octet` (RFC 3986 §3.2.2): four
    /// decimal numbers of one to three digits, each at most 255.
    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        let parts = bytes.split(separator: dot, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var octets: [UInt8] = []
        for part in parts {
            guard (1...3).contains(part.count) else { return nil }
            var value = 0
            for byte in part {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            guard let octet = UInt8(exactly: value) else { return nil }
            octets.append(octet)
        }
        return octets
    }

    /// RFC 4291 §2.2: eight groups of one to four hex digits separated by `:`; one `::`
    /// stands for one or more groups of zeros; the last 32 bits may be written as an
    /// IPv4 address.
    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> [UInt8]? {
        var doubleColon: ArraySlice<UInt8>.Index? = nil
        var index = bytes.startIndex
        while index < bytes.endIndex, bytes.index(after: index) < bytes.endIndex {
            if bytes[index] == colon && bytes[bytes.index(after: index)] == colon {
                doubleColon = index
                break
            }
            index = bytes.index(after: index)
        }
        let groups: [UInt16]
        if let doubleColon {
            // A second `::` in the tail shows up as an empty group and fails there.
            let tailStart = bytes.index(doubleColon, offsetBy: 2)
            guard let head = parseGroups(bytes[bytes.startIndex..<doubleColon], allowsIPv4: false),
                let tail = parseGroups(bytes[tailStart...], allowsIPv4: true),
                head.count + tail.count <= 7
            else { return nil }
            groups = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            guard let all = parseGroups(bytes, allowsIPv4: true), all.count == 8 else { return nil }
            groups = all
        }
        return groups.flatMap { [UInt8(truncatingIfNeeded: $0 >> 8), UInt8(truncatingIfNeeded: $0)] }
    }

    /// `h16 *(":" h16)`, the last possibly an IPv4 address (two groups); empty text is
    /// no groups.
    private static func parseGroups(_ bytes: ArraySlice<UInt8>, allowsIPv4: Bool) -> [UInt16]? {
        guard !bytes.isEmpty else { return [] }
        let parts = bytes.split(separator: colon, omittingEmptySubsequences: false)
        var groups: [UInt16] = []
        for (position, part) in parts.enumerated() {
            if part.contains(dot) {
                guard allowsIPv4, position == parts.count - 1, let ipv4 = parseIPv4(part), ipv4.count == 4 else {
                    return nil
                }
                let values = ipv4.map { UInt16($0) }
                groups.append(values[0] << 8 | values[1])
                groups.append(values[2] << 8 | values[3])
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var value: UInt16 = 0
            for byte in part {
                guard let digit = hexDigitValue(byte) else { return nil }
                value = value << 4 | UInt16(digit)
            }
            groups.append(value)
        }
        guard groups.count <= 8 else { return nil }
        return groups
    }

    private static func hexDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
