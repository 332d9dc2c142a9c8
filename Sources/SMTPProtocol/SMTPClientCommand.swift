public import NIOCore
public import SASL

/// A command the client sends, with its wire encoding.
///
///     C: EHLO client.example.com
///     C: MAIL FROM:<alice@example.com> SIZE=1234 BODY=8BITMIME RET=HDRS ENVID=QQ314159
///     C: RCPT TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org
///     C: BDAT 1234 LAST
///
/// Every value that reaches the wire was built from typed values (`ReversePath`,
/// `ForwardPath`, `MailParameters`), so no field can carry a CR or LF into another
/// command. `description` never shows AUTH payloads.
///
/// - SeeAlso: RFC 5321 §4.1.1, §4.1.2; RFC 1870 §3 (SIZE), RFC 6152 §2 (BODY=8BITMIME),
///   RFC 3030 §2, §3 (BDAT, BODY=BINARYMIME), RFC 6531 §3.4 (SMTPUTF8), RFC 3461 §4
///   (NOTIFY, ORCPT, RET, ENVID), RFC 3207 (STARTTLS), RFC 4954 §4 (AUTH)
public enum SMTPClientCommand: Hashable, Sendable, CustomStringConvertible {
    case ehlo(String)
    case helo(String)
    case startTLS
    /// `AUTH mechanism [initial-response]`; the response is raw bytes, base64-encoded on
    /// the wire (an empty one as `=`, RFC 4954 §4).
    case auth(SASLMechanism, initialResponse: [UInt8]?)
    /// One response line of a SASL exchange, base64-encoded on the wire (empty: an
    /// empty line).
    case authResponse([UInt8])
    /// RFC 4422 §3.5, RFC 4954 §4: `*` cancels the exchange.
    case authCancel
    case mail(ReversePath, MailParameters)
    case rcpt(ForwardPath, RecipientParameters)
    case data
    /// `BDAT chunk-size [ SP end-marker ]`; the chunk's octets follow the line.
    case bdat(size: Int, isLast: Bool)
    case rset
    case noop
    case quit

    // MARK: - Encoding

    /// The command line with its CRLF.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .ehlo(let name): buffer.writeString("EHLO \(Self.domainArgument(name))")
        case .helo(let name): buffer.writeString("HELO \(Self.domainArgument(name))")
        case .startTLS: buffer.writeString("STARTTLS")
        case .auth(let mechanism, let initialResponse):
            buffer.writeString("AUTH \(mechanism.name)")
            if let initialResponse {
                buffer.writeString(" ")
                buffer.writeString(initialResponse.isEmpty ? "=" : Base64.encode(initialResponse))
            }
        case .authResponse(let bytes): buffer.writeString(Base64.encode(bytes))
        case .authCancel: buffer.writeString("*")
        case .mail(let path, let parameters):
            buffer.writeString("MAIL FROM:\(path)")
            for parameter in parameters.encoded { buffer.writeString(" \(parameter)") }
        case .rcpt(let path, let parameters):
            buffer.writeString("RCPT TO:\(path)")
            for parameter in parameters.encoded { buffer.writeString(" \(parameter)") }
        case .data: buffer.writeString("DATA")
        case .bdat(let size, let isLast): buffer.writeString(isLast ? "BDAT \(size) LAST" : "BDAT \(size)")
        case .rset: buffer.writeString("RSET")
        case .noop: buffer.writeString("NOOP")
        case .quit: buffer.writeString("QUIT")
        }
        buffer.writeString("\r\n")
    }

    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    /// The command for logs: AUTH payloads are never shown (STYLE.md §4).
    public var description: String {
        switch self {
        case .auth(let mechanism, let initialResponse):
            return initialResponse == nil ? "AUTH \(mechanism.name)" : "AUTH \(mechanism.name) <redacted>"
        case .authResponse: return "<redacted>"
        default:
            var buffer = encoded
            return String(buffer.readString(length: buffer.readableBytes - 2) ?? "")
        }
    }

    /// The EHLO/HELO argument: our own configured name, cleaned of anything that is
    /// not a visible ASCII character so that a configuration mistake cannot add a
    /// command. An empty result becomes `[127.0.0.1]`, which every server accepts.
    ///
    ///     ehlo = "EHLO" SP ( Domain / address-literal ) CRLF
    static func domainArgument(_ name: String) -> String {
        let cleaned = String(decoding: name.utf8.filter { $0 > 0x20 && $0 < 0x7F }, as: UTF8.self)
        return cleaned.isEmpty ? "[127.0.0.1]" : cleaned
    }
}

// MARK: - Parameters

