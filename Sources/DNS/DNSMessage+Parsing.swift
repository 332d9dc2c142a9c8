// MARK: - Parsing

extension DNSMessage {
    /// Reads one whole message.
    ///
    /// Hostile input is expected here (anyone can send a UDP datagram to our port): every
    /// length and count is checked against the bytes that are there before it is used,
    /// names are read with the compression rules of `DNSMessageReader.parseDomainName`,
    /// and nothing is allocated or looped over in proportion to a count the message
    /// cannot back with bytes. Octets after the last record are ignored.
    ///
    /// - SeeAlso: RFC 1035 §4.1
    public init(parsing bytes: some Collection<UInt8>) throws(DNSMessageError) {
        var reader = DNSMessageReader(Array(bytes))
        self = try reader.parseMessage()
    }
}

/// A cursor over one message, with a parse function per part of RFC 1035 §4.1.
///
/// Every read is bounds-checked and throws `.truncated` past the end; none traps.
struct DNSMessageReader {
    private let bytes: [UInt8]
    private(set) var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var remaining: Int { bytes.count - position }

    // MARK: Primitive fields

    mutating func readUInt8() throws(DNSMessageError) -> UInt8 {
        guard position < bytes.count else { throw DNSMessageError(.truncated, hint: "octet") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func readUInt16() throws(DNSMessageError) -> UInt16 {
        guard remaining >= 2 else { throw DNSMessageError(.truncated, hint: "16-bit field") }
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func readUInt32() throws(DNSMessageError) -> UInt32 {
        guard remaining >= 4 else { throw DNSMessageError(.truncated, hint: "32-bit field") }
        defer { position += 4 }
        return bytes[position..<position + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func readBytes(_ count: Int) throws(DNSMessageError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw DNSMessageError(.truncated, hint: "octet string") }
        defer { position += count }
        return Array(bytes[position..<position + count])
    }

    // MARK: Message

    ///     Header Question Answer Authority Additional
    ///
    /// - SeeAlso: RFC 1035 §4.1
    mutating func parseMessage() throws(DNSMessageError) -> DNSMessage {
        let header = try parseHeader()
        let questionCount = Int(try readUInt16())
        let answerCount = Int(try readUInt16())
        let authorityCount = Int(try readUInt16())
        let additionalCount = Int(try readUInt16())
        // Counts are attacker-controlled: refuse at once any the message cannot hold
        // even with the smallest possible entries, so no loop below runs on promises.
        let smallest =
            questionCount * DNSLimits.minimumQuestionLength
            + (answerCount + authorityCount + additionalCount) * DNSLimits.minimumResourceRecordLength
        guard smallest <= remaining else { throw DNSMessageError(.truncated, hint: "counts exceed the message") }

        var message = DNSMessage(header: header)
        for _ in 0..<questionCount {
            message.questions.append(try parseQuestion())
        }
        for _ in 0..<answerCount {
            guard case .record(let record) = try parseResourceRecord() else {
                throw DNSMessageError(.badOPTRecord, hint: "OPT in the answer section")
            }
            message.answers.append(record)
        }
        for _ in 0..<authorityCount {
            guard case .record(let record) = try parseResourceRecord() else {
                throw DNSMessageError(.badOPTRecord, hint: "OPT in the authority section")
            }
            message.authorities.append(record)
        }
        for _ in 0..<additionalCount {
            switch try parseResourceRecord() {
            case .record(let record):
                message.additionals.append(record)
            case .opt(let opt):
                // RFC 6891 §6.1.1: more than one OPT is a FORMERR.
                guard message.opt == nil else { throw DNSMessageError(.badOPTRecord, hint: "second OPT record") }
                message.opt = opt
            }
        }
        return message
    }

    /// `ID`, then the flags word `QR Opcode AA TC RD RA Z AD CD RCODE`; the four counts
    /// are read by `parseMessage`.
    ///
    /// - SeeAlso: RFC 1035 §4.1.1, RFC 4035 §3.2 (AD, CD)
    mutating func parseHeader() throws(DNSMessageError) -> DNSHeader {
        guard remaining >= DNSLimits.headerLength else { throw DNSMessageError(.truncated, hint: "header") }
        let id = try readUInt16()
        let flags = try readUInt16()
        func bit(_ shift: UInt16) -> Bool { flags >> shift & 1 == 1 }
        return DNSHeader(
            id: id,
            isResponse: bit(15),
            opcode: UInt8(flags >> 11 & 0x0F),
            isAuthoritativeAnswer: bit(10),
            isTruncated: bit(9),
            isRecursionDesired: bit(8),
            isRecursionAvailable: bit(7),
            isAuthenticData: bit(5),
            isCheckingDisabled: bit(4),
            responseCode: DNSResponseCode(rawValue: flags & 0x0F)
        )
    }

    ///     QNAME QTYPE QCLASS
    ///
    /// - SeeAlso: RFC 1035 §4.1.2
    mutating func parseQuestion() throws(DNSMessageError) -> DNSQuestion {
        let name = try parseDomainName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let questionClass = DNSClass(rawValue: try readUInt16())
        return DNSQuestion(name: name, type: type, questionClass: questionClass)
    }

    /// A record, or the OPT pseudo-record whose CLASS and TTL mean something else.
    enum ParsedRecord {
        case record(DNSResourceRecord)
        case opt(OPTRecord)
    }

    ///     NAME TYPE CLASS TTL RDLENGTH RDATA
    ///
    /// RDATA must be exactly RDLENGTH octets: its fields may neither stop short of the
    /// end nor run past it.
    ///
    /// - SeeAlso: RFC 1035 §4.1.3, RFC 6891 §6.1.2 (OPT)
    mutating func parseResourceRecord() throws(DNSMessageError) -> ParsedRecord {
        let name = try parseDomainName()
        let type = DNSRecordType(rawValue: try readUInt16())
        let recordClass = try readUInt16()
        let ttl = try readUInt32()
        let dataLength = Int(try readUInt16())
        guard dataLength <= remaining else { throw DNSMessageError(.truncated, hint: "RDLENGTH past the end") }
        let dataEnd = position + dataLength
        if type == .opt {
            guard name.isEmpty else { throw DNSMessageError(.badOPTRecord, hint: "OPT owner is not the root") }
            // RFC 6891 §6.1.3: EXTENDED-RCODE (8) VERSION (8) DO (1) Z (15).
            let options = try parseOPTOptions(end: dataEnd)
            return .opt(
                OPTRecord(
                    udpPayloadSize: recordClass,
                    extendedResponseCode: UInt8(ttl >> 24),
                    version: UInt8(ttl >> 16 & 0xFF),
                    isDNSSECOK: ttl >> 15 & 1 == 1,
                    options: options
                ))
        }
        let data = try parseRecordData(type: type, end: dataEnd)
        guard position == dataEnd else { throw DNSMessageError(.badRecordData, hint: "RDATA shorter than RDLENGTH") }
        return .record(
            DNSResourceRecord(name: name, recordClass: DNSClass(rawValue: recordClass), ttl: ttl, data: data))
    }

    // MARK: Names

    /// A domain name, following compression pointers, in presentation form.
    ///
    ///     domain-name = *label ( zero-octet / pointer )
    ///     label       = length-octet (00xxxxxx, 1-63) 1*63OCTET
    ///     pointer     = 11xxxxxx xxxxxxxx     ; 14-bit offset from the message start
    ///
    /// Hostile-input rules: a pointer must point strictly before the start of the label
    /// sequence it was found in (the name's own start, or the previous pointer's target).
    /// Targets therefore strictly decrease, so a name cannot loop (a self-pointer or two
    /// pointers pointing at each other are refused at once) and cannot point forward.
    /// At most `DNSLimits.maximumPointerHops` pointers; the name, counted as on the wire
    /// after decompression, is at most 255 octets; length octets 64–191 (`01`/`10`
    /// label types, RFC 6891 §5 retired them) are refused. On success the cursor stands
    /// after the name's own octets (after its first pointer, if any).
    ///
    /// - SeeAlso: RFC 1035 §3.1, §4.1.4; RFC 9267 §2 (these checks)
    mutating func parseDomainName() throws(DNSMessageError) -> String {
        var labels: [ArraySlice<UInt8>] = []
        var wireLength = 1  // the final zero octet
        var cursor = position
        var sequenceStart = position
        var resumePosition: Int? = nil
        var hops = 0
        while true {
            guard cursor < bytes.count else { throw DNSMessageError(.truncated, hint: "name") }
            let lengthOctet = Int(bytes[cursor])
            switch lengthOctet & 0xC0 {
            case 0x00:
                guard lengthOctet > 0 else {
                    position = resumePosition ?? cursor + 1
                    return DomainName.presentation(of: labels)
                }
                let labelStart = cursor + 1
                guard lengthOctet <= bytes.count - labelStart else { throw DNSMessageError(.truncated, hint: "label") }
                wireLength += 1 + lengthOctet
                guard wireLength <= DNSLimits.maximumNameLength else {
                    throw DNSMessageError(.nameTooLong, hint: "name longer than 255 octets")
                }
                labels.append(bytes[labelStart..<labelStart + lengthOctet])
                cursor = labelStart + lengthOctet
            case 0xC0:
                guard cursor + 1 < bytes.count else { throw DNSMessageError(.truncated, hint: "pointer") }
                let target = (lengthOctet & 0x3F) << 8 | Int(bytes[cursor + 1])
                guard target < sequenceStart else {
                    throw DNSMessageError(.badPointer, hint: "pointer not strictly backwards")
                }
                hops += 1
                guard hops <= DNSLimits.maximumPointerHops else {
                    throw DNSMessageError(.badPointer, hint: "too many pointers")
                }
                if resumePosition == nil { resumePosition = cursor + 2 }
                cursor = target
                sequenceStart = target
            default:
                throw DNSMessageError(.badLabel, hint: "label type 01 or 10 (length above 63)")
            }
        }
    }

    // MARK: Record data

    /// RDATA of `type` ending at `end`, decoded for the types of `DNSRecordData`.
    ///
    /// - SeeAlso: RFC 1035 §3.3, §3.4.1; RFC 3596 §2.2; RFC 6698 §2.1; RFC 3597 §4
    mutating func parseRecordData(type: DNSRecordType, end: Int) throws(DNSMessageError) -> DNSRecordData {
        let length = end - position
        switch type {
        case .a:
            // RFC 1035 §3.4.1: ADDRESS, a 32 bit Internet address.
            guard length == 4, let address = IPv4Address(octets: try readBytes(4)) else {
                throw DNSMessageError(.badRecordData, hint: "A RDATA is not 4 octets")
            }
            return .a(address)
        case .aaaa:
            // RFC 3596 §2.2: a 128 bit IPv6 address.
            guard length == 16, let address = IPv6Address(octets: try readBytes(16)) else {
                throw DNSMessageError(.badRecordData, hint: "AAAA RDATA is not 16 octets")
            }
            return .aaaa(address)
        case .mx:
            return try parseMX(end: end)
        case .txt:
            return .txt(try parseCharacterStrings(end: end))
        case .tlsa:
            return .tlsa(try parseTLSA(end: end))
        case .ptr:
            return .ptr(try parseNameInRecordData(end: end))
        case .cname:
            return .cname(try parseNameInRecordData(end: end))
        case .ns:
            return .ns(try parseNameInRecordData(end: end))
        case .soa:
            return .soa(try parseSOA(end: end))
        default:
            return .unknown(type: type, bytes: try readBytes(length))
        }
    }

    /// A name inside RDATA, which must end within it.
    private mutating func parseNameInRecordData(end: Int) throws(DNSMessageError) -> String {
        let name = try parseDomainName()
        guard position <= end else { throw DNSMessageError(.badRecordData, hint: "name runs past RDLENGTH") }
        return name
    }

    ///     PREFERENCE (16 bits) EXCHANGE (domain-name)
    ///
    /// - SeeAlso: RFC 1035 §3.3.9
    mutating func parseMX(end: Int) throws(DNSMessageError) -> DNSRecordData {
        guard end - position >= 3 else { throw DNSMessageError(.badRecordData, hint: "MX RDATA too short") }
        let preference = try readUInt16()
        return .mx(preference: preference, exchange: try parseNameInRecordData(end: end))
    }

    ///     TXT-DATA = 1*character-string
    ///     character-string = length-octet *255OCTET
    ///
    /// Empty RDATA (not one string) is accepted as no strings.
    ///
    /// - SeeAlso: RFC 1035 §3.3, §3.3.14
    mutating func parseCharacterStrings(end: Int) throws(DNSMessageError) -> [[UInt8]] {
        var strings: [[UInt8]] = []
        while position < end {
            let length = Int(try readUInt8())
            guard length <= end - position else {
                throw DNSMessageError(.badRecordData, hint: "character-string past RDLENGTH")
            }
            strings.append(try readBytes(length))
        }
        return strings
    }

    ///     Cert. Usage (8) | Selector (8) | Matching Type (8) | Certificate Association Data
    ///
    /// - SeeAlso: RFC 6698 §2.1
    mutating func parseTLSA(end: Int) throws(DNSMessageError) -> TLSARecord {
        guard end - position >= 3 else { throw DNSMessageError(.badRecordData, hint: "TLSA RDATA too short") }
        let usage = try readUInt8()
        let selector = try readUInt8()
        let matchingType = try readUInt8()
        return TLSARecord(
            certificateUsage: usage, selector: selector, matchingType: matchingType,
            certificateAssociationData: try readBytes(end - position))
    }

    ///     MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM
    ///
    /// - SeeAlso: RFC 1035 §3.3.13
    mutating func parseSOA(end: Int) throws(DNSMessageError) -> SOARecord {
        let primaryNameServer = try parseNameInRecordData(end: end)
        let responsibleMailbox = try parseNameInRecordData(end: end)
        guard end - position == 20 else { throw DNSMessageError(.badRecordData, hint: "SOA needs five 32-bit fields") }
        return SOARecord(
            primaryNameServer: primaryNameServer, responsibleMailbox: responsibleMailbox, serial: try readUInt32(),
            refresh: try readUInt32(), retry: try readUInt32(), expire: try readUInt32(), minimum: try readUInt32())
    }

    ///     {OPTION-CODE (16) OPTION-LENGTH (16) OPTION-DATA}*
    ///
    /// - SeeAlso: RFC 6891 §6.1.2
    mutating func parseOPTOptions(end: Int) throws(DNSMessageError) -> [OPTRecord.Option] {
        var options: [OPTRecord.Option] = []
        while position < end {
            guard end - position >= 4 else { throw DNSMessageError(.badOPTRecord, hint: "option header past RDLENGTH") }
            let code = try readUInt16()
            let length = Int(try readUInt16())
            guard length <= end - position else { throw DNSMessageError(.badOPTRecord, hint: "option past RDLENGTH") }
            options.append(OPTRecord.Option(code: code, data: try readBytes(length)))
        }
        return options
    }
}
