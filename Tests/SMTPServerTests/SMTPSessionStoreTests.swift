import Directory
import Foundation
import Logging
import MailCore
import MailQueue
import MailStore
import NIOCore
import Synchronization
import Testing

@testable import SMTPProtocol
@testable import SMTPServer

/// A store whose every delivery fails the way a full mailbox does.
struct FullMailboxes: MessageDelivery {
    func deliver(_ message: [UInt8], to recipients: [MailAddress]) async throws(StoreError) {
        throw StoreError(.overQuota, "mailbox full")
    }
}

struct NoUsers: AccountDirectory {
    func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool { false }
    func account(login: String) async throws(DirectoryError) -> Account? { nil }
    func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution { .notLocalDomain }
}

@Suite("SMTP session: storing a message")
struct SMTPSessionStoreTests {
    /// A message for a local and a remote recipient whose local delivery fails: the
    /// client gets a temporary error and will send it again, so the copy already
    /// spooled for the remote recipient must go, or the remote recipient gets two.
    @Test func failedLocalDeliveryTakesBackTheSpooledCopy() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tsubame-store-\(UUID().uuidString)").path
        let spool = Spool(directory: directory)
        let services = SMTPServices(
            directory: NoUsers(), authenticator: Authenticator(directory: NoUsers()), delivery: FullMailboxes(),
            spool: spool, logger: Logger(label: "test"), now: { 0 })
        // The queue runner is told of every committed message: none may be, since the
        // runner could send it before the local failure takes it back.
        let committed = Mutex<[String]>([])
        spool.observeEnqueues { id in committed.withLock { $0.append(id) } }
        let mailbox = SMTPMailbox(localPart: "carol", domain: .name("remote.test"))
        var transaction = SMTPTransaction(sender: .null, parameters: MailParameters())
        transaction.recipients = [
            AcceptedRecipient(path: .mailbox(mailbox), parameters: RecipientParameters(), local: ["bob@example.test"], remote: ["carol@remote.test"])
        ]
        let trace = ReceivedTrace(
            heloName: "c", remoteAddress: "192.0.2.1", hostname: "mx.example.test", protocolType: "ESMTP", sessionID: "S1",
            tlsVersion: nil, authenticatedUser: nil, singleRecipient: nil)
        let outcome = await SMTPSession.store(
            transaction, message: ByteBuffer(string: "Subject: x\r\n\r\nhi\r\n"), trace: trace, services: services,
            queueID: "S1", user: nil)
        #expect(outcome == .mailboxFull)
        #expect(try spool.list().isEmpty)
        #expect(committed.withLock { $0 }.isEmpty)
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/tmp")) ?? []
        #expect(leftovers.isEmpty)
    }
}
