/// How a part is meant to be presented: Content-Disposition.
///
///     disposition := "Content-Disposition" ":" disposition-type *(";" disposition-parm)
///     disposition-type := "inline" / "attachment" / extension-token
///
///     Content-Disposition: attachment; filename*=UTF-8''na%C3%AFve.txt
///       → type "attachment", filename "naïve.txt"
///
/// - SeeAlso: RFC 2183 §2; RFC 2231 (parameter continuations and charsets)
public struct ContentDisposition: Hashable, Sendable {
    /// The disposition type, lower-cased.
    public var type: String
    public var parameters: [MIMEParameter]

    public init(type: String, parameters: [MIMEParameter] = []) {
        self.type = type
        self.parameters = parameters
    }

    /// Parses a Content-Disposition value; nil when it does not start with a token.
    public init?(fieldValue: [UInt8], limits: MIMELimits = MIMELimits()) {
        var scanner = StructuredFieldScanner(fieldValue)
        scanner.skipCFWS()
        guard let type = scanner.readToken() else { return nil }
        let parameters = MIMEParameter.assemble(scanner.readParameters(limit: limits.maximumParameters))
        self.init(type: MIMEGrammar.lowercasedString(type), parameters: parameters)
    }

    /// The first parameter called `name` (case-insensitive).
    public func parameter(named name: String) -> MIMEParameter? {
        parameters.first(named: name)
    }

    /// The `filename` parameter as text (RFC 2183 §2.3, RFC 2231 decoded).
    public var filename: String? { parameter(named: "filename")?.value }
}
