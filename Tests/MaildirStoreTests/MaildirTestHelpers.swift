import MailStore

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
}
