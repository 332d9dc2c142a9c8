/// A calendar date as SEARCH takes it (BEFORE, ON, SINCE, SENTBEFORE, …): day, month and
/// year without a time or zone.
///
///     date       = date-text / DQUOTE date-text DQUOTE
///     date-text  = date-day "-" date-month "-" date-year
///     date-day   = 1*2DIGIT
///     date-month = "Jan" / "Feb" / "Mar" / "Apr" / "May" / "Jun" /
///                  "Jul" / "Aug" / "Sep" / "Oct" / "Nov" / "Dec"
///     date-year  = 4DIGIT
///
///     C: A282 SEARCH FLAGGED SINCE 1-Feb-1994     IMAPDate(year: 1994, month: 2, day: 1)
///
/// Month names match case-insensitively; the day must exist in its month (no 30-Feb).
///
/// - SeeAlso: RFC 9051 §9 (date), §6.4.4 (SEARCH)
public struct IMAPDate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    /// `nil` unless the date exists (years 0...9999, as `date-year` has four digits).
    public init?(year: Int, month: Int, day: Int) {
        guard (0...9999).contains(year), (1...12).contains(month), day >= 1,
            day <= IMAPDate.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    static let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2:
            let isLeap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
            return isLeap ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (negative before), by Howard Hinnant's `days_from_civil`.
    public var daysSince1970: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = month > 2 ? month - 3 : month + 9
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    public static func < (lhs: IMAPDate, rhs: IMAPDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }

    /// `1-Feb-1994`
    public var description: String {
        let name = IMAPDate.monthNames[month - 1]
        let paddedYear = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(day)-\(name)-\(paddedYear)"
    }

    /// `date-text` from its bytes (the quotes already removed). Leniency: none needed;
    /// `date-day` already allows one or two digits.
    init?(dateText bytes: some Collection<UInt8>) {
        let parts = Array(bytes).split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count == 3,
            (1...2).contains(parts[0].count), parts[0].allSatisfy(IMAPGrammar.isDigit),
            let month = IMAPDate.month(named: parts[1]),
            parts[2].count == 4, parts[2].allSatisfy(IMAPGrammar.isDigit)
        else { return nil }
        self.init(year: IMAPGrammar.smallDecimal(parts[2]), month: month, day: IMAPGrammar.smallDecimal(parts[0]))
    }

    /// The month number for a three-letter name, matched case-insensitively.
    static func month(named bytes: ArraySlice<UInt8>) -> Int? {
        guard bytes.count == 3 else { return nil }
        for (index, name) in monthNames.enumerated() where IMAPGrammar.matches(bytes, name.uppercased()) {
            return index + 1
        }
        return nil
    }
}

/// A date, time and zone as APPEND takes it for the internal date (and as FETCH
/// INTERNALDATE returns it).
///
///     date-time      = DQUOTE date-day-fixed "-" date-month "-" date-year
///                      SP time SP zone DQUOTE
///     date-day-fixed = (SP DIGIT) / 2DIGIT
///     time           = 2DIGIT ":" 2DIGIT ":" 2DIGIT
///     zone           = ("+" / "-") 4DIGIT
///
///     C: A003 APPEND saved-messages (\Seen) "07-Feb-1994 21:52:25 -0800" {326}
///
/// Leniency: the day may also be a single digit without the leading space
/// (`"7-Feb-1994 …"`); some clients send it so, and Dovecot accepts it.
///
/// - SeeAlso: RFC 9051 §9 (date-time), §6.3.12 (APPEND)
public struct IMAPDateTime: Hashable, Sendable, CustomStringConvertible {
    public let date: IMAPDate
    public let hour: Int
    public let minute: Int
    public let second: Int
    /// The zone's offset from UTC in minutes: -480 for `-0800`.
    public let zoneMinutes: Int

    /// `nil` unless every field is in range (hour 0...23, minute 0...59, second 0...60 for
    /// a leap second, zone minutes 0...59 and hours 0...99 as four digits allow).
    public init?(date: IMAPDate, hour: Int, minute: Int, second: Int, zoneMinutes: Int) {
        guard (0...23).contains(hour), (0...59).contains(minute), (0...60).contains(second),
            zoneMinutes >= -(99 * 60 + 59), zoneMinutes <= 99 * 60 + 59
        else { return nil }
        self.date = date
        self.hour = hour
        self.minute = minute
        self.second = second
        self.zoneMinutes = zoneMinutes
    }

    /// The instant as seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Int64 {
        let local = Int64(date.daysSince1970) * 86_400 + Int64(hour * 3600 + minute * 60 + second)
        return local - Int64(zoneMinutes) * 60
    }

    /// `"07-Feb-1994 21:52:25 -0800"` without the quotes; the day is space-padded
    /// (`date-day-fixed`).
    public var description: String {
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        let day = date.day < 10 ? " \(date.day)" : String(date.day)
        let name = IMAPDate.monthNames[date.month - 1]
        let year = String(repeating: "0", count: max(0, 4 - String(date.year).count)) + String(date.year)
        let sign = zoneMinutes < 0 ? "-" : "+"
        let zone = zoneMinutes < 0 ? -zoneMinutes : zoneMinutes
        return
            "\(day)-\(name)-\(year) \(two(hour)):\(two(minute)):\(two(second)) \(sign)\(two(zone / 60))\(two(zone % 60))"
    }

    /// The contents of the quoted `date-time` (without the quotes).
    init?(dateTimeText bytes: some Collection<UInt8>) {
        var text = Array(bytes)[...]
        // date-day-fixed = (SP DIGIT) / 2DIGIT
        if text.first == UInt8(ascii: " ") { text = text.dropFirst() }
        let fields = text.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard fields.count == 3, let date = IMAPDate(dateText: fields[0]) else { return nil }
        let time = fields[1]
        let zone = fields[2]
        guard time.count == 8, zone.count == 5 else { return nil }
        let t = Array(time)
        let z = Array(zone)
        guard t[2] == UInt8(ascii: ":"), t[5] == UInt8(ascii: ":"),
            t[0..<2].allSatisfy(IMAPGrammar.isDigit), t[3..<5].allSatisfy(IMAPGrammar.isDigit),
            t[6..<8].allSatisfy(IMAPGrammar.isDigit),
            z[0] == UInt8(ascii: "+") || z[0] == UInt8(ascii: "-"), z[1..<5].allSatisfy(IMAPGrammar.isDigit)
        else { return nil }
        let zoneValue = IMAPGrammar.smallDecimal(z[1..<3]) * 60 + IMAPGrammar.smallDecimal(z[3..<5])
        guard IMAPGrammar.smallDecimal(z[3..<5]) <= 59 else { return nil }
        self.init(
            date: date, hour: IMAPGrammar.smallDecimal(t[0..<2]), minute: IMAPGrammar.smallDecimal(t[3..<5]),
            second: IMAPGrammar.smallDecimal(t[6..<8]),
            zoneMinutes: z[0] == UInt8(ascii: "-") ? -zoneValue : zoneValue)
    }
}
