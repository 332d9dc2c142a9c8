import Crypto
public import Foundation
public import NIOSSL
import SwiftASN1
import X509

/// Server TLS contexts, and the self-signed certificate made on first start.
public enum TLSCertificates {
    /// A server context for the PEM certificate chain and key at these paths.
    /// TLS 1.2 is the minimum (RFC 8996 retires 1.0/1.1; RFC 9325 §3.1.1).
    public static func serverContext(certificatePath: String, keyPath: String) throws(TLSSetupError) -> NIOSSLContext {
        do {
            let chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
            guard !chain.isEmpty else { throw TLSSetupError("\(certificatePath): no certificate in the file") }
            let key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
            var configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
            configuration.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: configuration)
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError("cannot load TLS certificate \(certificatePath) / key \(keyPath): \(error)")
        }
    }

    /// Makes a self-signed certificate for `hostname` (ECDSA P-256, valid 10 years,
    /// with the hostname as DNS subjectAltName) and writes it as PEM files, the key with
    /// mode 0600. Existing files are left alone.
    public static func ensureSelfSigned(hostname: String, certificatePath: String, keyPath: String) throws(TLSSetupError) {
        let files = FileManager.default
        if files.fileExists(atPath: certificatePath) && files.fileExists(atPath: keyPath) { return }
        do {
            let key = P256.Signing.PrivateKey()
            let certificateKey = Certificate.PrivateKey(key)
            let name = try DistinguishedName {
                CommonName(hostname)
                OrganizationName("Tsubame self-signed")
            }
            let now = Date()
            let certificate = try Certificate(
                version: .v3,
                serialNumber: Certificate.SerialNumber(),
                publicKey: certificateKey.publicKey,
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(10 * 365 * 24 * 3600),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    KeyUsage(digitalSignature: true)
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames([.dnsName(hostname)])
                },
                issuerPrivateKey: certificateKey)
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let certificatePEM = PEMDocument(type: "CERTIFICATE", derBytes: serializer.serializedBytes).pemString
            let directory = (certificatePath as NSString).deletingLastPathComponent
            if !directory.isEmpty { try files.createDirectory(atPath: directory, withIntermediateDirectories: true) }
            let keyDirectory = (keyPath as NSString).deletingLastPathComponent
            if !keyDirectory.isEmpty { try files.createDirectory(atPath: keyDirectory, withIntermediateDirectories: true) }
            guard files.createFile(atPath: keyPath, contents: Data(key.pemRepresentation.utf8), attributes: [.posixPermissions: 0o600])
            else { throw TLSSetupError("cannot write \(keyPath)") }
            try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: certificatePath), options: .atomic)
        } catch let error as TLSSetupError {
            throw error
        } catch {
            throw TLSSetupError("cannot make a self-signed certificate for \(hostname): \(error)")
        }
    }
}

public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
