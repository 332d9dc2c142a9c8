/// A set of message sequence numbers or UIDs, as a client writes it: ranges separated by
/// commas, `*` for the largest number in use, or `$` for the result saved by the last
/// `SEARCH RETURN (SAVE)`.
///
///     sequence-set     = (seq-number / seq-range) ["," sequence-set] / seq-last-command
///     seq-range        = seq-number ":" seq-number
///     seq-number       = nz-number / "*"
///     seq-last-command = "$"
///
///     C: A003 STORE 2:4 +FLAGS (\Deleted)      .ranges([2:4])
///     C: a UID FETCH 300:* (FLAGS)             .ranges([300:*])
///     C: A283 FETCH $ (FLAGS)                  .lastCommandResult
///
/// The ranges are kept as written (in order, unmerged; `4:2` is not turned into `2:4`):
/// RFC 9051 §9 says the order of a range's ends does not matter, and `resolved` applies
/// that.
///
/// - SeeAlso: RFC 9051 §9 (sequence-set), RFC 5182 §2 (`$`)
public enum SequenceSet: Hashable, Sendable, CustomStringConvertible {
    /// One or more ranges; a single number is a range with equal ends.
    case ranges([SequenceRange])
    /// `$`: the result of the last SEARCH with RETURN (SAVE) (RFC 5182).
    case lastCommandResult

    /// A set of one range.
    public init(_ range: SequenceRange) { self = .ranges([range]) }

    /// Whether `*` appears anywhere (QRESYNC's known-uids must not use it).
    public var containsLargest: Bool {
        guard case .ranges(let ranges) = self else { return false }
        return ranges.contains { $0.first == .largest || $0.last == .largest }
    }

    /// The wire form: `1:3,5,7:*` or `$`.
    public var description: String {
        switch self {
        case .lastCommandResult: return "$"
        case .ranges(let ranges): return ranges.map(\.description).joined(separator: ",")
        }
    }
}

/// One end of a range: a number, or `*`, the largest number in use in the mailbox (the
/// last message's sequence number, or its UID).
///
///     seq-number = nz-number / "*"
///
/// - SeeAlso: RFC 9051 §9
public enum SequenceNumber: Hashable, Sendable, CustomStringConvertible {
    /// 1...4294967295.
    case number(UInt32)
    /// `*`
    case largest

    /// The number this stands for in a mailbox whose largest number is `largest`.
    public func resolved(largest: UInt32) -> UInt32 {
        switch self {
        case .number(let value): return value
        case .largest: return largest
        }
    }

    public var description: String {
        switch self {
        case .number(let value): return String(value)
        case .largest: return "*"
        }
    }
}

/// `first:last`, or a single number when both ends are equal.
///
///     seq-range = seq-number ":" seq-number
///               ; two seq-number values and all values between these two regardless
///               ; of order.
public struct SequenceRange: Hashable, Sendable, CustomStringConvertible {
    public var first: SequenceNumber
    public var last: SequenceNumber

    public init(_ first: SequenceNumber, _ last: SequenceNumber) {
        self.first = first
        self.last = last
    }

    /// A single number.
    public init(_ number: UInt32) {
        self.init(.number(number), .number(number))
    }

    /// `first:last`.
    public init(_ first: UInt32, _ last: UInt32) {
        self.init(.number(first), .number(last))
    }

    /// The numbers this range covers when the largest number in use is `largest`, lower
    /// end first (RFC 9051 §9: "regardless of order").
    public func resolved(largest: UInt32) -> ClosedRange<UInt32> {
        let a = first.resolved(largest: largest)
        let b = last.resolved(largest: largest)
        return min(a, b)...max(a, b)
    }

    public var description: String {
        first == last ? first.description : "\(first):\(last)"
    }
}
