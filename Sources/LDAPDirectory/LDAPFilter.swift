/// RFC 4515 string representation of search filters.
public enum LDAPFilter {
    /// Escapes a value for an assertion in a filter (RFC 4515 §3: `*`, `(`, `)`, `\`
    /// and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`), so that a login such as
    /// `*)(uid=*` stays one value and cannot add clauses to the filter.
    public static func escape(_ value: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "*": escaped += "\\2a"
            case "(": escaped += "\\28"
            case ")": escaped += "\\29"
            case "\\": escaped += "\\5c"
            case "\0": escaped += "\\00"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// Whether `filter` is one balanced, parenthesised filter (a configuration check;
    /// the server parses it for real).
    public static func isWellFormed(_ filter: String) -> Bool {
        guard filter.hasPrefix("("), filter.hasSuffix(")") else { return false }
        var depth = 0
        var escaped = false
        for character in filter {
            if escaped {
                escaped = false
                continue
            }
            switch character {
            case "\\": escaped = true
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { return false }
            default: break
            }
        }
        return depth == 0 && !escaped
    }
}
