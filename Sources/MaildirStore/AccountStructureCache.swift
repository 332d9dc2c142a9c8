import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What LIST reads from an account's index — special uses and subscriptions, once the
/// default mailboxes exist — and its folder list, kept in memory so that a LIST of an
/// unchanged account reads no index and looks into no folder (one directory read).
///
/// Only this process writes those tables, and only in structure changes, which run on
/// the account's structure queue like LIST itself; each change drops the account's entry
/// when it is done (`MaildirMailboxStore.onAccountQueue`), so an entry is never older
/// than the index. Bounded: past `limit` accounts the whole cache starts again.
final class AccountStructureCache: Sendable {
    struct State: Sendable {
        var specialUses: [String: String]
        var subscriptions: [String]
        /// The index file these were read from: another file at its path (an operator
        /// replaced it) is read again.
        var index: IndexConnections.FileIdentity?
        /// The folders of the account directory as last read.
        var folders: FolderList?
    }

    /// The `.` entries of an account directory as last read (sorted), and those that name
    /// mailboxes: the folders, and the candidates (not folders when read: no `cur/` yet).
    struct FolderList: Sendable {
        /// The directory's time when `entries` were read, if old enough to trust.
        var time: timespec?
        var entries: [String]
        var folders: [(entry: String, name: String)]
        var candidates: [(entry: String, name: String)]
    }

    let limit: Int
    private let states = Mutex<[String: State]>([:])

    init(limit: Int = 20_000) {
        self.limit = limit
    }

    /// The account's state, read with `load` when not cached. Call on the account's
    /// structure queue.
    func state(of accountDirectory: String, load: () throws(StoreError) -> State) throws(StoreError) -> State {
        let index = IndexConnections.FileIdentity.of(accountDirectory + "/" + IndexDatabase.fileName)
        if let state = states.withLock({ $0[accountDirectory] }), state.index == index, index != nil { return state }
        var state = try load()
        // The load makes the index when there was none yet.
        state.index = index ?? IndexConnections.FileIdentity.of(accountDirectory + "/" + IndexDatabase.fileName)
        states.withLock { states in
            if states.count >= limit { states.removeAll(keepingCapacity: true) }
            states[accountDirectory] = state
        }
        return state
    }

    /// Remembers the folder list of an account that is cached (LIST, on the account's
    /// structure queue).
    func setFolders(of accountDirectory: String, _ list: FolderList) {
        states.withLock { states in
            if states[accountDirectory] != nil { states[accountDirectory]!.folders = list }
        }
    }

    func forget(_ accountDirectory: String) {
        _ = states.withLock { $0.removeValue(forKey: accountDirectory) }
    }

    /// How many accounts are cached (tests).
    var count: Int { states.withLock { $0.count } }
}
