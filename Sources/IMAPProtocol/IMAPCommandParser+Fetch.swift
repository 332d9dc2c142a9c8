// FETCH and STORE.

extension IMAPGrammarParser {
    ///     fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" /
    ///             fetch-att / "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]
    ///     fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"   ; RFC 4466
    ///     fetch-modifier  = "CHANGEDSINCE" SP mod-sequence-value / "VANISHED" ; RFC 7162
    ///
    /// RFC 7162 §3.2.6: VANISHED is only for UID FETCH, and only with CHANGEDSINCE;
    /// otherwise the server "MUST respond with a tagged BAD".
    mutating func parseFetch(
        isUID: Bool
    ) throws(IMAPSyntaxError)
        -> (SequenceSet, [FetchAttribute], IMAPCommand.FetchModifiers)
    {
        try expectSpace()
        let set = try parseSequenceSet()
        try expectSpace()
        var attributes: [FetchAttribute] = []
        if scanner.consume(UInt8(ascii: "(")) {
            repeat {
                attributes.append(try parseFetchAttribute())
            } while scanner.consume(Self.space)
            try expect(")", "Expected ) after the fetch items")
        } else if consumeKeyword("ALL") {
            attributes = FetchAttribute.allMacro
        } else if consumeKeyword("FAST") {
            attributes = FetchAttribute.fastMacro
        } else if consumeKeyword("FULL") {
            attributes = FetchAttribute.fullMacro
        } else {
            attributes = [try parseFetchAttribute()]
        }
        var modifiers = IMAPCommand.FetchModifiers()
        if scanner.consume(Self.space) {
            modifiers = try parseFetchModifiers()
        }
        if modifiers.vanished {
            guard isUID else { throw .syntax("VANISHED is only allowed with UID FETCH") }
            guard modifiers.changedSince != nil else { throw .syntax("VANISHED needs CHANGEDSINCE") }
        }
        return (set, attributes, modifiers)
    }

