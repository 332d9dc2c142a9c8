import NIOCore
import SASL
import Testing

@testable import SMTPProtocol

@Suite("SMTP client commands")
struct SMTPClientCommandTests {
    static func wire(_ command: SMTPClientCommand) -> String { String(buffer: command.encoded) }

    static func mailbox(_ text: String) -> SMTPMailbox {
        guard let mailbox = try? SMTPMailbox(parsingPathContent: text) else { fatalError("bad test address \(text)") }
        return mailbox
    }

    @Test func simpleCommands() {
        #expect(Self.wire(.ehlo("client.example.com")) == "EHLO client.example.com\r\n")
        #expect(Self.wire(.helo("client.example.com")) == "HELO client.example.com\r\n")
        #expect(Self.wire(.startTLS) == "STARTTLS\r\n")
        #expect(Self.wire(.data) == "DATA\r\n")
        #expect(Self.wire(.rset) == "RSET\r\n")
        #expect(Self.wire(.noop) == "NOOP\r\n")
        #expect(Self.wire(.quit) == "QUIT\r\n")
        #expect(Self.wire(.bdat(size: 1234, isLast: true)) == "BDAT 1234 LAST\r\n")
        #expect(Self.wire(.bdat(size: 0, isLast: false)) == "BDAT 0\r\n")
        #expect(Self.wire(.authCancel) == "*\r\n")
    }

    /// Our own name cannot add a command, whatever the configuration says.
    @Test func heloNameIsCleaned() {
        #expect(Self.wire(.ehlo("evil\r\nRSET")) == "EHLO evilRSET\r\n")
        #expect(Self.wire(.ehlo(" ")) == "EHLO [127.0.0.1]\r\n")
    }

    /// RFC 4954 §4 and §9 examples: the initial response in base64, "=" when empty.
    @Test func auth() {
        #expect(
            Self.wire(.auth(.plain, initialResponse: Array("\0tim\0tanstaafl".utf8)))
                == "AUTH PLAIN AHRpbQB0YW5zdGFhZmw=\r\n")
        #expect(Self.wire(.auth(.plain, initialResponse: [])) == "AUTH PLAIN =\r\n")
        #expect(Self.wire(.auth(.login, initialResponse: nil)) == "AUTH LOGIN\r\n")
        #expect(Self.wire(.authResponse(Array("tim".utf8))) == "dGlt\r\n")
        #expect(Self.wire(.authResponse([])) == "\r\n")
    }

    @Test func authPayloadsAreRedacted() {
        let command = SMTPClientCommand.auth(.plain, initialResponse: Array("\0tim\0tanstaafl".utf8))
        #expect(command.description == "AUTH PLAIN <redacted>")
        #expect(SMTPClientCommand.authResponse(Array("secret".utf8)).description == "<redacted>")
        #expect(SMTPClientCommand.rset.description == "RSET")
    }

    @Test func mailWithParameters() {
        var parameters = MailParameters()
        parameters.size = 1234
        parameters.body = .eightBitMIME
        parameters.smtpUTF8 = true
        parameters.ret = .headers
        parameters.envelopeID = "QQ314159"
        #expect(
            Self.wire(.mail(.mailbox(Self.mailbox("alice@example.com")), parameters))
                == "MAIL FROM:<alice@example.com> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ314159\r\n")
        #expect(Self.wire(.mail(.null, MailParameters())) == "MAIL FROM:<>\r\n")
    }

    /// RFC 3461 §4: "+" and "=" and anything outside printable ASCII as +XX.
    @Test func xtext() {
        #expect(SMTPGrammar.encodeXtext("a+b=c d") == "a+2Bb+3Dc+20d")
        #expect(SMTPGrammar.encodeXtext("ü") == "+C3+BC")
        for text in ["plain", "a+b=c d", "x\u{7E}!"] {
            #expect(SMTPGrammar.decodeXtext(Array(SMTPGrammar.encodeXtext(text).utf8)[...]) == text)
        }
    }

    /// RFC 3461 §4.1, §4.2 (the example of §4.2 with an xtext-encoded "+").
    @Test func rcptWithParameters() {
        var parameters = RecipientParameters()
        parameters.notify = [.success, .failure]
        parameters.originalRecipient = "rfc822;bob+tag@example.org"
        #expect(
            Self.wire(.rcpt(.mailbox(Self.mailbox("bob@example.org")), parameters))
                == "RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2Btag@example.org\r\n")
        #expect(Self.wire(.rcpt(.postmaster, RecipientParameters())) == "RCPT TO:<Postmaster>\r\n")
        // An ORCPT whose type is not an atom is left out (it is advisory).
        var odd = RecipientParameters()
        odd.originalRecipient = "rfc 822;bob@example.org"
        #expect(Self.wire(.rcpt(.mailbox(Self.mailbox("bob@example.org")), odd)) == "RCPT TO:<bob@example.org>\r\n")
    }

    /// What the client writes, the server's parser reads back as the same command.
    @Test(arguments: [
        ("alice@example.com", "bob@example.org"), ("\"john doe\"@example.com", "x@[192.0.2.1]"),
        ("", "Postmaster"), ("用户@例子.测试", "ü@bücher.example"),
    ])
    func roundTripsThroughTheServersParser(_ sender: String, _ recipient: String) throws {
        var mail = MailParameters()
        mail.size = 99
        mail.body = .binaryMIME
        mail.smtpUTF8 = true
        mail.ret = .full
        mail.envelopeID = "id+with=specials"
        let reversePath = try ReversePath(parsing: sender)
        let mailCommand = SMTPClientCommand.mail(reversePath, mail)
        var mailLine = Array(mailCommand.encoded.readableBytesView)
        mailLine.removeLast(2)
        #expect(SMTPCommandParser.parse(mailLine) == .success(.mail(reversePath, mail)))

        var rcpt = RecipientParameters()
        rcpt.notify = [.delay]
        rcpt.originalRecipient = "rfc822;\(recipient)"
        let forwardPath = try ForwardPath(parsing: recipient)
        var rcptLine = Array(SMTPClientCommand.rcpt(forwardPath, rcpt).encoded.readableBytesView)
        rcptLine.removeLast(2)
        // A non-ASCII ORCPT cannot be xtext: it is left out (RFC 3461 §4.2: advisory).
        if !recipient.utf8.allSatisfy({ $0 < 0x80 }) { rcpt.originalRecipient = nil }
        #expect(SMTPCommandParser.parse(rcptLine) == .success(.rcpt(forwardPath, rcpt)))
    }

    /// Stored addresses go through the parser: nothing but one mailbox gets through.
    @Test(arguments: [
        "bob@example.org>\r\nRSET", "bob@example.org> NOTIFY=NEVER", "<bob@example.org>", "bob", "bob@", "@example.org",
        "bob@exa mple.org", "bob@example.org\r\n", "a\0b@example.org",
        String(repeating: "a", count: 65) + "@example.org",
    ])
    func refusesMalformedAddresses(_ address: String) {
        #expect(throws: SMTPParseError.self) { try ForwardPath(parsing: address) }
        #expect(throws: SMTPParseError.self) { try ReversePath(parsing: address) }
    }

    @Test func parsesStoredAddresses() throws {
        #expect(try ReversePath(parsing: "") == .null)
        #expect(try ForwardPath(parsing: "postmaster") == .postmaster)
        #expect(try ForwardPath(parsing: "Bob@Example.ORG").description == "<Bob@example.org>")
        #expect(try ForwardPath(parsing: "\"a b\"@example.org").description == "<\"a b\"@example.org>")
    }
}
