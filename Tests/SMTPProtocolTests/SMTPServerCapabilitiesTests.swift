import Testing

@testable import SMTPProtocol

@Suite("EHLO capabilities")
struct SMTPServerCapabilitiesTests {
    /// RFC 5321 Appendix D.1.
    @Test func rfc5321Example() {
        let capabilities = SMTPServerCapabilities(
            ehloReply: SMTPReply(250, nil, ["foo.com greets bar.com", "8BITMIME", "SIZE", "DSN", "HELP"]))
        #expect(capabilities.serverName == "foo.com")
        #expect(capabilities.isExtended)
        #expect(capabilities.supports8BITMIME)
        #expect(capabilities.supportsSize)
        #expect(capabilities.maximumMessageSize == nil)
        #expect(capabilities.supportsDSN)
        #expect(capabilities.supports("HELP"))
        #expect(!capabilities.supportsPipelining)
        #expect(!capabilities.supportsStartTLS)
        #expect(capabilities.authMechanisms.isEmpty)
    }

    /// What Tsubame's own server announces, parsed back.
    @Test func tsubameServersAnnouncement() {
        var machine = makeMachine(isTLS: true)
        _ = machine.greeting()
        let actions = send(&machine, "EHLO client.example.test")
        guard case .send(let reply) = actions.first else {
            Issue.record("no EHLO reply")
            return
        }
        let capabilities = SMTPServerCapabilities(ehloReply: reply)
        #expect(capabilities.serverName == testHostname)
        #expect(capabilities.supportsPipelining)
        #expect(capabilities.maximumMessageSize == SMTPLimits().maximumMessageSize)
        #expect(capabilities.supportsEnhancedStatusCodes)
        #expect(capabilities.supports8BITMIME)
        #expect(capabilities.supportsBinaryMIME)
        #expect(capabilities.supportsChunking)
        #expect(capabilities.supportsDSN)
        #expect(capabilities.supportsSMTPUTF8)
        #expect(!capabilities.supportsStartTLS)
        #expect(capabilities.authMechanisms == ["PLAIN", "LOGIN"])
    }

    @Test func keywordsMatchCaseInsensitively() {
        let capabilities = SMTPServerCapabilities(
            ehloReply: SMTPReply(250, nil, ["mx", "pipelining", "StartTLS", "auth plain scram-sha-256", "Size 1000"]))
        #expect(capabilities.supportsPipelining)
        #expect(capabilities.supportsStartTLS)
        #expect(capabilities.authMechanisms == ["PLAIN", "SCRAM-SHA-256"])
        #expect(capabilities.maximumMessageSize == 1000)
    }

    /// Old Exchange and some appliances write "AUTH=LOGIN" (before RFC 2554 was final).
    @Test func oldStyleAuthAnnouncement() {
        let capabilities = SMTPServerCapabilities(
            ehloReply: SMTPReply(250, nil, ["mx", "AUTH LOGIN PLAIN", "AUTH=LOGIN"]))
        #expect(capabilities.authMechanisms == ["LOGIN", "PLAIN"])
    }

    @Test(
        arguments: [
            ("SIZE", nil), ("SIZE 0", nil), ("SIZE 52428800", 52_428_800), ("SIZE -5", nil), ("SIZE big", nil),
            ("SIZE 99999999999999999999999", nil),
        ] as [(String, Int?)])
    func sizeParameter(_ line: String, _ expected: Int?) {
        let capabilities = SMTPServerCapabilities(ehloReply: SMTPReply(250, nil, ["mx", line]))
        #expect(capabilities.supportsSize)
        #expect(capabilities.maximumMessageSize == expected)
    }

    /// Lines that are not ehlo-lines cost the server that line, nothing else.
    @Test func ignoresMalformedLines() {
        let capabilities = SMTPServerCapabilities(
            ehloReply: SMTPReply(
                250, nil,
                [
                    "mx", "-BAD", "", "ÄUTH PLAIN", "SMTPUTF8", "AUTH PLAIN\u{7F}", "X=Y",
                    "AUTH " + String(repeating: "A", count: 21),
                ]))
        #expect(capabilities.supportsSMTPUTF8)
        #expect(capabilities.authMechanisms.isEmpty)
        #expect(capabilities.extensions.keys.sorted() == ["AUTH", "SMTPUTF8"])
    }

    @Test func heloHasNoExtensions() {
        let capabilities = SMTPServerCapabilities(heloReply: SMTPReply(250, nil, "mx.example.org Hello"))
        #expect(capabilities.serverName == "mx.example.org")
        #expect(!capabilities.isExtended)
        #expect(capabilities.extensions.isEmpty)
    }
}
