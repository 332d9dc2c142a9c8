/// Why BINARY[part] or BINARY.SIZE[part] has no answer.
///
/// - SeeAlso: RFC 3516 §4.2, §4.3
public enum BinarySectionError: Error, Hashable, Sendable {
    /// No part has that number.
    case noSuchPart
    /// The part's Content-Transfer-Encoding is not one the server decodes (the name,
    /// lower-cased). RFC 3516 §4.3: answer `NO [UNKNOWN-CTE]`.
    case unknownContentTransferEncoding(String)
}

/// BINARY and BINARY.SIZE: a part's content with its Content-Transfer-Encoding undone.
///
///     BINARY[]        the whole message, as BODY[] (nothing to decode at that level)
///     BINARY[1]       part 1 decoded (base64 and quoted-printable undone)
///     BINARY[2]       a multipart or message/rfc822 part: its body as it is (RFC 2045
///                     §6.4 allows those no other encoding)
///
/// The result may hold NUL and any octet: the server sends it as `~{n}` literal8 when it
/// does (RFC 3516 §4.2).
///
/// - SeeAlso: RFC 3516 §4.2 (BINARY, BINARY.SIZE), §4.3 (UNKNOWN-CTE)
extension MessageStructure {
    /// The decoded content of the part `path` names.
    public func binaryContents(ofPart path: [UInt32]) throws(BinarySectionError) -> [UInt8] {
        if path.isEmpty { return bytes }
        guard let target = self.part(at: path) else { throw BinarySectionError.noSuchPart }
        let body = octets(in: target.bodyRange)
        guard case .single = target.content else { return Array(body) }
        guard let decoded = target.contentTransferEncoding.decode(body) else {
            throw BinarySectionError.unknownContentTransferEncoding(Self.encodingName(target.contentTransferEncoding))
        }
        return decoded
    }

    /// The size of `binaryContents(ofPart:)`: BINARY.SIZE.
    public func binarySize(ofPart path: [UInt32]) throws(BinarySectionError) -> Int {
        if path.isEmpty { return bytes.count }
        guard let target = self.part(at: path) else { throw BinarySectionError.noSuchPart }
        let body = octets(in: target.bodyRange)
        guard case .single = target.content else { return body.count }
        guard let size = target.contentTransferEncoding.decodedSize(body) else {
            throw BinarySectionError.unknownContentTransferEncoding(Self.encodingName(target.contentTransferEncoding))
        }
        return size
    }

    private static func encodingName(_ encoding: ContentTransferEncoding) -> String {
        if case .other(let name) = encoding { return name }
        return encoding.imapName.lowercased()
    }
}
