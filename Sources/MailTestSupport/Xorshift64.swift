/// A small seeded generator (Marsaglia's xorshift64) so that randomised tests repeat:
/// every-byte splits, random pipelining, fuzz-like runs in unit tests.
public struct Xorshift64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    public mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    /// A uniformly chosen index below `count` (which must be positive).
    public mutating func index(below count: Int) -> Int {
        Int(next() % UInt64(count))
    }
}
