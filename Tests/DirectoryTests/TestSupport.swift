import Foundation
import MailCore
import Testing
@testable import Directory

/// The address `text`, failing the test when it does not parse.
func mailbox(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> MailAddress {
    try #require(MailAddress(text), "\(text) should be a valid address", sourceLocation: sourceLocation)
}

/// Expects `operation` to throw a `DirectoryError` of `kind`.
func expectDirectoryError(
    _ kind: DirectoryError.Kind,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ operation: () async throws -> Void
) async {
    let error = await #expect(throws: DirectoryError.self, sourceLocation: sourceLocation) {
        try await operation()
    }
    #expect(error?.kind == kind, sourceLocation: sourceLocation)
}