extension MailParameters {
    /// The ESMTP parameters in wire form, in a fixed order.
    ///
    ///     Mail-parameters  = esmtp-param *(SP esmtp-param)
    ///     size-param       = "SIZE=" 1*20DIGIT               ; RFC 1870 §3
    ///     body-param       = "BODY=" ("7BIT" / "8BITMIME" / "BINARYMIME")
    ///     ret-parameter    = "RET=" ("FULL" / "HDRS")        ; RFC 3461 §4.3
    ///     envid-parameter  = "ENVID=" xtext                  ; RFC 3461 §4.4
    ///     auth-param       = "AUTH=" xtext                   ; RFC 4954 §5
    public var encoded: [String] {
        var parameters: [String] = []
        if let size { parameters.append("SIZE=\(max(size, 0))") }
        if let body { parameters.append("BODY=\(body.rawValue)") }
        if smtpUTF8 { parameters.append("SMTPUTF8") }
        if let ret { parameters.append("RET=\(ret.rawValue)") }
        if let envelopeID { parameters.append("ENVID=\(SMTPGrammar.encodeXtext(envelopeID))") }
        if let auth { parameters.append("AUTH=\(SMTPGrammar.encodeXtext(auth))") }
        return parameters
    }
}

extension RecipientParameters {
    /// The ESMTP parameters in wire form.
    ///
    ///     notify-esmtp-value  = "NEVER" / 1#notify-list-element   ; RFC 3461 §4.1
    ///     notify-list-element = "SUCCESS" / "FAILURE" / "DELAY"
    ///     orcpt-parameter     = "ORCPT=" original-recipient-address   ; RFC 3461 §4.2
    ///     original-recipient-address = addr-type ";" xtext
    ///     addr-type           = atom
    public var encoded: [String] {
        var parameters: [String] = []
        if let notify, !notify.isEmpty {
            parameters.append("NOTIFY=" + notify.map(\.rawValue).joined(separator: ","))
        }
        if let originalRecipient, let encoded = Self.encodeOriginalRecipient(originalRecipient) {
            parameters.append("ORCPT=\(encoded)")
        }
        return parameters
    }

    /// `type;address` (address decoded, as `RecipientParameters` keeps it) in wire form,
    /// or nil — the parameter is then left out, which RFC 3461 §4.2 allows (it is
    /// advisory) — when the type is not an atom or the address is not ASCII: xtext
    /// carries printable ASCII only, and RFC 6533's `utf-8-addr-xtext` is not
    /// implemented (a server that refused the parameter would refuse the recipient).
    static func encodeOriginalRecipient(_ value: String) -> String? {
        guard let semicolon = value.firstIndex(of: ";") else { return nil }
        let type = value[..<semicolon]
        let address = value[value.index(after: semicolon)...]
        guard !type.isEmpty, type.utf8.count <= 32, type.utf8.allSatisfy(SMTPGrammar.isAtext),
            address.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F })
        else { return nil }
        return "\(type);\(SMTPGrammar.encodeXtext(String(address)))"
    }
}

extension SMTPGrammar {
    /// RFC 3461 §4: every octet outside `xchar`, and `+` and `=`, as `+XX`.
    ///
    ///     xtext = *( xchar / hexchar )
    ///     xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
    ///     hexchar = "+" 2(%x30-39 / %x41-46)
    static func encodeXtext(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if byte >= 33 && byte <= 126 && byte != UInt8(ascii: "+") && byte != UInt8(ascii: "=") {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "+"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: - Paths from stored addresses

extension ReversePath {
    /// The reverse-path for an address as the queue keeps it (`""` for `<>`, otherwise
    /// the mailbox without angle brackets). The text goes through the same parser as
    /// a received MAIL command, so only a valid `Mailbox` can reach the wire.
    public init(parsing address: String) throws(SMTPParseError) {
        if address.isEmpty {
            self = .null
            return
        }
        self = .mailbox(try SMTPMailbox(parsingPathContent: address))
    }
}

extension ForwardPath {
    /// The forward-path for an address as the queue keeps it. `Postmaster` without a
    /// domain is RFC 5321 §4.1.1.3's special case.
    public init(parsing address: String) throws(SMTPParseError) {
        if SMTPGrammar.matches(Array(address.utf8)[...], "POSTMASTER") && address.utf8.count == 10 {
            self = .postmaster
            return
        }
        self = .mailbox(try SMTPMailbox(parsingPathContent: address))
    }
}

extension SMTPMailbox {
    /// `Mailbox` (RFC 5321 §4.1.2, with RFC 6531 §3.3's UTF-8) and nothing after it.
    ///
    ///     Mailbox = Local-part "@" ( Domain / address-literal )
    init(parsingPathContent text: String) throws(SMTPParseError) {
        let bytes = Array(text.utf8)
        var scanner = Scanner(bytes[...])
        let mailbox = try SMTPCommandParser.parseMailbox(&scanner)
        guard scanner.isAtEnd else { throw .syntax("Error: bad address syntax") }
        self = mailbox
    }
}
