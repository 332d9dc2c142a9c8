import IMAPProtocol

// MARK: - Encoding

extension MessageStructure {
    /// BODYSTRUCTURE (`extensible: true`) or BODY (`false`) of the message, in IMAP
    /// syntax (RFC 9051 §7.5.2, §9 `body`).
    ///
    /// `allowUTF8` is whether the client may get UTF-8 in quoted strings (IMAP4rev2 or
    /// UTF8=ACCEPT); otherwise non-ASCII values are sent as literals (`IMAPEncoding`).
    public func bodyStructure(extensible: Bool, allowUTF8: Bool = false) -> [UInt8] {
        root.bodyStructure(extensible: extensible, allowUTF8: allowUTF8, limits: limits)
    }

    /// `bodyStructure` as text, for logs and tests; 8-bit octets that are not UTF-8
    /// become U+FFFD.
    public func bodyStructureString(extensible: Bool, allowUTF8: Bool = false) -> String {
        String(decoding: bodyStructure(extensible: extensible, allowUTF8: allowUTF8), as: UTF8.self)
    }

    /// The ENVELOPE in IMAP syntax (RFC 9051 §7.5.2).
    public func encodedEnvelope(allowUTF8: Bool = false) -> [UInt8] {
        envelope.encoded(allowUTF8: allowUTF8)
    }

    /// `encodedEnvelope` as text, for logs and tests.
    public func envelopeString(allowUTF8: Bool = false) -> String {
        String(decoding: encodedEnvelope(allowUTF8: allowUTF8), as: UTF8.self)
    }
}

extension Envelope {
    /// The envelope in IMAP syntax:
    ///
    ///     envelope = "(" env-date SP env-subject SP env-from SP env-sender SP
    ///                env-reply-to SP env-to SP env-cc SP env-bcc SP
    ///                env-in-reply-to SP env-message-id ")"
    ///
    /// - SeeAlso: RFC 9051 §7.5.2, §9
    public func encoded(allowUTF8: Bool = false) -> [UInt8] {
        var writer = IMAPStructureWriter(allowUTF8: allowUTF8)
        writer.write(self)
        return writer.output
    }
}

extension BodyPart {
    /// The BODYSTRUCTURE (or BODY) of this part and everything in it.
    public func bodyStructure(extensible: Bool, allowUTF8: Bool = false, limits: MIMELimits = MIMELimits()) -> [UInt8] {
        var writer = IMAPStructureWriter(allowUTF8: allowUTF8)
        writer.writeBody(self, extensible: extensible, limits: limits)
        return writer.output
    }
}

/// Writes ENVELOPE and BODY/BODYSTRUCTURE in IMAP syntax. Strings go through
/// `IMAPEncoding` (quoted when possible, else a literal); NUL octets, which only a
/// literal8 could carry and no client expects in these strings, are written as spaces.
struct IMAPStructureWriter {
    var output: [UInt8] = []
    let allowUTF8: Bool

    init(allowUTF8: Bool) {
        self.allowUTF8 = allowUTF8
    }

    mutating func raw(_ text: String) { output.append(contentsOf: text.utf8) }

    mutating func space() { output.append(MIMEGrammar.space) }

    mutating func open() { output.append(UInt8(ascii: "(")) }

    mutating func close() { output.append(UInt8(ascii: ")")) }

    mutating func writeNil() { raw("NIL") }

    mutating func string(_ bytes: [UInt8]) {
        let safe = bytes.contains(0) ? bytes.map { $0 == 0 ? MIMEGrammar.space : $0 } : bytes
        output.append(contentsOf: IMAPEncoding.string(safe, allowUTF8: allowUTF8))
    }

    mutating func string(_ text: String) { string(Array(text.utf8)) }

    mutating func nstring(_ bytes: [UInt8]?) {
        if let bytes { string(bytes) } else { writeNil() }
    }

    mutating func number(_ value: Int) { raw(String(value)) }

    // MARK: Envelope

    mutating func write(_ envelope: Envelope) {
        open()
        nstring(envelope.date)
        space()
        nstring(envelope.subject)
        for list in [envelope.from, envelope.sender, envelope.replyTo, envelope.to, envelope.cc, envelope.bcc] {
            space()
            write(list)
        }
        space()
        nstring(envelope.inReplyTo)
        space()
        nstring(envelope.messageID)
        close()
    }

