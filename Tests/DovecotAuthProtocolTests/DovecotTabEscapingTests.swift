import MailTestSupport
import Foundation
import SASL
import Testing

@testable import DovecotAuthProtocol

// Dovecot's tab-escaping (protocol document, "General"; src/lib/strescape.c).

@Suite("Dovecot tab-escaping")
struct DovecotTabEscapingTests {
    @Test(arguments: [
        ("plain", "plain"),
        ("a\tb", "a\u{1}tb"),
        ("a\nb", "a\u{1}nb"),
        ("a\rb", "a\u{1}rb"),
        ("a\u{0}b", "a\u{1}0b"),
        ("a\u{1}b", "a\u{1}1b"),
        ("\t\r\n\u{0}\u{1}", "\u{1}t\u{1}r\u{1}n\u{1}0\u{1}1"),
        ("user=x", "user=x"),
    ])
    func escapes(_ field: String, _ escaped: String) {
        #expect(DovecotTabEscaping.escape(Array(field.utf8)) == Array(escaped.utf8))
        #expect(DovecotTabEscaping.unescape(Array(escaped.utf8)) == Array(field.utf8))
    }

    @Test(arguments: [
        ("a\u{1}lb", "a\nb"),  // the protocol document's `l` for LF
        ("a\u{1}xb", "axb"),  // anything else: the character itself
        ("a\u{1}\u{1}", "a\u{1}"),  // \001 \001: the second is "anything else"
        ("ab\u{1}", "ab"),  // a trailing escape character is dropped
        ("\u{1}", ""),
        ("", ""),
    ])
    func unescapesLeniently(_ escaped: String, _ field: String) {
        #expect(DovecotTabEscaping.unescape(Array(escaped.utf8)) == Array(field.utf8))
    }

    @Test func everyOctetRoundTrips() {
        let all = (0...255).map { UInt8($0) }
        let escaped = DovecotTabEscaping.escape(all)
        #expect(!escaped.contains(UInt8(ascii: "\t")))
        #expect(!escaped.contains(UInt8(ascii: "\n")))
        #expect(!escaped.contains(UInt8(ascii: "\r")))
        #expect(!escaped.contains(0))
        #expect(DovecotTabEscaping.unescape(escaped) == all)
    }

    @Test func randomFieldsRoundTrip() {
        var generator = Xorshift64(seed: 7)
        for _ in 0..<1_000 {
            let count = generator.index(below: 40)
            var field: [UInt8] = []
            for _ in 0..<count {
                // Mostly the special octets, to exercise every escape.
                let special: [UInt8] = [0, 1, 9, 10, 13, UInt8(ascii: "t"), UInt8(ascii: "n")]
                if generator.index(below: 2) == 0 {
                    field.append(special[generator.index(below: special.count)])
                } else {
                    field.append(UInt8(truncatingIfNeeded: generator.next()))
                }
            }
            #expect(DovecotTabEscaping.unescape(DovecotTabEscaping.escape(field)) == field)
        }
    }

    /// A user name cannot split or end the OK line.
    @Test func userNameWithTabAndLineFeedIsEscapedInOK() {
        var machine = handshaken()
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(plainUserPass)")
        let done = machine.passwordVerified(requestID: 1, outcome: .success(user: "a\tb\nc"))
        #expect(summary(done) == ["OK\t1\tuser=a\u{1}tb\u{1}nc\n"])
        #expect(fields(done.first) == ["OK", "1", "user=a\tb\nc"])
    }

    @Test func userNameWithTabIsEscapedInFAIL() {
        var machine = handshaken()
        let resp = base64([0] + Array("a\tb".utf8) + [0] + Array("pass".utf8))
        send(&machine, "AUTH\t1\tPLAIN\tservice=smtp\tsecured\tresp=\(resp)")
        let done = machine.passwordVerified(requestID: 1, outcome: .failure)
        #expect(summary(done) == ["FAIL\t1\tuser=a\u{1}tb\n"])
    }

    /// Fields of client commands are unescaped after the line is cut at raw TABs.
    @Test func clientFieldsAreUnescaped() {
        var machine = handshaken()
        // `\001 t` is a TAB; `\001 2` is "anything else": the 2 itself.
        let actions = send(
            &machine, "AUTH\t1\tPLAIN\tservice=sm\u{1}ttp\tlip=1\u{1}27.0.0.1\trip=127.0.0.1\tresp=\(plainUserPass)")
        let info = RequestInfo(service: "sm\ttp", remoteAddress: "127.0.0.1", localAddress: "127.0.0.1")
        #expect(actions == [.verifyPassword(requestID: 1, login: "user", password: "pass", info: info)])
    }

    @Test func encodedRepliesRoundTripThroughTheFieldSplitter() {
        let reply = DovecotAuthReply.fail(
            requestID: 12, user: "x\ty", code: .temporaryFailure, reason: "line\nbreak")
        let line = reply.encoded
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(line.filter { $0 == UInt8(ascii: "\n") }.count == 1)
        #expect(
            fields(.send(line)) == ["FAIL", "12", "user=x\ty", "code=temp_fail", "reason=line\nbreak", "temp"])
    }
}

@Suite("Internet addresses for the plaintext rule")
struct InternetAddressTests {
    @Test(arguments: [
        ("127.0.0.1", true), ("127.255.255.254", true), ("::1", true), ("0:0:0:0:0:0:0:1", true),
        ("::ffff:127.0.0.1", true), ("::FFFF:7f00:1", true),
        ("128.0.0.1", false), ("::", false), ("::2", false), ("1::", false), ("192.0.2.1", false),
        ("2001:db8::1", false),
    ])
    func loopback(_ text: String, _ isLoopback: Bool) throws {
        let address = try #require(InternetAddress(parsing: text))
        #expect(address.isLoopback == isLoopback)
    }

    @Test(arguments: [
        "", "localhost", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1..2.3", "1.2.3.4 ", ":::", "1::2::3",
        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "12345::", "g::1", "::1%lo", "1.2.3.4::", "::ffff:1.2.3.4:5",
        "1:2:3:4:5:6:7:8::", "[::1]",
    ])
    func notAnAddress(_ text: String) {
        #expect(InternetAddress(parsing: text) == nil)
    }

    @Test(arguments: [
        ("192.0.2.7", "::ffff:192.0.2.7"), ("2001:db8::7", "2001:0DB8:0:0:0:0:0:7"), ("::", "0:0:0:0:0:0:0:0"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
    ])
    func sameAddressInOtherForms(_ lhs: String, _ rhs: String) {
        #expect(InternetAddress(parsing: lhs) != nil)
        #expect(InternetAddress(parsing: lhs) == InternetAddress(parsing: rhs))
    }
}
