import Directory
import LDAPDirectory
import MailCore
import Testing

/// RFC 4515 escaping and Dovecot-style variables in LDAP filters.
@Suite struct LDAPFilterTests {
    /// RFC 4515 §4's examples of escaped values.
    @Test func rfc4515Examples() {
        #expect(LDAPFilter.escape("Parens R Us (for all your parenthetical needs)")
            == "Parens R Us \\28for all your parenthetical needs\\29")
        #expect(LDAPFilter.escape("*") == "\\2a")
        #expect(LDAPFilter.escape("C:\\MyFile") == "C:\\5cMyFile")
        #expect(LDAPFilter.escape("a\u{0}b") == "a\\00b")
        #expect(LDAPFilter.escape("Lučić") == "Lučić")
    }

    /// The classic injection: a login that would close the assertion and add another.
    @Test func injectionStaysOneValue() throws {
        let template = try LookupTemplate(parsing: "(&(objectClass=inetOrgPerson)(mail=%u))")
        // Parentheses are not atext, so `*)(mail=*` never even parses as a login; the
        // escaping holds anyway.
        #expect(MailAddress("*)(mail=*@example.com") == nil)
        #expect(LDAPFilter.escape("*)(mail=*") == "\\2a\\29\\28mail=\\2a")
        let wildcard = template.expand(for: MailAddress("*@example.com")!, escape: LDAPFilter.escape)
        #expect(wildcard == "(&(objectClass=inetOrgPerson)(mail=\\2a@example.com))")
    }

    @Test func templatesExpandEachVariable() throws {
        let template = try LookupTemplate(parsing: "(&(uid=%n)(o=%{domain})(mail=%u)(x=100%%))")
        #expect(template.variables == [.username, .domain, .user])
        #expect(
            template.expand(for: MailAddress("Bob@Example.org")!, escape: LDAPFilter.escape)
                == "(&(uid=bob)(o=example.org)(mail=bob@example.org)(x=100%))")
    }

    @Test func badTemplatesAndFilters() {
        #expect(throws: LookupTemplateError.self) { try LookupTemplate(parsing: "(mail=%x)") }
        #expect(throws: LookupTemplateError.self) { try LookupTemplate(parsing: "(mail=%)") }
        #expect(!LDAPFilter.isWellFormed("mail=%u"))
        #expect(!LDAPFilter.isWellFormed("(mail=%u"))
        #expect(!LDAPFilter.isWellFormed("(a))(b"))
        #expect(LDAPFilter.isWellFormed("(a=\\29)"))
    }
}
