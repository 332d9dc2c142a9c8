import Crypto

/// The client's final SCRAM message: the channel-binding echo, the combined nonce and
/// the proof.
///
///     C: c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,
///        p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=        (RFC 7677 §3)
///
/// `withoutProof` is kept byte for byte: it ends the AuthMessage both sides sign.
/// Carries the proof, which is password-equivalent for this one exchange only, but is
/// still never printed.
///
/// - SeeAlso: RFC 5802 §5.1, §7
struct SCRAMClientFinalMessage: Sendable, Equatable {
    /// The decoded `c=` value, `cbind-input`: for the "n" and "y" flags it must be the
    /// client-first gs2-header itself (RFC 5802 §7: cbind-data "MUST be absent for y
    /// or n").
    let channelBindingInput: [UInt8]
    /// The `r=` value: must be the client's nonce followed by ours.
    let nonce: [UInt8]
    /// The decoded `p=` value, `ClientProof`, 32 octets.
    let proof: [UInt8]
    /// `client-final-message-without-proof` exactly as sent.
    let withoutProof: [UInt8]

    /// The proof comes last and no value contains a comma, so the last comma splits it off.
    ///
    ///     client-final-message =
    ///                       client-final-message-without-proof "," proof
    init(parsing bytes: [UInt8]) throws(SASLError) {
        guard let lastComma = bytes.lastIndex(of: SCRAMGrammar.comma) else {
            throw SASLError(.malformed, hint: "SCRAM client-final-message has no proof")
        }
        let withoutProof = bytes[bytes.startIndex..<lastComma]
        self.proof = try Self.parseProof(bytes[bytes.index(after: lastComma)...])
        let parsed = try Self.parseClientFinalMessageWithoutProof(withoutProof)
        self.channelBindingInput = parsed.channelBindingInput
        self.nonce = parsed.nonce
        self.withoutProof = Array(withoutProof)
    }

    // MARK: - Parsing

    ///     client-final-message-without-proof =
    ///                       channel-binding "," nonce [","
    ///                       extensions]
    static func parseClientFinalMessageWithoutProof(
        _ bytes: ArraySlice<UInt8>
    ) throws(SASLError) -> (channelBindingInput: [UInt8], nonce: [UInt8]) {
        let fields = SCRAMGrammar.fields(bytes)
        guard fields.count >= 2 else {
            throw SASLError(.malformed, hint: "SCRAM client-final-message lacks c= or r=")
        }
        let channelBindingInput = try parseChannelBinding(fields[0])
        let nonce = try SCRAMGrammar.parseNonce(fields[1])
        try SCRAMGrammar.parseExtensions(fields.dropFirst(2))
        return (channelBindingInput, nonce)
    }

    ///     channel-binding = "c=" base64
    ///                       ;; base64 encoding of cbind-input.
    static func parseChannelBinding(_ field: ArraySlice<UInt8>) throws(SASLError) -> [UInt8] {
        guard let value = SCRAMGrammar.attributeValue(field, name: "c") else {
            throw SASLError(.malformed, hint: "SCRAM channel-binding (c=) missing")
        }
        return try SCRAMGrammar.parseBase64(value)
    }

    /// `ClientProof := ClientKey XOR ClientSignature` (RFC 5802 §3), as long as the
    /// hash output: 32 octets for SHA-256.
    ///
    ///     proof           = "p=" base64
    static func parseProof(_ field: ArraySlice<UInt8>) throws(SASLError) -> [UInt8] {
        guard let value = SCRAMGrammar.attributeValue(field, name: "p") else {
            throw SASLError(.malformed, hint: "SCRAM proof (p=) missing or not last")
        }
        let proof = try SCRAMGrammar.parseBase64(value)
        guard proof.count == SHA256.byteCount else {
            throw SASLError(.malformed, hint: "SCRAM proof is not 32 octets")
        }
        return proof
    }
}
