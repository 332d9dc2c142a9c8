import ServerSupport
import Testing

@Suite struct ConnectionLimiterTests {
    @Test func countsPerAddressAndTotal() {
        let limiter = ConnectionLimiter(maximumTotal: 3, maximumPerAddress: 2)
        #expect(limiter.acquire("10.0.0.1") == nil)
        #expect(limiter.acquire("10.0.0.1") == nil)
        #expect(limiter.acquire("10.0.0.1") == .perAddress)
        #expect(limiter.acquire("10.0.0.2") == nil)
        #expect(limiter.acquire("10.0.0.3") == .total)
        limiter.release("10.0.0.1")
        #expect(limiter.acquire("10.0.0.3") == nil)
        #expect(limiter.openConnections == 3)
    }

    @Test func releaseForgetsAddressesAtZero() {
        let limiter = ConnectionLimiter(maximumTotal: 10, maximumPerAddress: 1)
        #expect(limiter.acquire("a") == nil)
        limiter.release("a")
        #expect(limiter.openConnections == 0)
        #expect(limiter.acquire("a") == nil)
    }
}
