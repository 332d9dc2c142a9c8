// SEARCH and UID SEARCH.

extension IMAPGrammarParser {
    ///     search = "SEARCH" [search-return-opts] SP search-program
    ///     search-return-opts = SP "RETURN" SP "(" [search-return-opt
    ///                          *(SP search-return-opt)] ")"
    ///     search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)
    ///
    /// - SeeAlso: RFC 9051 §6.4.4; RFC 4466 §2.6; RFC 4731 §3; RFC 5182 §2
    mutating func parseSearch() throws(IMAPSyntaxError) -> IMAPCommand.SearchArguments {
        try expectSpace()
        var returnOptions: [IMAPCommand.SearchReturnOption]?
        if consumeKeyword("RETURN") {
            try expectSpace()
            returnOptions = try parseSearchReturnOptions()
            try expectSpace()
        }
        var charset: String?
        if consumeKeyword("CHARSET") {
            try expectSpace()
            charset = try parseCharset()
            try expectSpace()
        }
        var keys = [try parseSearchKey()]
        while scanner.consume(Self.space) {
            keys.append(try parseSearchKey())
        }
        let key: SearchKey
        if keys.count == 1, let only = keys.first {
            key = only
        } else {
            key = .and(keys)
        }
        return IMAPCommand.SearchArguments(returnOptions: returnOptions, charset: charset, key: key)
    }

    ///     search-return-opt = "MIN" / "MAX" / "ALL" / "COUNT" / "SAVE"
    ///
    /// Unknown options (RFC 4466 search-ret-opt-ext) are refused with BAD.
    mutating func parseSearchReturnOptions() throws(IMAPSyntaxError) -> [IMAPCommand.SearchReturnOption] {
        try expect("(", "Expected ( after RETURN")
        var options: [IMAPCommand.SearchReturnOption] = []
        if scanner.consume(UInt8(ascii: ")")) { return options }
        repeat {
            let word = try parseAtom()
            guard let option = IMAPCommand.SearchReturnOption(rawValue: IMAPGrammar.upperString(word)) else {
                throw .syntax("Unknown search return option")
            }
            options.append(option)
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the search return options")
        return options
    }

    ///     charset = atom / quoted
    ///
    /// RFC 9051 §6.4.4: servers must support US-ASCII and UTF-8; we support no other,
    /// and an unsupported charset gets `NO [BADCHARSET (US-ASCII UTF-8)]`.
    mutating func parseCharset() throws(IMAPSyntaxError) -> String {
        let bytes: [UInt8]
        if scanner.peek == Self.quote {
            bytes = try parseQuoted()
        } else {
            bytes = Array(try parseAtom())
        }
        let name = IMAPGrammar.upperString(bytes)
        guard name == "UTF-8" || name == "US-ASCII" else { throw IMAPSyntaxError(.badCharset, "Unsupported charset") }
        return name
    }

    /// One search key (see `SearchKey` for the grammar). Every key counts towards
    /// `maximumSearchKeys`; parentheses, NOT and OR towards `maximumNestingDepth`.
    mutating func parseSearchKey() throws(IMAPSyntaxError) -> SearchKey {
        searchKeyCount += 1
        guard searchKeyCount <= limits.maximumSearchKeys else { throw IMAPSyntaxError(.tooBig, "Too many search keys") }
        guard let byte = scanner.peek else {
            throw .syntax(scanner.isAtLiteral ? "Unexpected literal" : "Missing search key")
        }
        if byte == UInt8(ascii: "(") {
            try enterNesting()
            scanner.advance()
            var keys = [try parseSearchKey()]
            while scanner.consume(Self.space) {
                keys.append(try parseSearchKey())
            }
            try expect(")", "Expected ) after the search keys")
            leaveNesting()
            return .and(keys)
        }
        if IMAPGrammar.isDigit(byte) || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "$") {
            return .sequenceSet(try parseSequenceSet())
        }
        let word = scanner.take(while: IMAPGrammar.isAtomChar)
        guard !word.isEmpty, word.count <= 16 else { throw .syntax("Unknown search key") }
        switch IMAPGrammar.upperString(word) {
        case "ALL": return .all
        case "ANSWERED": return .answered
        case "DELETED": return .deleted
        case "DRAFT": return .draft
        case "FLAGGED": return .flagged
        case "NEW": return .new
        case "OLD": return .old
        case "RECENT": return .recent
        case "SEEN": return .seen
        case "UNANSWERED": return .unanswered
        case "UNDELETED": return .undeleted
        case "UNDRAFT": return .undraft
        case "UNFLAGGED": return .unflagged
        case "UNSEEN": return .unseen
        case "BCC": return .bcc(try parseSearchString())
        case "BODY": return .body(try parseSearchString())
        case "CC": return .cc(try parseSearchString())
        case "FROM": return .from(try parseSearchString())
        case "SUBJECT": return .subject(try parseSearchString())
        case "TEXT": return .text(try parseSearchString())
        case "TO": return .to(try parseSearchString())
        case "HEADER":
            try expectSpace()
            let name = try parseHeaderFieldName()
            return .header(name, try parseSearchString())
        case "KEYWORD":
            try expectSpace()
            return .keyword(String(decoding: try parseAtom(), as: UTF8.self))
        case "UNKEYWORD":
            try expectSpace()
            return .unkeyword(String(decoding: try parseAtom(), as: UTF8.self))
        case "BEFORE": return .before(try parseSearchDate())
        case "ON": return .on(try parseSearchDate())
        case "SINCE": return .since(try parseSearchDate())
        case "SENTBEFORE": return .sentBefore(try parseSearchDate())
        case "SENTON": return .sentOn(try parseSearchDate())
        case "SENTSINCE": return .sentSince(try parseSearchDate())
        case "LARGER":
            try expectSpace()
            return .larger(try parseNumber64("size"))
        case "SMALLER":
            try expectSpace()
            return .smaller(try parseNumber64("size"))
        case "YOUNGER":
            try expectSpace()
            return .younger(try parseNZNumber("interval"))
        case "OLDER":
            try expectSpace()
            return .older(try parseNZNumber("interval"))
        case "UID":
            try expectSpace()
            return .uid(try parseSequenceSet())
        case "MODSEQ":
            return try parseModSeqKey()
        case "NOT":
            try enterNesting()
            try expectSpace()
            let key = try parseSearchKey()
            leaveNesting()
            return .not(key)
        case "OR":
            try enterNesting()
            try expectSpace()
            let first = try parseSearchKey()
            try expectSpace()
            let second = try parseSearchKey()
            leaveNesting()
            return .or(first, second)
        default:
            throw .syntax("Unknown search key")
        }
    }

