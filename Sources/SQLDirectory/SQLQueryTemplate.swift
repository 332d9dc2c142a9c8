public import Directory

/// A Dovecot-style SQL query with its `%u`/`%n`/`%d` turned into bound parameters
/// (`$1`, `$2`, …), so that a login can never change the query's text:
///
///     SELECT password FROM users WHERE userid = '%u'
///     → SELECT password FROM users WHERE userid = $1      with $1 = the address
///
/// Dovecot quotes its variables (`'%u'`) and escapes the value; a quoted variable that
/// stands alone in its string literal becomes a parameter here, so Dovecot queries
/// work unchanged. A variable inside a longer literal (`'%n@example.com'`) is refused
/// with a hint to build the string with `||` instead.
public struct SQLQueryTemplate: Sendable, Hashable, CustomStringConvertible {
    /// The SQL text sent to PostgreSQL, with `$n` placeholders.
    public let sql: String
    /// The value of each placeholder, in order (`$1` is the first).
    public let parameters: [LookupVariable]
    /// The query as configured.
    public let description: String

    public init(parsing text: String) throws(LookupTemplateError) {
        var sql = ""
        var parameters: [LookupVariable] = []
        func placeholder(_ variable: LookupVariable) -> String {
            if let index = parameters.firstIndex(of: variable) { return "$\(index + 1)" }
            parameters.append(variable)
            return "$\(parameters.count)"
        }
        var rest = Substring(text)
        while let character = rest.first {
            switch character {
            case "'":
                // A string literal: either exactly one variable ('%u'), or text without
                // variables ('' is an escaped quote inside it).
                if let (variable, length) = LookupVariable.token(at: rest.dropFirst()), let variable,
                    rest.dropFirst(1 + length).first == "'"
                {
                    sql += placeholder(variable)
                    rest = rest.dropFirst(length + 2)
                    continue
                }
                sql.append("'")
                rest = rest.dropFirst()
                var closed = false
                while let inner = rest.first {
                    rest = rest.dropFirst()
                    if inner == "'" {
                        if rest.first == "'" {
                            sql += "''"
                            rest = rest.dropFirst()
                            continue
                        }
                        sql.append("'")
                        closed = true
                        break
                    }
                    if inner == "%" {
                        if rest.first == "%" {
                            sql.append("%")
                            rest = rest.dropFirst()
                            continue
                        }
                        throw LookupTemplateError(
                            "a variable inside a quoted string is not allowed (values are bound as parameters); write '%u' alone, or build the text with ||, e.g. %n || '@example.com'"
                        )
                    }
                    sql.append(inner)
                }
                guard closed else { throw LookupTemplateError("unterminated string literal") }
            case "%":
                guard let (variable, length) = LookupVariable.token(at: rest) else {
                    throw LookupTemplateError(
                        "unknown variable '\(rest.prefix(12))'; use %u (address), %n (local part), %d (domain) or %%")
                }
                sql += variable.map(placeholder) ?? "%"
                rest = rest.dropFirst(length)
            case "$":
                // Positional parameters are ours; a literal $1 in the query would be
                // bound to a value the operator did not mean.
                if let next = rest.dropFirst().first, next.isASCII, next.isNumber {
                    throw LookupTemplateError("use %u, %n and %d, not $\(next) placeholders")
                }
                sql.append("$")
                rest = rest.dropFirst()
            default:
                sql.append(character)
                rest = rest.dropFirst()
            }
        }
        // PostgreSQL itself refuses several statements in one extended-protocol query.
        self.sql = sql.trimmingTrailingSemicolon
        self.parameters = parameters
        self.description = text
    }
}

extension String {
    fileprivate var trimmingTrailingSemicolon: String {
        var text = Substring(self)
        while let last = text.last, last == ";" || last == " " || last == "\n" || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
