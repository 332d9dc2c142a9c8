import Testing

@testable import SASL

let mechanismNameFixtures: [(String, SASLMechanism)] = [
    ("PLAIN", .plain), ("plain", .plain), ("Login", .login), ("LOGIN", .login),
    ("SCRAM-SHA-256", .scramSHA256), ("scram-sha-256", .scramSHA256), ("Scram-Sha-256", .scramSHA256),
]

@Suite struct SASLMechanismTests {
    @Test(arguments: mechanismNameFixtures)
    func matchesNamesCaseInsensitively(name: String, expected: SASLMechanism) {
        #expect(SASLMechanism(name: name) == expected)
    }

    @Test(arguments: ["", "CRAM-MD5", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1", "PLAIN ", "logın", "LOGİN", "ＰＬＡＩＮ"])
    func rejectsOtherNames(name: String) {
        #expect(SASLMechanism(name: name) == nil)
    }

    @Test func plaintextMechanismsAreMarked() {
        #expect(SASLMechanism.plain.isPlaintext)
        #expect(SASLMechanism.login.isPlaintext)
        #expect(!SASLMechanism.scramSHA256.isPlaintext)
        #expect(SASLMechanism.scramSHA256.name == "SCRAM-SHA-256")
    }
}