    ///     env-to = "(" 1*address ")" / nil
    mutating func write(_ addresses: [EnvelopeAddress]) {
        guard !addresses.isEmpty else {
            writeNil()
            return
        }
        open()
        for address in addresses {
            open()
            nstring(address.name)
            space()
            nstring(address.adl)
            space()
            nstring(address.mailbox)
            space()
            nstring(address.host)
            close()
        }
        close()
    }

    // MARK: Body

    ///     body            = "(" (body-type-1part / body-type-mpart) ")"
    ///     body-type-1part = (body-type-basic / body-type-msg / body-type-text)
    ///                       [SP body-ext-1part]
    ///     body-type-basic = media-basic SP body-fields
    ///     body-type-msg   = media-message SP body-fields SP envelope SP body SP body-fld-lines
    ///     body-type-text  = media-text SP body-fields SP body-fld-lines
    ///     body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    ///
    /// Recursion follows the tree, whose depth `MIMELimits.maximumDepth` bounds.
    mutating func writeBody(_ part: BodyPart, extensible: Bool, limits: MIMELimits) {
        open()
        switch part.content {
        case .multipart(let children) where !part.isOpaque:
            if children.isEmpty {
                // `1*body`: a multipart without parts is given one empty text/plain part,
                // as Dovecot does, so that clients can parse the answer.
                raw("(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)")
            }
            for child in children {
                writeBody(child, extensible: extensible, limits: limits)
            }
            space()
            string(MIMEGrammar.uppercasedBytes(part.contentType.subtype.utf8))
            if extensible {
                // body-ext-mpart = body-fld-param [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
                space()
                writeParameters(part.contentType.parameters)
                writeCommonExtensions(part)
            }
        case .message(let message) where !part.isOpaque:
            writeMediaType(part)
            space()
            writeBodyFields(part)
            space()
            write(Envelope(header: message.header, limits: limits))
            space()
            writeBody(message, extensible: extensible, limits: limits)
            space()
            number(part.lineCount)
            if extensible { writeSinglePartExtensions(part) }
        default:
            writeMediaType(part)
            space()
            writeBodyFields(part)
            if part.contentType.isText, !part.isOpaque {
                space()
                number(part.lineCount)
            }
            if extensible { writeSinglePartExtensions(part) }
        }
        close()
    }

    /// `media-basic` / `media-message` / `media-text`: type and subtype, upper case; an
    /// opaque part is APPLICATION/OCTET-STREAM.
    private mutating func writeMediaType(_ part: BodyPart) {
        if part.isOpaque {
            raw("\"APPLICATION\" \"OCTET-STREAM\"")
            return
        }
        string(MIMEGrammar.uppercasedBytes(part.contentType.type.utf8))
        space()
        string(MIMEGrammar.uppercasedBytes(part.contentType.subtype.utf8))
    }

    ///     body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP
    ///                   body-fld-enc SP body-fld-octets
    private mutating func writeBodyFields(_ part: BodyPart) {
        writeParameters(part.contentType.parameters)
        space()
        nstring(part.contentID)
        space()
        nstring(part.contentDescription)
        space()
        string(part.contentTransferEncoding.imapName)
        space()
        number(part.size)
    }

    ///     body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
    private mutating func writeParameters(_ parameters: [MIMEParameter]) {
        guard !parameters.isEmpty else {
            writeNil()
            return
        }
        open()
        for (index, parameter) in parameters.enumerated() {
            if index > 0 { space() }
            string(parameter.imapName)
            space()
            string(parameter.imapValue)
        }
        close()
    }

    ///     body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
    private mutating func writeSinglePartExtensions(_ part: BodyPart) {
        space()
        nstring(part.contentMD5)
        writeCommonExtensions(part)
    }

    ///     body-fld-dsp  = "(" string SP body-fld-param ")" / nil
    ///     body-fld-lang = nstring / "(" string *(SP string) ")"
    ///     body-fld-loc  = nstring
    private mutating func writeCommonExtensions(_ part: BodyPart) {
        space()
        if let disposition = part.contentDisposition {
            open()
            string(MIMEGrammar.uppercasedBytes(disposition.type.utf8))
            space()
            writeParameters(disposition.parameters)
            close()
        } else {
            writeNil()
        }
        space()
        switch part.contentLanguage.count {
        case 0:
            writeNil()
        case 1:
            string(part.contentLanguage[0])
        default:
            open()
            for (index, tag) in part.contentLanguage.enumerated() {
                if index > 0 { space() }
                string(tag)
            }
            close()
        }
        space()
        nstring(part.contentLocation)
    }
}
