public import IMAPProtocol

/// BODY[section]<partial>: which octets a section specifier names.
///
/// Part numbers follow RFC 9051 §6.4.5: the parts of a message are the parts of its
/// multipart body, or else its body as part 1 ("every message has at least one part
/// number"); the parts of a message/rfc822 part are those of the message it holds.
///
///     HEADER        header of the message, blank line included
///     TEXT          body of the message
///     1             body of part 1 (a non-multipart message: its body)
///     1.MIME        MIME header of part 1 (a non-multipart message: its header)
///     3             body of part 3; for message/rfc822, the whole encapsulated message
///     3.HEADER      header of the message part 3 holds (only for message/rfc822)
///     3.TEXT        body of that message
///     3.1           part 1 of that message
///     4.2.2.1       nested deeper
///
/// A section that does not exist (a part number past the last part, HEADER or TEXT of a
/// part that is not message/rfc822, MIME without a part number) gives nil; servers
/// differ in what they answer then (Dovecot and Cyrus send NIL or an empty string).
///
/// - SeeAlso: RFC 9051 §6.4.5 (BODY[section]<partial>), RFC 3501 §6.4.5
extension MessageStructure {
    /// The part a part-number path names; nil when there is none. An empty path has no
    /// part (the message itself is not a part).
    public func part(at path: [UInt32]) -> BodyPart? {
        guard !path.isEmpty else { return nil }
        var candidates = Self.numberedParts(ofMessage: root)
        var current: BodyPart? = nil
        for number in path {
            guard number >= 1, UInt64(number) <= UInt64(candidates.count) else { return nil }
            let part = candidates[Int(number) - 1]
            current = part
            candidates = Self.numberedParts(of: part)
        }
        return current
    }

    /// Where BODY[section] lies in `bytes`, when it is one run of octets: every section
    /// but HEADER.FIELDS and HEADER.FIELDS.NOT. Nil when the section does not exist or is
    /// not contiguous. The server may send this range straight from the message file.
    public func byteRange(of section: SectionSpecifier) -> Range<Int>? {
        switch section.kind {
        case .complete:
            if section.part.isEmpty { return 0..<bytes.count }
            return part(at: section.part)?.bodyRange
        case .header:
            return messageEntity(at: section.part)?.headerRange
        case .text:
            return messageEntity(at: section.part)?.bodyRange
        case .mime:
            guard !section.part.isEmpty else { return nil }
            return part(at: section.part)?.headerRange
        case .headerFields, .headerFieldsNot:
            return nil
        }
    }

    /// The octets BODY[section] returns; nil when the section does not exist.
    ///
    /// HEADER.FIELDS keeps the fields that are named (ASCII case-insensitively), in
    /// message order and as written (folding included); HEADER.FIELDS.NOT keeps the
    /// others. Both end with the blank line, "except in the case of a message which has
    /// no body and no blank line".
    public func contents(of section: SectionSpecifier) -> [UInt8]? {
        switch section.kind {
        case .headerFields(let names):
            guard let entity = messageEntity(at: section.part) else { return nil }
            return headerFields(of: entity, names: names, keepNamed: true)
        case .headerFieldsNot(let names):
            guard let entity = messageEntity(at: section.part) else { return nil }
            return headerFields(of: entity, names: names, keepNamed: false)
        case .complete, .header, .text, .mime:
            guard let range = byteRange(of: section) else { return nil }
            return Array(octets(in: range))
        }
    }

    /// `contents(of:)` cut to `partial`.
    public func contents(of section: SectionSpecifier, partial: FetchAttribute.Partial?) -> [UInt8]? {
        guard let whole = self.contents(of: section) else { return nil }
        return Self.slice(whole, partial: partial)
    }

    /// `<offset.length>`: at most `length` octets from `offset`; empty when `offset` is at
    /// or past the end ("If the starting octet is beyond the end of the text, an empty
    /// string is returned"). Nil `partial` is the whole.
    ///
    /// - SeeAlso: RFC 9051 §6.4.5 (partial)
    public static func slice(_ bytes: [UInt8], partial: FetchAttribute.Partial?) -> [UInt8] {
        guard let partial else { return bytes }
        return Array(bytes[sliceRange(count: bytes.count, partial: partial)])
    }

    /// The range `<offset.length>` selects in something of `count` octets.
    public static func sliceRange(count: Int, partial: FetchAttribute.Partial) -> Range<Int> {
        let start = partial.offset >= UInt64(count) ? count : Int(partial.offset)
        let remaining = count - start
        let length = partial.length >= UInt64(remaining) ? remaining : Int(partial.length)
        return start..<(start + length)
    }

    // MARK: - Numbering

    /// The numbered parts of a message (the root, or the message of a message/rfc822
    /// part): the parts of its multipart body, or else the message entity itself as
    /// part 1.
    static func numberedParts(ofMessage message: BodyPart) -> [BodyPart] {
        if case .multipart(let children) = message.content, !message.isOpaque { return children }
        return [message]
    }

    /// The numbered parts inside a part: those of a multipart, or those of the message a
    /// message/rfc822 part holds; none for a leaf.
    static func numberedParts(of part: BodyPart) -> [BodyPart] {
        switch part.content {
        case .single: return []
        case .multipart(let children): return children
        case .message(let message): return numberedParts(ofMessage: message)
        }
    }

    /// The message HEADER, TEXT and HEADER.FIELDS refer to: the message itself for an
    /// empty path, else the message a message/rfc822 part holds.
    func messageEntity(at path: [UInt32]) -> BodyPart? {
        if path.isEmpty { return root }
        guard let target = self.part(at: path), case .message(let message) = target.content else { return nil }
        return message
    }

    private func headerFields(of entity: BodyPart, names: [String], keepNamed: Bool) -> [UInt8] {
        let wanted = names.map { Array($0.utf8) }
        var output: [UInt8] = []
        for field in entity.header.fields {
            let nameBytes = Array(field.name.utf8)
            let isNamed = wanted.contains { MIMEGrammar.equalsIgnoringCase($0, nameBytes) }
            guard isNamed == keepNamed else { continue }
            let raw = octets(in: field.range)
            output.append(contentsOf: raw)
            if raw.last != MIMEGrammar.lf {
                // The field was cut by a boundary or the end of the message.
                output.append(contentsOf: [MIMEGrammar.cr, MIMEGrammar.lf])
            }
        }
        if entity.header.hasBlankLine || !entity.bodyRange.isEmpty {
            output.append(contentsOf: [MIMEGrammar.cr, MIMEGrammar.lf])
        }
        return output
    }
}
