import Crypto
import Foundation
import SwiftASN1
import X509

/// A throw-away certificate authority and a server certificate it signed, as PEM files:
/// what a smarthost with a private CA looks like (`caFile` names the CA). The
/// self-signed certificate `TLSCertificates` makes is a leaf (no `keyCertSign`), which
/// TLS libraries do not accept as its own trust anchor.
struct TestCertificateAuthority {
    let caCertificatePath: String
    let serverCertificatePath: String
    let serverKeyPath: String

    static func make(serverName: String) throws -> TestCertificateAuthority {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("tsubame-client-ca-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let now = Date()

        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Tsubame Test CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(24 * 3600),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(24 * 3600),
            issuer: caName, subject: try DistinguishedName { CommonName(serverName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                KeyUsage(digitalSignature: true)
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames([.dnsName(serverName)])
            },
            issuerPrivateKey: .init(caKey))

        let authority = TestCertificateAuthority(
            caCertificatePath: directory + "/ca.pem", serverCertificatePath: directory + "/server.pem",
            serverKeyPath: directory + "/server-key.pem")
        try pem(ca).write(toFile: authority.caCertificatePath, atomically: true, encoding: .utf8)
        try pem(server).write(toFile: authority.serverCertificatePath, atomically: true, encoding: .utf8)
        try serverKey.pemRepresentation.write(toFile: authority.serverKeyPath, atomically: true, encoding: .utf8)
        return authority
    }

    private static func pem(_ certificate: Certificate) throws -> String {
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        return PEMDocument(type: "CERTIFICATE", derBytes: serializer.serializedBytes).pemString
    }
}
