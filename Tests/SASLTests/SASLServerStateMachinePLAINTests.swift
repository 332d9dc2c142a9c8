import Testing

@testable import SASL

/// RFC 4616 §2: `[authzid] NUL authcid NUL passwd`, each field 1*SAFE, up to 255 octets.
let plainInvalidMessages: [InvalidInput] = {
    var fixtures: [InvalidInput] = []
    fixtures.append(InvalidInput("empty message", [], .malformed))
    fixtures.append(InvalidInput("no NUL", bytes("timtanstaafl"), .malformed))
    fixtures.append(InvalidInput("one NUL", bytes("tim\0tanstaafl"), .malformed))
    fixtures.append(InvalidInput("three NULs", bytes("\0tim\0tans\0taafl"), .malformed))
    fixtures.append(InvalidInput("four fields", bytes("a\0b\0c\0d"), .malformed))
    fixtures.append(InvalidInput("trailing NUL", bytes("\0tim\0tanstaafl\0"), .malformed))
    fixtures.append(InvalidInput("only NULs", bytes("\0\0"), .malformed))
    fixtures.append(InvalidInput("empty password", bytes("\0tim\0"), .malformed))
    fixtures.append(InvalidInput("empty authcid", bytes("\0\0tanstaafl"), .malformed))
    fixtures.append(InvalidInput("empty authcid with authzid", bytes("Ursel\0\0xipj3plmq"), .malformed))
    fixtures.append(InvalidInput("invalid UTF-8 in authcid", [0, 0x74, 0xFF, 0x6D, 0] + bytes("pw"), .malformed))
    fixtures.append(InvalidInput("invalid UTF-8 in password", bytes("\0tim\0") + [0xC3, 0x28], .malformed))
    fixtures.append(InvalidInput("surrogate in authzid", [0xED, 0xA0, 0x80] + bytes("\0tim\0pw"), .malformed))
    fixtures.append(InvalidInput("overlong encoding in password", bytes("\0tim\0") + [0xC0, 0xAF], .malformed))
    fixtures.append(InvalidInput("truncated UTF-8 at the end", bytes("\0tim\0pass") + [0xE3, 0x81], .malformed))
    fixtures.append(
        InvalidInput("256-octet password", bytes("\0tim\0") + [UInt8](repeating: 0x61, count: 256), .tooLong))
    fixtures.append(
        InvalidInput("256-octet authcid", [0] + [UInt8](repeating: 0x61, count: 256) + bytes("\0pw"), .tooLong))
    fixtures.append(
        InvalidInput("256-octet authzid", [UInt8](repeating: 0x61, count: 256) + bytes("\0tim\0pw"), .tooLong))
    return fixtures
}()

@Suite struct SASLServerStateMachinePLAINTests {
    // RFC 4616 §4, first example: no authorization identity.
    @Test func acceptsRFC4616ExampleWithoutAuthorizationIdentity() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(
            machine.start(initialResponse: bytes("\0tim\0tanstaafl"))
                == .verifyPassword(authorizationID: nil, authenticationID: "tim", password: "tanstaafl"))
        #expect(machine.isFinished)
    }

    // RFC 4616 §4, second example: Kurt authenticates and asks to act as Ursel.
    @Test func acceptsRFC4616ExampleWithAuthorizationIdentity() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(
            machine.start(initialResponse: bytes("Ursel\0Kurt\0xipj3plmq"))
                == .verifyPassword(authorizationID: "Ursel", authenticationID: "Kurt", password: "xipj3plmq"))
    }

    @Test func sendsEmptyChallengeWithoutInitialResponse() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(machine.start(initialResponse: nil) == .challenge([]))
        #expect(!machine.isFinished)
        #expect(
            machine.receive(bytes("Ursel\0Kurt\0xipj3plmq"))
                == .verifyPassword(authorizationID: "Ursel", authenticationID: "Kurt", password: "xipj3plmq"))
        #expect(machine.isFinished)
    }

    @Test func acceptsUTF8AndFieldsOf255Octets() {
        let long = String(repeating: "a", count: 255)
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(
            machine.start(initialResponse: bytes("\(long)\0\(long)\0\(long)"))
                == .verifyPassword(authorizationID: long, authenticationID: long, password: long))
        var unicode = SASLServerStateMachine(mechanism: .plain)
        #expect(
            unicode.start(initialResponse: bytes("\0ユーザー@例え.テスト\0pässwörd🔑"))
                == .verifyPassword(authorizationID: nil, authenticationID: "ユーザー@例え.テスト", password: "pässwörd🔑"))
    }

    @Test(arguments: plainInvalidMessages)
    func rejectsInvalidInitialResponse(_ fixture: InvalidInput) {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(machine.start(initialResponse: fixture.input) == failure(fixture.kind))
        #expect(machine.isFinished)
    }

    @Test(arguments: plainInvalidMessages)
    func rejectsInvalidResponseAfterChallenge(_ fixture: InvalidInput) {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(machine.start(initialResponse: nil) == .challenge([]))
        #expect(machine.receive(fixture.input) == failure(fixture.kind))
        #expect(machine.isFinished)
    }

    // RFC 4422 §4: an empty initial response ("=" in SMTP) is not the absence of one.
    @Test func emptyInitialResponseIsParsedNotTreatedAsAbsent() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(machine.start(initialResponse: []) == failure(.malformed))
    }

    // RFC 4422 §3.5: "*" aborts the exchange.
    @Test func cancelAfterChallengeFailsTheExchange() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        #expect(machine.start(initialResponse: nil) == .challenge([]))
        #expect(machine.cancel() == failure(.cancelled))
        #expect(machine.isFinished)
        #expect(machine.receive(bytes("\0tim\0tanstaafl")) == failure(.wrongState))
    }

    @Test func refusesEverythingAfterHandingOverThePassword() {
        var machine = SASLServerStateMachine(mechanism: .plain)
        _ = machine.start(initialResponse: bytes("\0tim\0tanstaafl"))
        #expect(machine.receive(bytes("\0tim\0tanstaafl")) == failure(.wrongState))
        #expect(machine.cancel() == failure(.wrongState))
        #expect(machine.start(initialResponse: nil) == failure(.wrongState))
    }
}
