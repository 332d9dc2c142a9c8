// MARK: - Encoding

extension DNSMessage {
    /// The message on the wire (RFC 1035 §4.1), names uncompressed (compression is
    /// optional for senders, RFC 1035 §4.1.4), the OPT record last in the additional
    /// section. Throws `.unencodable` for a value the format cannot carry: a bad name,
    /// an RCODE above 15 in the header, more than 65535 records in a section, RDATA or a
    /// character-string that does not fit its length field.
    public func encoded() throws(DNSMessageError) -> [UInt8] {
        var writer = DNSMessageWriter()
        try writer.writeHeader(
            header,
            counts: [questions.count, answers.count, authorities.count, additionals.count + (opt == nil ? 0 : 1)])
        for question in questions {
            try writer.writeQuestion(question)
        }
        for record in answers + authorities + additionals {
            try writer.writeResourceRecord(record)
        }
        if let opt {
            try writer.writeOPTRecord(opt)
        }
        return writer.bytes
    }
}

/// Appends the parts of RFC 1035 §4.1 to a byte array.
struct DNSMessageWriter {
    private(set) var bytes: [UInt8] = []

    mutating func writeUInt16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func writeUInt32(_ value: UInt32) {
        writeUInt16(UInt16(value >> 16))
        writeUInt16(UInt16(value & 0xFFFF))
    }

    /// RFC 1035 §4.1.1: ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT.
    mutating func writeHeader(_ header: DNSHeader, counts: [Int]) throws(DNSMessageError) {
        guard header.opcode <= 0x0F else { throw DNSMessageError(.unencodable, hint: "opcode above 15") }
        guard header.responseCode.rawValue <= 0x0F else {
            throw DNSMessageError(.unencodable, hint: "header RCODE above 15 (use the OPT record)")
        }
        var flags = UInt16(header.opcode) << 11 | header.responseCode.rawValue
        if header.isResponse { flags |= 1 << 15 }
        if header.isAuthoritativeAnswer { flags |= 1 << 10 }
        if header.isTruncated { flags |= 1 << 9 }
        if header.isRecursionDesired { flags |= 1 << 8 }
        if header.isRecursionAvailable { flags |= 1 << 7 }
        if header.isAuthenticData { flags |= 1 << 5 }
        if header.isCheckingDisabled { flags |= 1 << 4 }
        writeUInt16(header.id)
        writeUInt16(flags)
        for count in counts {
            guard let count16 = UInt16(exactly: count) else {
                throw DNSMessageError(.unencodable, hint: "more than 65535 entries in a section")
            }
            writeUInt16(count16)
        }
    }

    /// RFC 1035 §3.1: each label as a length octet and its octets, then the zero octet.
    mutating func writeDomainName(_ name: String) throws(DNSMessageError) {
        for label in try DomainName.labels(of: name) {
            bytes.append(UInt8(label.count))
            bytes += label
        }
        bytes.append(0)
    }

    /// RFC 1035 §4.1.2: QNAME QTYPE QCLASS.
    mutating func writeQuestion(_ question: DNSQuestion) throws(DNSMessageError) {
        try writeDomainName(question.name)
        writeUInt16(question.type.rawValue)
        writeUInt16(question.questionClass.rawValue)
    }

    /// RFC 1035 §4.1.3: NAME TYPE CLASS TTL RDLENGTH RDATA.
    mutating func writeResourceRecord(_ record: DNSResourceRecord) throws(DNSMessageError) {
        try writeDomainName(record.name)
        writeUInt16(record.type.rawValue)
        writeUInt16(record.recordClass.rawValue)
        writeUInt32(record.ttl)
        try writeRecordData { writer throws(DNSMessageError) in try writer.writeRecordData(record.data) }
    }

    /// RFC 6891 §6.1.2, §6.1.3: root owner, TYPE 41, CLASS = UDP payload size, TTL =
    /// EXTENDED-RCODE VERSION DO Z.
    mutating func writeOPTRecord(_ opt: OPTRecord) throws(DNSMessageError) {
        bytes.append(0)
        writeUInt16(DNSRecordType.opt.rawValue)
        writeUInt16(opt.udpPayloadSize)
        writeUInt32(UInt32(opt.extendedResponseCode) << 24 | UInt32(opt.version) << 16 | (opt.isDNSSECOK ? 1 << 15 : 0))
        try writeRecordData { writer throws(DNSMessageError) in
            for option in opt.options {
                guard let length = UInt16(exactly: option.data.count) else {
                    throw DNSMessageError(.unencodable, hint: "EDNS option longer than 65535 octets")
                }
                writer.writeUInt16(option.code)
                writer.writeUInt16(length)
                writer.bytes += option.data
            }
        }
    }

    /// RDLENGTH, then what `body` writes.
    private mutating func writeRecordData(_ body: (inout DNSMessageWriter) throws(DNSMessageError) -> Void)
        throws(DNSMessageError)
    {
        let lengthPosition = bytes.count
        writeUInt16(0)
        try body(&self)
        guard let length = UInt16(exactly: bytes.count - lengthPosition - 2) else {
            throw DNSMessageError(.unencodable, hint: "RDATA longer than 65535 octets")
        }
        bytes[lengthPosition] = UInt8(length >> 8)
        bytes[lengthPosition + 1] = UInt8(length & 0xFF)
    }

    /// The RDATA formats of RFC 1035 §3.3 and §3.4.1, RFC 3596 §2.2, RFC 6698 §2.1.
    private mutating func writeRecordData(_ data: DNSRecordData) throws(DNSMessageError) {
        switch data {
        case .a(let address):
            bytes += address.octets
        case .aaaa(let address):
            bytes += address.octets
        case .mx(let preference, let exchange):
            writeUInt16(preference)
            try writeDomainName(exchange)
        case .txt(let strings):
            for string in strings {
                guard let length = UInt8(exactly: string.count) else {
                    throw DNSMessageError(.unencodable, hint: "character-string longer than 255 octets")
                }
                bytes.append(length)
                bytes += string
            }
        case .tlsa(let record):
            bytes += [record.certificateUsage, record.selector, record.matchingType]
            bytes += record.certificateAssociationData
        case .ptr(let name), .cname(let name), .ns(let name):
            try writeDomainName(name)
        case .soa(let record):
            try writeDomainName(record.primaryNameServer)
            try writeDomainName(record.responsibleMailbox)
            for value in [record.serial, record.refresh, record.retry, record.expire, record.minimum] {
                writeUInt32(value)
            }
        case .unknown(_, let rawData):
            bytes += rawData
        }
    }
}
