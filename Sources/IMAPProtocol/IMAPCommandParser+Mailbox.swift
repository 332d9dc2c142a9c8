// The commands about mailboxes: SELECT/EXAMINE, CREATE, LIST, STATUS, APPEND.

extension IMAPGrammarParser {
    ///     select        = "SELECT" SP mailbox [select-params]
    ///     examine       = "EXAMINE" SP mailbox [select-params]
    ///     select-params = SP "(" select-param *(SP select-param) ")"
    ///     select-param  = "CONDSTORE" / "QRESYNC" SP "(" uidvalidity SP
    ///                     mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    ///
    /// - SeeAlso: RFC 9051 §6.3.2; RFC 4466 §2.1; RFC 7162 §3.1.8, §3.2.5, §7
    mutating func parseSelect() throws(IMAPSyntaxError) -> (MailboxName, IMAPCommand.SelectParameters) {
        try expectSpace()
        let mailbox = try parseMailbox()
        var parameters = IMAPCommand.SelectParameters()
        guard scanner.consume(Self.space) else { return (mailbox, parameters) }
        try expect("(", "Expected select parameters")
        repeat {
            if consumeKeyword("CONDSTORE") {
                parameters.condStore = true
            } else if consumeKeyword("QRESYNC") {
                guard parameters.qresync == nil else { throw .syntax("QRESYNC given twice") }
                try expectSpace()
                parameters.qresync = try parseQResyncParameters()
            } else {
                throw .syntax("Unknown select parameter")
            }
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the select parameters")
        return (mailbox, parameters)
    }

    ///     "(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"
    ///     known-uids     = sequence-set      ; "*" is not allowed
    ///     seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    mutating func parseQResyncParameters() throws(IMAPSyntaxError) -> IMAPCommand.QResyncParameters {
        try expect("(", "Expected ( after QRESYNC")
        let uidValidity = try parseNZNumber("UIDVALIDITY")
        try expectSpace()
        var parameters = IMAPCommand.QResyncParameters(
            uidValidity: uidValidity, modSeq: try parseModSequence(allowZero: false))
        if scanner.consume(Self.space) {
            if scanner.peek != UInt8(ascii: "(") {
                let known = try parseSequenceSet()
                guard case .ranges = known, !known.containsLargest else { throw .syntax("Invalid known UIDs") }
                parameters.knownUIDs = known
                if scanner.consume(Self.space) {
                    try parseSequenceMatchData(into: &parameters)
                }
            } else {
                try parseSequenceMatchData(into: &parameters)
            }
        }
        try expect(")", "Expected ) after the QRESYNC parameters")
        return parameters
    }

