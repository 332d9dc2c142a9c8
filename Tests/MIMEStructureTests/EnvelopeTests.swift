import IMAPProtocol
import Testing

@testable import MIMEStructure

@Suite("ENVELOPE and address lists")
struct EnvelopeTests {
    // MARK: - RFC 5322 Appendix A

    /// RFC 5322 A.1.1: a message from one person to another with simple addressing.
    @Test func rfc5322A11() {
        let message = structure([
            "From: John Doe <jdoe@machine.example>",
            "To: Mary Smith <mary@example.net>",
            "Subject: Saying Hello",
            "Date: Fri, 21 Nov 1997 09:55:06 -0600",
            "Message-ID: <1234@local.machine.example>",
            "",
            "This is a message just to say hello.",
            "So, \"Hello\".",
        ])
        let john = "(\"John Doe\" NIL \"jdoe\" \"machine.example\")"
        #expect(
            message.envelopeString()
                == "(\"Fri, 21 Nov 1997 09:55:06 -0600\" \"Saying Hello\" (\(john)) (\(john)) (\(john))"
                + " ((\"Mary Smith\" NIL \"mary\" \"example.net\")) NIL NIL NIL \"<1234@local.machine.example>\")")
    }

    /// RFC 5322 A.1.2: different types of mailboxes.
    @Test func rfc5322A12() {
        let message = structure([
            "From: \"Joe Q. Public\" <john.q.public@example.com>",
            "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
            "Cc: <boss@nil.test>, \"Giant; \\\"Big\\\" Box\" <sysservices@example.net>",
            "Date: Tue, 1 Jul 2003 10:52:37 +0200",
            "Message-ID: <5678.21-Nov-1997@example.com>",
            "",
            "Hi everyone.",
        ])
        let envelope = message.envelope
        #expect(describe(envelope.from) == [["Joe Q. Public", nil, "john.q.public", "example.com"]])
        #expect(
            describe(envelope.to) == [
                ["Mary Smith", nil, "mary", "x.test"], [nil, nil, "jdoe", "example.org"], ["Who?", nil, "one", "y.test"],
            ])
        #expect(
            describe(envelope.cc) == [
                [nil, nil, "boss", "nil.test"], ["Giant; \"Big\" Box", nil, "sysservices", "example.net"],
            ])
        #expect(
            message.envelopeString().contains(
                "((NIL NIL \"boss\" \"nil.test\")(\"Giant; \\\"Big\\\" Box\" NIL \"sysservices\" \"example.net\"))"))
    }

    /// RFC 5322 A.1.3: group addresses, with start and end markers as IMAP encodes them.
    @Test func rfc5322A13Groups() {
        let message = structure([
            "From: Pete <pete@silly.example>",
            "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;",
            "Cc: Undisclosed recipients:;",
            "Date: Thu, 13 Feb 1969 23:32:54 -0330",
            "Message-ID: <testabcd.1234@silly.example>",
            "",
            "Testing.",
        ])
        let envelope = message.envelope
        #expect(
            describe(envelope.to) == [
                [nil, nil, "A Group", nil], ["Ed Jones", nil, "c", "a.test"], [nil, nil, "joe", "where.test"],
                ["John", nil, "jdoe", "one.test"], [nil, nil, nil, nil],
            ])
        #expect(envelope.to.first?.isGroupStart == true)
        #expect(envelope.to.last?.isGroupEnd == true)
        #expect(describe(envelope.cc) == [[nil, nil, "Undisclosed recipients", nil], [nil, nil, nil, nil]])
        #expect(
            message.envelopeString().contains(
                "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")(NIL NIL \"joe\" \"where.test\")"
                    + "(\"John\" NIL \"jdoe\" \"one.test\")(NIL NIL NIL NIL))"
                    + " ((NIL NIL \"Undisclosed recipients\" NIL)(NIL NIL NIL NIL))"))
    }

    /// RFC 5322 A.2: reply messages (Reply-To, In-Reply-To, a quoted display name with a
    /// colon).
    @Test func rfc5322A2Replies() {
        let reply = structure([
            "From: Mary Smith <mary@example.net>",
            "To: John Doe <jdoe@machine.example>",
            "Reply-To: \"Mary Smith: Personal Account\" <smith@home.example>",
            "Subject: Re: Saying Hello",
            "Date: Fri, 21 Nov 1997 10:01:10 -0600",
            "Message-ID: <3456@example.net>",
            "In-Reply-To: <1234@local.machine.example>",
            "References: <1234@local.machine.example>",
            "",
            "This is a reply to your hello.",
        ]).envelope
        #expect(describe(reply.replyTo) == [["Mary Smith: Personal Account", nil, "smith", "home.example"]])
        #expect(describe(reply.sender) == [["Mary Smith", nil, "mary", "example.net"]])
        #expect(text(reply.inReplyTo) == "<1234@local.machine.example>")
        #expect(text(reply.subject) == "Re: Saying Hello")

        let second = structure([
            "To: \"Mary Smith: Personal Account\" <smith@home.example>",
            "From: John Doe <jdoe@machine.example>",
            "Subject: Re: Saying Hello",
            "Date: Fri, 21 Nov 1997 11:00:00 -0600",
            "Message-ID: <abcd.1234@local.machine.test>",
            "In-Reply-To: <3456@example.net>",
            "References: <1234@local.machine.example> <3456@example.net>",
            "",
            "This is a reply to your reply.",
        ]).envelope
        #expect(describe(second.to) == [["Mary Smith: Personal Account", nil, "smith", "home.example"]])
        #expect(text(second.messageID) == "<abcd.1234@local.machine.test>")
        #expect(describe(second.replyTo) == describe(second.from))
    }

    /// RFC 5322 A.3: resent fields do not change the envelope.
    @Test func rfc5322A3Resent() {
        let envelope = structure([
            "Resent-From: Mary Smith <mary@example.net>",
            "Resent-To: Jane Brown <j-brown@other.example>",
            "Resent-Date: Mon, 24 Nov 1997 14:22:01 -0800",
            "Resent-Message-ID: <78910@example.net>",
            "From: John Doe <jdoe@machine.example>",
            "To: Mary Smith <mary@example.net>",
            "Subject: Saying Hello",
            "Date: Fri, 21 Nov 1997 09:55:06 -0600",
            "Message-ID: <1234@local.machine.example>",
            "",
            "This is a message just to say hello.",
        ]).envelope
        #expect(describe(envelope.from) == [["John Doe", nil, "jdoe", "machine.example"]])
        #expect(describe(envelope.to) == [["Mary Smith", nil, "mary", "example.net"]])
        #expect(text(envelope.messageID) == "<1234@local.machine.example>")
        #expect(text(envelope.date) == "Fri, 21 Nov 1997 09:55:06 -0600")
    }

    /// RFC 5322 A.5: white space, comments, and other oddities.
    @Test func rfc5322A5Comments() {
        let message = structure([
            "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            "To:A Group(Some people)",
            "     :Chris Jones <c@(Chris's host.)public.example>,",
            "         joe@example.org,",
            "  John <jdoe@one.test> (my dear friend); (the end of the group)",
            "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;",
            "Date: Thu,",
            "      13",
            "        Feb",
            "          1969",
            "      23:32",
            "               -0330 (Newfoundland Time)",
            "Message-ID:              <testabcd.1234@silly.test>",
            "",
            "Testing.",
        ])
        let envelope = message.envelope
        #expect(describe(envelope.from) == [["Pete", nil, "pete", "silly.test"]])
        #expect(
            describe(envelope.to) == [
                [nil, nil, "A Group", nil], ["Chris Jones", nil, "c", "public.example"],
                [nil, nil, "joe", "example.org"], ["John", nil, "jdoe", "one.test"], [nil, nil, nil, nil],
            ])
        #expect(describe(envelope.cc) == [[nil, nil, "Hidden recipients", nil], [nil, nil, nil, nil]])
        let date = text(envelope.date) ?? ""
        #expect(date.hasPrefix("Thu,"))
        #expect(date.hasSuffix("-0330 (Newfoundland Time)"))
        #expect(!date.contains("\r") && !date.contains("\n"))
        #expect(text(envelope.messageID) == "<testabcd.1234@silly.test>")
    }

    /// RFC 5322 A.6.1: obsolete addressing (a source route, an empty list element, CFWS
    /// around the dots of a domain).
    @Test func rfc5322A61ObsoleteAddressing() {
        let envelope = structure([
            "From: Joe Q. Public <john.q.public@example.com>",
            "To: Mary Smith <@node.test:mary@example.net>, , jdoe@test  . example",
            "Date: Tue, 1 Jul 2003 10:52:37 +0200",
            "Message-ID: <5678.21-Nov-1997@example.com>",
            "",
            "Hi everyone.",
        ]).envelope
        #expect(describe(envelope.from) == [["Joe Q. Public", nil, "john.q.public", "example.com"]])
        #expect(
            describe(envelope.to) == [
                ["Mary Smith", "@node.test", "mary", "example.net"], [nil, nil, "jdoe", "test.example"],
            ])
    }

    // MARK: - Envelope rules

    /// RFC 9051 §7.5.2: absent strings are NIL, present but empty ones "", absent or
    /// empty address lists NIL; Sender and Reply-To default to From.
    @Test func absentAndEmptyFields() {
        let message = structure([
            "From: a@example.test",
            "Sender:",
            "Subject:",
            "To:",
            "",
            "body",
        ])
        let from = "((NIL NIL \"a\" \"example.test\"))"
        #expect(message.envelopeString() == "(NIL \"\" \(from) \(from) \(from) NIL NIL NIL NIL NIL)")

        let empty = MessageStructure(parsing: [])
        #expect(empty.envelopeString() == "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)")
    }

    @Test func addressOddities() {
        func parse(_ value: String) -> [[String?]] { describe(Envelope.addresses(in: bytes(value))) }
        #expect(parse("jdoe@example.org (John Doe)") == [["John Doe", nil, "jdoe", "example.org"]])
        #expect(parse("\"john doe\"@example.test") == [[nil, nil, "\"john doe\"", "example.test"]])
        #expect(parse("\"john\".doe@example.test") == [[nil, nil, "john.doe", "example.test"]])
        #expect(parse("root") == [[nil, nil, "root", "MISSING_DOMAIN"]])
        #expect(parse("John Smith") == [["John Smith", nil, "MISSING_MAILBOX", "MISSING_DOMAIN"]])
        #expect(parse("<>") == [[nil, nil, "MISSING_MAILBOX", "MISSING_DOMAIN"]])
        #expect(parse("a@[192.0.2.1]") == [[nil, nil, "a", "[192.0.2.1]"]])
        #expect(parse("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>") == [
            ["=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", nil, "keld", "dkuug.dk"]
        ])
        #expect(parse("Jörg <jörg@bücher.example>") == [["Jörg", nil, "jörg", "bücher.example"]])
        #expect(parse("Unterminated <a@b.example") == [["Unterminated", nil, "a", "b.example"]])
        #expect(parse("group: a@b.example") == [[nil, nil, "group", nil], [nil, nil, "a", "b.example"], [nil, nil, nil, nil]])
        #expect(parse(", ,,") == [])
        #expect(parse("(only a comment)") == [])
        // Junk never crashes, and NIL hosts only ever come as balanced group markers.
        for junk in ["@", "@@@", "<<<>>>", ":;:;", "\"", "(", "[", "a@", "@b", ";;", "<@a:>", "\\", "a:b:c;;"] {
            var isInGroup = false
            for address in Envelope.addresses(in: bytes(junk)) where address.host == nil {
                if address.isGroupStart {
                    #expect(!isInGroup, "\(junk)")
                    isInGroup = true
                } else {
                    #expect(isInGroup, "\(junk)")
                    isInGroup = false
                }
            }
            #expect(!isInGroup, "\(junk)")
        }
    }

    /// NUL never reaches the wire (it would need literal8); 8-bit text that is not UTF-8
    /// goes as a literal.
    @Test func hostileEnvelopeStrings() {
        let message = MessageStructure(
            parsing: bytes("Subject: a\u{0}b\r\nFrom: x@example.test\r\n\r\n"))
        let encoded = message.encodedEnvelope()
        #expect(!encoded.contains(0))
        #expect(message.envelopeString().hasPrefix("(NIL \"a b\" "))

        var latin1 = bytes("Subject: caf")
        latin1.append(0xE9)
        latin1 += bytes("\r\n\r\n")
        let literal = MessageStructure(parsing: latin1).encodedEnvelope(allowUTF8: true)
        #expect(Array(literal.prefix(9)) == bytes("(NIL {4}\r"))

        let utf8 = MessageStructure(parsing: bytes("Subject: café\r\n\r\n"))
        #expect(utf8.envelopeString(allowUTF8: true).hasPrefix("(NIL \"café\" "))
        #expect(utf8.envelopeString(allowUTF8: false).hasPrefix("(NIL {5}\r\ncafé "))
    }
}
