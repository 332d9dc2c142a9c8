import Foundation
public import MailCore
import Synchronization

/// A Dovecot passwd-file as a user database (read-only):
///
///     user:{SCHEME}hash:uid:gid:gecos:home:shell:extra_fields
///     alice@example.com:{SHA512-CRYPT}$6$…:5000:5000::/var/mail/example.com/alice::
///
/// Only the first two fields matter here; users are full addresses (Dovecot's virtual
/// setups), and the domains of those addresses are local domains. The file is read
/// again when its modification time or size changes — checked at most once a second,
/// so editing it needs no reload (Dovecot re-reads passwd-files the same way).
///
/// - SeeAlso: Dovecot documentation, "Passwd-file" authentication database
public final class PasswdFileDirectory: AccountDirectory {
    private struct Snapshot {
        var accounts: [String: Account] = [:]
        var domains: Set<String> = []
        var modified: Date?
        var size: Int = -1
        var checked: ContinuousClock.Instant?
    }

    public let path: String
    private let snapshot = Mutex(Snapshot())

    public init(path: String) {
        self.path = path
    }

    /// Parses passwd-file text into accounts; malformed lines are skipped and
    /// reported by line number.
    public static func parse(_ text: String) -> (accounts: [String: Account], problems: [Int]) {
        var accounts: [String: Account] = [:]
        var problems: [Int] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count >= 2, let address = MailAddress(String(fields[0])),
                let hash = try? PasswordHash(parsing: String(fields[1]))
            else {
                problems.append(index + 1)
                continue
            }
            accounts[address.canonical] = Account(address: address, passwordHash: hash)
        }
        return (accounts, problems)
    }

    public func isLocalDomain(_ domain: String) async throws(DirectoryError) -> Bool {
        try current().domains.contains(domain.lowercased())
    }

    public func account(login: String) async throws(DirectoryError) -> Account? {
        guard let address = MailAddress(login) else { return nil }
        return try current().accounts[address.canonical]
    }

    public func logins() async throws(DirectoryError) -> [String]? {
        try current().accounts.keys.sorted()
    }

    public func resolve(recipient: MailAddress) async throws(DirectoryError) -> RecipientResolution {
        let snapshot = try current()
        guard snapshot.domains.contains(recipient.domain) else { return .notLocalDomain }
        for key in [recipient.canonical] + (recipient.withoutDetail.map { [$0] } ?? []) {
            if let account = snapshot.accounts[key] { return .deliver(local: [account.address], forward: []) }
        }
        return .unknownUser
    }

    /// The parsed file, read again if it changed since the last look.
    private func current() throws(DirectoryError) -> Snapshot {
        let now = ContinuousClock.now
        if let cached = snapshot.withLock({ state -> Snapshot? in
            if let checked = state.checked, now - checked < .seconds(1) { return state }
            return nil
        }) {
            return cached
        }
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw DirectoryError(.storage, "cannot read passwd-file \(path): \(error.localizedDescription)")
        }
        let modified = attributes[.modificationDate] as? Date
        let size = (attributes[.size] as? NSNumber)?.intValue ?? -1
        if let unchanged = snapshot.withLock({ state -> Snapshot? in
            guard state.modified == modified, state.size == size else { return nil }
            state.checked = now
            return state
        }) {
            return unchanged
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DirectoryError(.storage, "cannot read passwd-file \(path)")
        }
        let (accounts, _) = Self.parse(String(decoding: data, as: UTF8.self))
        let fresh = Snapshot(
            accounts: accounts, domains: Set(accounts.values.map(\.address.domain)), modified: modified, size: size,
            checked: now)
        snapshot.withLock { $0 = fresh }
        return fresh
    }
}
