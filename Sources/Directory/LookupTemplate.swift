public import MailCore

/// The variables of Dovecot's SQL queries and LDAP filters that Tsubame fills in:
/// `%u` (the whole address), `%n` (the local part), `%d` (the domain), also written
/// `%{user}`, `%{username}`, `%{domain}`; `%%` is a literal `%`. Values are the
/// address in canonical form (local part and domain lower-cased, Dovecot's `%Lu`).
///
/// The values never become query text: SQL sends them as bound parameters, LDAP
/// escapes them per RFC 4515 (`LDAPFilter.escape`).
public enum LookupVariable: String, Sendable, Hashable, CaseIterable {
    case user = "u"
    case username = "n"
    case domain = "d"

    public func value(for address: MailAddress) -> String {
        let canonical = address.canonical
        switch self {
        case .user: return canonical
        case .username: return String(canonical[..<(canonical.lastIndex(of: "@") ?? canonical.endIndex)])
        case .domain: return address.domain
        }
    }

    /// What `%` at the start of `text` means: a variable, a literal `%` (`%%`), with the
    /// number of characters it takes; `nil` for anything else (a configuration error).
    public static func token(at text: Substring) -> (variable: LookupVariable?, length: Int)? {
        guard text.first == "%" else { return nil }
        let rest = text.dropFirst()
        if rest.first == "%" { return (nil, 2) }
        if let letter = rest.first, let variable = LookupVariable(rawValue: String(letter)) { return (variable, 2) }
        if rest.first == "{", let close = rest.firstIndex(of: "}") {
            let name = rest[rest.index(after: rest.startIndex)..<close]
            let variable: LookupVariable? =
                switch name {
                case "user": .user
                case "username": .username
                case "domain": .domain
                default: nil
                }
            if let variable { return (variable, name.count + 3) }
        }
        return nil
    }
}

/// A filter, search base or other text with `%u`/`%n`/`%d` in it, checked once when
/// the configuration is read.
public struct LookupTemplate: Sendable, Hashable, CustomStringConvertible {
    public enum Piece: Sendable, Hashable {
        case text(String)
        case variable(LookupVariable)
    }

    public let pieces: [Piece]
    /// The text as configured.
    public let description: String

    /// Throws a message for the operator naming the bad `%` sequence.
    public init(parsing text: String) throws(LookupTemplateError) {
        var pieces: [Piece] = []
        var literal = ""
        var rest = Substring(text)
        while let character = rest.first {
            if character == "%" {
                guard let (variable, length) = LookupVariable.token(at: rest) else {
                    throw LookupTemplateError(
                        "unknown variable '\(rest.prefix(12))'; use %u (address), %n (local part), %d (domain) or %%")
                }
                if let variable {
                    if !literal.isEmpty { pieces.append(.text(literal)) }
                    literal = ""
                    pieces.append(.variable(variable))
                } else {
                    literal.append("%")
                }
                rest = rest.dropFirst(length)
            } else {
                literal.append(character)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { pieces.append(.text(literal)) }
        self.pieces = pieces
        self.description = text
    }

    public var variables: [LookupVariable] {
        pieces.compactMap { if case .variable(let variable) = $0 { variable } else { nil } }
    }

    /// The text with each variable's value for `address`, passed through `escape`.
    public func expand(for address: MailAddress, escape: (String) -> String) -> String {
        var result = ""
        for piece in pieces {
            switch piece {
            case .text(let text): result += text
            case .variable(let variable): result += escape(variable.value(for: address))
            }
        }
        return result
    }
}

public struct LookupTemplateError: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