    mutating func parseFetchModifiers() throws(IMAPSyntaxError) -> IMAPCommand.FetchModifiers {
        try expect("(", "Expected fetch modifiers")
        var modifiers = IMAPCommand.FetchModifiers()
        repeat {
            if consumeKeyword("CHANGEDSINCE") {
                guard modifiers.changedSince == nil else { throw .syntax("CHANGEDSINCE given twice") }
                try expectSpace()
                // Leniency: 0 (every message) as well as mod-sequence-value.
                modifiers.changedSince = try parseModSequence(allowZero: true)
            } else if consumeKeyword("VANISHED") {
                modifiers.vanished = true
            } else {
                throw .syntax("Unknown fetch modifier")
            }
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the fetch modifiers")
        return modifiers
    }

    ///     fetch-att = "ENVELOPE" / "FLAGS" / "INTERNALDATE" /
    ///                 "RFC822" [".HEADER" / ".SIZE" / ".TEXT"] /
    ///                 "BODY" ["STRUCTURE"] / "UID" /
    ///                 "BODY" section [partial] / "BODY.PEEK" section [partial] /
    ///                 "BINARY" [".PEEK"] section-binary [partial] /
    ///                 "BINARY.SIZE" section-binary / "MODSEQ"
    mutating func parseFetchAttribute() throws(IMAPSyntaxError) -> FetchAttribute {
        let word = scanner.take(while: { IMAPGrammar.isLetter($0) || IMAPGrammar.isDigit($0) || $0 == 0x2E })
        guard !word.isEmpty, word.count <= 16 else { throw .syntax("Unknown fetch item") }
        let name = IMAPGrammar.upperString(word)
        switch name {
        case "ENVELOPE": return .envelope
        case "FLAGS": return .flags
        case "INTERNALDATE": return .internalDate
        case "RFC822": return .rfc822
        case "RFC822.HEADER": return .rfc822Header
        case "RFC822.SIZE": return .rfc822Size
        case "RFC822.TEXT": return .rfc822Text
        case "BODYSTRUCTURE": return .bodyStructure
        case "UID": return .uid
        case "MODSEQ": return .modSeq
        case "BODY", "BODY.PEEK":
            guard scanner.peek == UInt8(ascii: "[") else {
                guard name == "BODY" else { throw .syntax("BODY.PEEK needs a section") }
                return .body
            }
            let section = try parseSection()
            return .bodySection(section, partial: try parsePartial(), peek: name == "BODY.PEEK")
        case "BINARY", "BINARY.PEEK":
            let part = try parseSectionBinary()
            return .binary(part: part, partial: try parsePartial(), peek: name == "BINARY.PEEK")
        case "BINARY.SIZE":
            return .binarySize(part: try parseSectionBinary())
        default:
            throw .syntax("Unknown fetch item")
        }
    }

    ///     section      = "[" [section-spec] "]"
    ///     section-spec = section-msgtext / (section-part ["." section-text])
    ///     section-part = nz-number *("." nz-number)
    mutating func parseSection() throws(IMAPSyntaxError) -> SectionSpecifier {
        try expect("[", "Expected [ before the section")
        if scanner.consume(UInt8(ascii: "]")) { return SectionSpecifier() }
        var part: [UInt32] = []
        var kind = SectionSpecifier.Kind.complete
        if let byte = scanner.peek, IMAPGrammar.isDigit(byte) {
            part.append(try parseNZNumber("part number"))
            while scanner.consume(UInt8(ascii: ".")) {
                if let next = scanner.peek, IMAPGrammar.isDigit(next) {
                    part.append(try parseNZNumber("part number"))
                } else {
                    kind = try parseSectionText(allowMIME: true)
                    break
                }
            }
        } else {
            kind = try parseSectionText(allowMIME: false)
        }
        try expect("]", "Expected ] after the section")
        return SectionSpecifier(part: part, kind: kind)
    }

    ///     section-msgtext = "HEADER" / "HEADER.FIELDS" [".NOT"] SP header-list / "TEXT"
    ///     section-text    = section-msgtext / "MIME"
    mutating func parseSectionText(allowMIME: Bool) throws(IMAPSyntaxError) -> SectionSpecifier.Kind {
        let word = scanner.take(while: { IMAPGrammar.isLetter($0) || $0 == 0x2E })
        guard word.count <= 20 else { throw .syntax("Invalid section") }
        switch IMAPGrammar.upperString(word) {
        case "HEADER": return .header
        case "TEXT": return .text
        case "MIME" where allowMIME: return .mime
        case "HEADER.FIELDS":
            try expectSpace()
            return .headerFields(try parseHeaderList())
        case "HEADER.FIELDS.NOT":
            try expectSpace()
            return .headerFieldsNot(try parseHeaderList())
        default:
            throw .syntax("Invalid section")
        }
    }

    ///     header-list     = "(" header-fld-name *(SP header-fld-name) ")"
    ///     header-fld-name = astring
    ///
    /// Each name must also be an RFC 5322 §3.6.8 field-name (printable ASCII but ":"),
    /// or it could never match.
    mutating func parseHeaderList() throws(IMAPSyntaxError) -> [String] {
        try expect("(", "Expected ( before the header field names")
        var names: [String] = []
        repeat {
            names.append(try parseHeaderFieldName())
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the header field names")
        return names
    }

    mutating func parseHeaderFieldName() throws(IMAPSyntaxError) -> String {
        let bytes = try parseAstring()
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: ":") }) else {
            throw .syntax("Invalid header field name")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    ///     section-binary = "[" [section-part] "]"         ; RFC 3516 §4.2
    mutating func parseSectionBinary() throws(IMAPSyntaxError) -> [UInt32] {
        try expect("[", "Expected [ after BINARY")
        var part: [UInt32] = []
        if let byte = scanner.peek, IMAPGrammar.isDigit(byte) {
            repeat {
                part.append(try parseNZNumber("part number"))
            } while scanner.consume(UInt8(ascii: "."))
        }
        try expect("]", "Expected ] after the part")
        return part
    }

    ///     partial = "<" number64 "." nz-number64 ">"
    mutating func parsePartial() throws(IMAPSyntaxError) -> FetchAttribute.Partial? {
        guard scanner.consume(UInt8(ascii: "<")) else { return nil }
        let offset = try parseNumber64("offset")
        try expect(".", "Expected . in the partial range")
        let length = try parseNumber64("length")
        guard length > 0 else { throw .syntax("Invalid length 0") }
        try expect(">", "Expected > after the partial range")
        return FetchAttribute.Partial(offset: offset, length: length)
    }

    ///     store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    ///     store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"   ; RFC 4466
    ///     store-modifier  = "UNCHANGEDSINCE" SP mod-sequence-valzer          ; RFC 7162
    ///     store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP
    ///                       (flag-list / (flag *(SP flag)))
    mutating func parseStore() throws(IMAPSyntaxError) -> (SequenceSet, IMAPCommand.StoreFlags, UInt64?) {
        try expectSpace()
        let set = try parseSequenceSet()
        try expectSpace()
        var unchangedSince: UInt64?
        if scanner.consume(UInt8(ascii: "(")) {
            repeat {
                guard consumeKeyword("UNCHANGEDSINCE") else { throw .syntax("Unknown store modifier") }
                guard unchangedSince == nil else { throw .syntax("UNCHANGEDSINCE given twice") }
                try expectSpace()
                unchangedSince = try parseModSequence(allowZero: true)
            } while scanner.consume(Self.space)
            try expect(")", "Expected ) after the store modifiers")
            try expectSpace()
        }
        let operation: IMAPCommand.StoreFlags.Operation
        if scanner.consume(UInt8(ascii: "+")) {
            operation = .add
        } else if scanner.consume(UInt8(ascii: "-")) {
            operation = .remove
        } else {
            operation = .replace
        }
        let word = scanner.take(while: { IMAPGrammar.isLetter($0) || $0 == 0x2E })
        let isSilent: Bool
        if IMAPGrammar.matches(word, "FLAGS") {
            isSilent = false
        } else if IMAPGrammar.matches(word, "FLAGS.SILENT") {
            isSilent = true
        } else {
            throw .syntax("Expected FLAGS, +FLAGS or -FLAGS")
        }
        try expectSpace()
        var flags: [Flag] = []
        if scanner.peek == UInt8(ascii: "(") {
            flags = try parseFlagList()
        } else {
            repeat {
                flags.append(try parseFlag())
            } while scanner.consume(Self.space)
        }
        try checkSettable(flags)
        return (set, IMAPCommand.StoreFlags(operation, silent: isSilent, flags), unchangedSince)
    }
}
