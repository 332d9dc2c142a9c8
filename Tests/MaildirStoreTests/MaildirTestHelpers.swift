import MailStore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What the Maildir suites share: a small message and the kind of a store error.
protocol MaildirTestHelpers {}

extension MaildirTestHelpers {
    func message(_ subject: String) -> [UInt8] {
        Array("Subject: \(subject)\r\nFrom: bob@example.test\r\n\r\nHello \(subject)\r\n".utf8)
    }

    /// The kind of the StoreError `body` throws, nil when it throws none.
    func kind(_ body: () async throws -> Void) async -> StoreError.Kind? {
        do {
            try await body()
            return nil
        } catch let error as StoreError {
            return error.kind
        } catch {
            return .internal
        }
    }

    /// Sets a file's or directory's modification time to `seconds` since 1970.
    func setTime(_ path: String, _ seconds: Int) {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    /// The IMAP side of an opened mailbox.
    func imap(_ mailbox: any OpenMailbox) throws -> any IMAPMailbox {
        try #require(mailbox as? any IMAPMailbox)
    }
}
