/// The RDATA of a TLSA record: which certificate the TLS server must present, for DANE.
///
///     Cert. Usage | Selector | Matching Type | Certificate Association Data
///
/// - SeeAlso: RFC 6698 §2.1, RFC 7218 (the acronyms), RFC 7672 (DANE for SMTP)
public struct TLSARecord: Hashable, Sendable, CustomStringConvertible {
    /// RFC 6698 §2.1.1: 0 PKIX-TA, 1 PKIX-EE, 2 DANE-TA, 3 DANE-EE (RFC 7218 §2.1).
    public var certificateUsage: UInt8
    /// RFC 6698 §2.1.2: 0 the full certificate, 1 the SubjectPublicKeyInfo.
    public var selector: UInt8
    /// RFC 6698 §2.1.3: 0 exact match, 1 SHA-256, 2 SHA-512.
    public var matchingType: UInt8
    /// RFC 6698 §2.1.4: the certificate, key or hash to match.
    public var certificateAssociationData: [UInt8]

    public init(certificateUsage: UInt8, selector: UInt8, matchingType: UInt8, certificateAssociationData: [UInt8]) {
        self.certificateUsage = certificateUsage
        self.selector = selector
        self.matchingType = matchingType
        self.certificateAssociationData = certificateAssociationData
    }

    /// RFC 6698 §2.2: `3 1 1 <hex>`.
    public var description: String {
        "\(certificateUsage) \(selector) \(matchingType) \(hexadecimal(certificateAssociationData))"
    }
}