    /// SP astring, as UTF-8 (the only charsets accepted are UTF-8 and its subset
    /// US-ASCII).
    mutating func parseSearchString() throws(IMAPSyntaxError) -> String {
        try expectSpace()
        return try parseAstringText("search string")
    }

    mutating func parseSearchDate() throws(IMAPSyntaxError) -> IMAPDate {
        try expectSpace()
        return try parseDate()
    }

    ///     search-key =/ "MODSEQ" [search-modseq-ext] SP mod-sequence-valzer
    ///     search-modseq-ext = SP entry-name SP entry-type-req
    ///     entry-flag-name   = DQUOTE "/flags/" attr-flag DQUOTE
    ///     entry-type-req    = entry-type-resp / "all"
    ///     entry-type-resp   = "priv" / "shared"
    ///
    /// - SeeAlso: RFC 7162 §3.1.5, §7
    mutating func parseModSeqKey() throws(IMAPSyntaxError) -> SearchKey {
        try expectSpace()
        var entry: SearchKey.ModSeqEntry?
        if scanner.peek == Self.quote {
            let name = try parseQuoted()
            let prefix = Array("/FLAGS/".utf8)
            guard name.count > prefix.count, IMAPGrammar.matches(name.prefix(prefix.count), "/FLAGS/") else {
                throw .syntax("Invalid MODSEQ entry name")
            }
            let flagBytes = name.dropFirst(prefix.count)
            let flag: Flag
            if flagBytes.first == Self.backslash {
                let atom = flagBytes.dropFirst()
                guard !atom.isEmpty, atom.allSatisfy(IMAPGrammar.isAtomChar) else {
                    throw .syntax("Invalid MODSEQ entry name")
                }
                flag = Flag.system(String(decoding: atom, as: UTF8.self))
            } else {
                guard flagBytes.allSatisfy(IMAPGrammar.isAtomChar) else { throw .syntax("Invalid MODSEQ entry name") }
                flag = .keyword(String(decoding: flagBytes, as: UTF8.self))
            }
            try expectSpace()
            let typeWord = try parseAtom()
            guard
                let type = SearchKey.ModSeqEntry.EntryType(
                    rawValue: String(decoding: typeWord, as: UTF8.self).lowercased())
            else { throw .syntax("Invalid MODSEQ entry type") }
            try expectSpace()
            entry = SearchKey.ModSeqEntry(flag: flag, type: type)
        }
        return .modSeq(entry: entry, value: try parseModSequence(allowZero: true))
    }
}
