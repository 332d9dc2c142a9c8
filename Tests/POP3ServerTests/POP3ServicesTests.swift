import Testing
@testable import POP3Server

@Suite("POP3 services: UIDL format, maildrop locks, LOGIN-DELAY")
struct POP3ServicesTests {
    /// Dovecot's default `%08Xu%08Xv`: clients that move over keep their UIDLs.
    @Test func dovecotDefaultFormat() {
        #expect(UIDLFormat.dovecotDefault.uidl(uidValidity: 0x6B0B_EC45, uid: 1) == "000000016B0BEC45")
        #expect(UIDLFormat.dovecotDefault.uidl(uidValidity: 1_234_567, uid: 0xFFFF_FFFF) == "FFFFFFFF0012D687")
    }

    @Test func otherFormats() throws {
        #expect(try UIDLFormat(parsing: "%v.%u").uidl(uidValidity: 1_700_000_000, uid: 42) == "1700000000.42")
        #expect(try UIDLFormat(parsing: "%xu-%05v%%").uidl(uidValidity: 1, uid: 255) == "ff-00001%")
        #expect(try UIDLFormat(parsing: "id%u").uidl(uidValidity: 9, uid: 3) == "id3")
    }

    @Test func badFormatsAreRefused() {
        for text in ["", "%v", "%q", "%u%", "%123u", "a b%u", "%u\u{7F}", "é%u"] {
            #expect(throws: UIDLFormatError.self, "\(text)") { try UIDLFormat(parsing: text) }
        }
    }

    @Test func uidlsStayWithinRFC1939() throws {
        let long = try UIDLFormat(parsing: String(repeating: "x", count: 80) + "%u")
        #expect(long.uidl(uidValidity: 1, uid: 1).count == 70)
    }

    @Test func oneSessionPerMaildrop() {
        let locks = MaildropLocks()
        #expect(locks.acquire("alice@example.test"))
        #expect(!locks.acquire("alice@example.test"))
        #expect(locks.acquire("bob@example.test"))
        locks.release("alice@example.test")
        #expect(!locks.isHeld("alice@example.test"))
        #expect(locks.acquire("alice@example.test"))
    }

    @Test func loginDelayAdmitsOncePerPeriod() {
        let delay = LoginDelay(seconds: 60)
        let start = ContinuousClock.now
        #expect(delay.admit("alice@example.test", now: start))
        #expect(!delay.admit("alice@example.test", now: start.advanced(by: .seconds(59))))
        #expect(delay.admit("bob@example.test", now: start.advanced(by: .seconds(59))))
        // A refused attempt does not restart the period.
        #expect(delay.admit("alice@example.test", now: start.advanced(by: .seconds(60))))
    }
}
