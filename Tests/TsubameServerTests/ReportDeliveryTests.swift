import Directory
import Foundation
import Logging
import MailCore
import MailStore
import Synchronization
import Testing
@testable import TsubameServer

/// Where the queue runner's reports (bounces) for a sender go: `OutboundWiring.deliverReport`.
@Suite("Outbound: reports to local senders")
struct ReportDeliveryTests {
    final class RecordingDelivery: MessageDelivery {
        let deliveries = Mutex<[[MailAddress]]>([])

        func deliver(_ message: [UInt8], to recipients: [MailAddress]) async throws(StoreError) {
            deliveries.withLock { $0.append(recipients) }
        }
    }

    static func directory() async throws -> (SQLiteDirectory, String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("reports-\(UUID().uuidString).sqlite").path
        let directory = try SQLiteDirectory(path: path)
        try await directory.addDomain("local.test")
        let hash = try PasswordHash(parsing: "{PLAIN}x")
        for user in ["alice", "postmaster"] {
            try await directory.addUser(try #require(MailAddress("\(user)@local.test")), passwordHash: hash)
        }
        try await directory.addAlias(
            "team@local.test", targets: [try #require(MailAddress("alice@local.test")), try #require(MailAddress("ext@far.test"))])
        return (directory, path)
    }

    func deliver(_ address: String) async throws -> ([String], [[String]]) {
        let (directory, path) = try await Self.directory()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let delivery = RecordingDelivery()
        let remote = try await OutboundWiring.deliverReport(
            Array("report".utf8), to: address, directory: directory, delivery: delivery, logger: Logger(label: "t"))
        return (remote, delivery.deliveries.withLock { $0.map { $0.map(\.description) } })
    }

    @Test func localSenderGetsItInTheirMailbox() async throws {
        let (remote, local) = try await deliver("alice@local.test")
        #expect(remote.isEmpty && local == [["alice@local.test"]])
    }

    @Test func remoteSenderIsLeftForTheQueue() async throws {
        let (remote, local) = try await deliver("carol@elsewhere.test")
        #expect(remote == ["carol@elsewhere.test"] && local.isEmpty)
    }

    @Test func aliasSenderIsFollowed() async throws {
        let (remote, local) = try await deliver("team@local.test")
        #expect(local == [["alice@local.test"]])
        #expect(remote == ["ext@far.test"])
    }

    @Test func vanishedLocalSenderFallsBackToPostmaster() async throws {
        let (remote, local) = try await deliver("gone@local.test")
        #expect(remote.isEmpty && local == [["postmaster@local.test"]])
    }
}