    ///     seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    mutating func parseSequenceMatchData(
        into parameters: inout IMAPCommand.QResyncParameters
    )
        throws(IMAPSyntaxError)
    {
        try expect("(", "Expected sequence match data")
        let sequenceSet = try parseSequenceSet()
        try expectSpace()
        let uidSet = try parseSequenceSet()
        try expect(")", "Expected ) after the sequence match data")
        guard case .ranges = sequenceSet, case .ranges = uidSet, !sequenceSet.containsLargest, !uidSet.containsLargest
        else { throw .syntax("Invalid sequence match data") }
        parameters.knownSequenceSet = sequenceSet
        parameters.knownUIDSet = uidSet
    }

    ///     create        = "CREATE" SP mailbox [create-params]
    ///     create-params = SP "(" create-param *(SP create-param) ")"
    ///     create-param  = "USE" SP "(" [use-attr *(SP use-attr)] ")"     ; RFC 6154 §6
    ///     use-attr      = "\All" / "\Archive" / … / use-attr-ext
    mutating func parseCreate() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        try expectSpace()
        let mailbox = try parseMailbox()
        var uses: [SpecialUse] = []
        if scanner.consume(Self.space) {
            try expect("(", "Expected create parameters")
            repeat {
                guard consumeKeyword("USE") else { throw .syntax("Unknown create parameter") }
                try expectSpace()
                try expect("(", "Expected ( after USE")
                if !scanner.consume(UInt8(ascii: ")")) {
                    repeat {
                        guard scanner.consume(Self.backslash) else { throw .syntax("Invalid special-use attribute") }
                        let atom = try parseAtom()
                        uses.append(SpecialUse("\\" + String(decoding: atom, as: UTF8.self)))
                    } while scanner.consume(Self.space)
                    try expect(")", "Expected ) after the special-use attributes")
                }
            } while scanner.consume(Self.space)
            try expect(")", "Expected ) after the create parameters")
        }
        return .create(mailbox, specialUse: uses)
    }

    ///     list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    ///            [SP list-return-opts]
    ///     mbox-or-pat = list-mailbox / patterns
    ///     patterns    = "(" list-mailbox *(SP list-mailbox) ")"
    ///     list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
    ///
    /// RFC 5258 §3: "RECURSIVEMATCH … MUST NOT occur as the only selection option (or
    /// only with REMOTE)"; such a LIST is refused with BAD, as are unknown options.
    ///
    /// - SeeAlso: RFC 9051 §6.3.9; RFC 5258 §3, §6; RFC 5819 §2; RFC 6154 §4, §6
    mutating func parseList() throws(IMAPSyntaxError) -> IMAPCommand.ListArguments {
        try expectSpace()
        var selectionOptions: [IMAPCommand.ListSelectionOption] = []
        if scanner.peek == UInt8(ascii: "(") {
            selectionOptions = try parseListSelectOptions()
            try expectSpace()
        }
        let reference = try parseMailbox()
        try expectSpace()
        var patterns: [String] = []
        if scanner.consume(UInt8(ascii: "(")) {
            repeat {
                patterns.append(try parseListMailbox())
            } while scanner.consume(Self.space)
            try expect(")", "Expected ) after the patterns")
        } else {
            patterns.append(try parseListMailbox())
        }
        var returnOptions: [IMAPCommand.ListReturnOption] = []
        if scanner.consume(Self.space) {
            guard consumeKeyword("RETURN") else { throw .syntax("Expected RETURN") }
            try expectSpace()
            returnOptions = try parseListReturnOptions()
        }
        if selectionOptions.contains(.recursiveMatch),
            !selectionOptions.contains(where: { $0 != .recursiveMatch && $0 != .remote })
        {
            throw .syntax("RECURSIVEMATCH needs another selection option")
        }
        return IMAPCommand.ListArguments(
            selectionOptions: selectionOptions, reference: reference, patterns: patterns, returnOptions: returnOptions)
    }

    ///     list-select-opts   = "(" [list-select-option *(SP list-select-option)] ")"
    ///     list-select-option = "SUBSCRIBED" / "REMOTE" / "RECURSIVEMATCH" / "SPECIAL-USE"
    mutating func parseListSelectOptions() throws(IMAPSyntaxError) -> [IMAPCommand.ListSelectionOption] {
        try expect("(", "Expected LIST selection options")
        var options: [IMAPCommand.ListSelectionOption] = []
        if scanner.consume(UInt8(ascii: ")")) { return options }
        repeat {
            let word = try parseAtom()
            guard let option = IMAPCommand.ListSelectionOption(rawValue: IMAPGrammar.upperString(word)) else {
                throw .syntax("Unknown LIST selection option")
            }
            options.append(option)
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the LIST selection options")
        return options
    }

    ///     return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
    ///                     "STATUS" SP "(" status-att *(SP status-att) ")"
    mutating func parseListReturnOptions() throws(IMAPSyntaxError) -> [IMAPCommand.ListReturnOption] {
        try expect("(", "Expected LIST return options")
        var options: [IMAPCommand.ListReturnOption] = []
        if scanner.consume(UInt8(ascii: ")")) { return options }
        repeat {
            let word = try parseAtom()
            switch IMAPGrammar.upperString(word) {
            case "SUBSCRIBED": options.append(.subscribed)
            case "CHILDREN": options.append(.children)
            case "SPECIAL-USE": options.append(.specialUse)
            case "STATUS":
                try expectSpace()
                options.append(.status(try parseStatusAttributes()))
            default:
                throw .syntax("Unknown LIST return option")
            }
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the LIST return options")
        return options
    }

    ///     list-mailbox = 1*list-char / string
    ///     list-char    = ATOM-CHAR / list-wildcards / resp-specials
    mutating func parseListMailbox() throws(IMAPSyntaxError) -> String {
        let bytes: [UInt8]
        if scanner.isAtLiteral || scanner.peek == Self.quote {
            bytes = try parseString()
        } else {
            let characters = scanner.take(while: IMAPGrammar.isListChar)
            guard !characters.isEmpty else { throw .syntax("Expected a mailbox pattern") }
            bytes = Array(characters)
        }
        guard !bytes.contains(where: IMAPGrammar.isControl), let pattern = String(validating: bytes, as: UTF8.self)
        else { throw .syntax("Invalid mailbox pattern") }
        return pattern
    }

    ///     status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")"
    mutating func parseStatus() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        try expectSpace()
        let mailbox = try parseMailbox()
        try expectSpace()
        return .status(mailbox, try parseStatusAttributes())
    }

    ///     "(" status-att *(SP status-att) ")"
    mutating func parseStatusAttributes() throws(IMAPSyntaxError) -> [StatusAttribute] {
        try expect("(", "Expected ( before the status items")
        var items: [StatusAttribute] = []
        repeat {
            let word = try parseAtom()
            guard let item = StatusAttribute(rawValue: IMAPGrammar.upperString(word)) else {
                throw .syntax("Unknown status item")
            }
            items.append(item)
        } while scanner.consume(Self.space)
        try expect(")", "Expected ) after the status items")
        return items
    }

    ///     append         = "APPEND" SP mailbox 1*append-message       ; RFC 3502 §6
    ///     append-message = append-opts SP append-data
    ///     append-opts    = [SP flag-list] [SP date-time]
    ///     append-data    = literal / literal8                         ; RFC 3516 §4.4
    ///
    /// A message in a plain literal must not contain NUL (RFC 9051 §4.3: CHAR8); one in
    /// `~{n}` may. Flags must be settable (no `\Recent`, no unknown `\` flag).
    mutating func parseAppend() throws(IMAPSyntaxError) -> IMAPCommand.Kind {
        try expectSpace()
        let mailbox = try parseMailbox()
        var messages: [IMAPCommand.AppendMessage] = []
        repeat {
            try expectSpace()
            var flags: [Flag] = []
            var internalDate: IMAPDateTime?
            if scanner.peek == UInt8(ascii: "(") {
                flags = try parseFlagList()
                try checkSettable(flags)
                try expectSpace()
            }
            if scanner.peek == Self.quote {
                internalDate = try parseDateTime()
                try expectSpace()
            }
            guard let literal = scanner.takeLiteral() else { throw .syntax("Expected the message as a literal") }
            guard literal.isBinary || !literal.bytes.contains(0) else {
                throw .syntax("NUL in a message: send it as a binary literal ~{n}")
            }
            messages.append(
                IMAPCommand.AppendMessage(
                    flags: flags, internalDate: internalDate, data: literal.bytes, isBinary: literal.isBinary))
        } while !scanner.isAtEnd
        return .append(mailbox, messages)
    }
}
