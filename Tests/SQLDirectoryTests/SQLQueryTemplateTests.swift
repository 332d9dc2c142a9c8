import Directory
import MailCore
import SQLDirectory
import Testing

/// Dovecot's queries, rewritten so that logins travel only as bound parameters.
@Suite struct SQLQueryTemplateTests {
    @Test func dovecotQuotedVariablesBecomeParameters() throws {
        // The example of Dovecot's dovecot-sql.conf.ext.
        let query = try SQLQueryTemplate(
            parsing: "SELECT username, domain, password FROM users WHERE username = '%n' AND domain = '%d'")
        #expect(query.sql == "SELECT username, domain, password FROM users WHERE username = $1 AND domain = $2")
        #expect(query.parameters == [.username, .domain])
    }

    @Test func unquotedAndLongNamesAndRepeats() throws {
        let query = try SQLQueryTemplate(
            parsing: "SELECT password FROM users WHERE userid = %u OR alias = '%{user}' OR d = %{domain};")
        #expect(query.sql == "SELECT password FROM users WHERE userid = $1 OR alias = $1 OR d = $2")
        #expect(query.parameters == [.user, .domain])
    }

    @Test func literalsWithoutVariablesAreKept() throws {
        let query = try SQLQueryTemplate(
            parsing: "SELECT 'it''s', password FROM users WHERE active = 'yes' AND name LIKE '%%x' AND userid = '%u'")
        #expect(query.sql == "SELECT 'it''s', password FROM users WHERE active = 'yes' AND name LIKE '%x' AND userid = $1")
        #expect(query.parameters == [.user])
    }

    @Test func variableInsideALongerLiteralIsRefused() {
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 FROM u WHERE a = '%n@x'") }
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 FROM u WHERE a = 'x%u'") }
    }

    @Test func unknownVariablesAndOwnPlaceholdersAreRefused() {
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 WHERE a = '%w'") }
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 WHERE a = %x") }
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 WHERE a = $1") }
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 WHERE a = 'open") }
        #expect(throws: LookupTemplateError.self) { try SQLQueryTemplate(parsing: "SELECT 1 WHERE a = %{nope}") }
    }

    /// Whatever the login, the SQL text stays the same: an injection attempt is only a
    /// value of $1.
    @Test func injectionCannotChangeTheText() throws {
        let query = try SQLQueryTemplate(parsing: "SELECT password FROM users WHERE userid = '%u'")
        #expect(query.sql == "SELECT password FROM users WHERE userid = $1")
        // `'` and `=` are atext (RFC 5322 §3.2.3): this is a valid address.
        let hostile = MailAddress("x'OR'1'='1@example.com")!
        #expect(LookupVariable.user.value(for: hostile) == "x'or'1'='1@example.com")
    }

    @Test func variableValuesAreCanonical() {
        let address = MailAddress("Alice.Smith+tag@Example.COM")!
        #expect(LookupVariable.user.value(for: address) == "alice.smith+tag@example.com")
        #expect(LookupVariable.username.value(for: address) == "alice.smith+tag")
        #expect(LookupVariable.domain.value(for: address) == "example.com")
    }

    @Test func hostileTemplatesNeverCrash() {
        for text in ["%", "'%", "'%u", "%{", "%{user", "''''", "'%%'", String(repeating: "%u", count: 1000), "\u{0}%u"] {
            _ = try? SQLQueryTemplate(parsing: text)
            _ = try? LookupTemplate(parsing: text)
        }
    }
}
