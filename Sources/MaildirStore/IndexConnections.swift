import Foundation
import GRDB
import MailStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The account indexes open in this process: at most one SQLite connection per account,
/// shared by its folders and its structure changes (LIST, CREATE, …), and closed once
/// nobody has used it for `linger`.
///
/// Opening an index costs about a millisecond — the file, the WAL, the schema parsed
/// again, the migrations checked — which was most of what a re-SELECT or a LIST cost
/// when each opened its own. Shared, a burst of commands from any sessions of the
/// account opens it once; an idle account holds none (`MemoryTrimmer` then gives the
/// memory back), which keeps idle sessions small.
///
/// A `DatabaseQueue` serializes its users, so sharing one between a folder's queue and
/// the account's structure queue is safe; no caller may use the connection from inside
/// another use of it (GRDB's accesses are not reentrant), which the store's code keeps:
/// folder work and index writes are never nested inside an `IndexDatabase.read`/`write`.
final class IndexConnections: Sendable {
    /// Which file a connection has open (device and inode).
    struct FileIdentity: Equatable {
        var device: UInt64
        var inode: UInt64

        /// The identity of the file at `path` now, nil when there is none.
        static func of(_ path: String) -> FileIdentity? {
            var information = stat()
            guard stat(path, &information) == 0 else { return nil }
            return FileIdentity(device: UInt64(information.st_dev), inode: UInt64(information.st_ino))
        }
    }

    private struct Entry {
        var database: DatabaseQueue
        var identity: FileIdentity?
        var users = 0
        var lastUse = DispatchTime.now()
        var isCheckScheduled = false
    }

    private struct State {
        var entries: [String: Entry] = [:]
        /// Connections to a file that is no longer the account's index (moved away or
        /// replaced behind our back), closed when their last user lets go.
        var retired: [ObjectIdentifier: Entry] = [:]
    }

    let linger: Double
    private let state = Mutex(State())
    private let timers = DispatchQueue(label: "tsubame.index-connections", qos: .utility)

    init(linger: Double = 1.0) {
        self.linger = linger
    }

    /// The index of the account in `accountDirectory`, opened if need be; the caller
    /// gives it back with `release`. A connection whose file is no longer at the index's
    /// path (an operator moved or restored it) is not handed out again: the file there
    /// now is opened, so nothing is written into a file nobody will read.
    func acquire(_ accountDirectory: String) throws(StoreError) -> DatabaseQueue {
        let path = accountDirectory + "/" + IndexDatabase.fileName
        let current = FileIdentity.of(path)
        if let database = state.withLock({ state -> DatabaseQueue? in
            guard var entry = state.entries[accountDirectory] else { return nil }
            guard entry.identity == current, current != nil else {
                state.entries[accountDirectory] = nil
                if entry.users > 0 { state.retired[ObjectIdentifier(entry.database)] = entry } else { retire(entry) }
                return nil
            }
            entry.users += 1
            state.entries[accountDirectory] = entry
            return entry.database
        }) {
            return database
        }
        // Opened without the lock (it reads the disk); if another thread opened the same
        // index meanwhile, theirs is used and ours closed.
        let opened = try IndexDatabase.open(path: path)
        let identity = FileIdentity.of(path)
        let (database, isSpare) = state.withLock { state -> (DatabaseQueue, Bool) in
            if var entry = state.entries[accountDirectory] {
                entry.users += 1
                state.entries[accountDirectory] = entry
                return (entry.database, true)
            }
            state.entries[accountDirectory] = Entry(database: opened, identity: identity, users: 1)
            return (opened, false)
        }
        if isSpare { try? opened.close() }
        return database
    }

    /// One user of `database` (from `acquire` for this account) is done; the connection
    /// closes after `linger` without users.
    func release(_ accountDirectory: String, _ database: DatabaseQueue) {
        let schedule = state.withLock { state -> Bool in
            let id = ObjectIdentifier(database)
            if var entry = state.retired[id] {
                entry.users -= 1
                if entry.users <= 0 {
                    state.retired[id] = nil
                    retire(entry)
                } else {
                    state.retired[id] = entry
                }
                return false
            }
            guard var entry = state.entries[accountDirectory], entry.database === database else { return false }
            entry.users = max(0, entry.users - 1)
            entry.lastUse = .now()
            let schedule = entry.users == 0 && !entry.isCheckScheduled
            if schedule { entry.isCheckScheduled = true }
            state.entries[accountDirectory] = entry
            return schedule
        }
        if schedule { scheduleCheck(accountDirectory, after: linger) }
    }

    /// Runs `body` with the account's index.
    func with<T>(
        _ accountDirectory: String, _ body: (DatabaseQueue) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        let database = try acquire(accountDirectory)
        defer { release(accountDirectory, database) }
        return try body(database)
    }

    /// How many indexes are open (tests): the accounts' current connections and those
    /// retired but still in use.
    var openCount: Int { state.withLock { $0.entries.count + $0.retired.count } }

    /// Closes a connection nobody uses, off the caller's lock.
    private func retire(_ entry: Entry) {
        let database = entry.database
        timers.async {
            try? database.close()
            MemoryTrimmer.shared.connectionClosed()
        }
    }

    private func scheduleCheck(_ accountDirectory: String, after seconds: Double) {
        timers.asyncAfter(deadline: .now() + seconds) { self.closeIfIdle(accountDirectory) }
    }

    private func closeIfIdle(_ accountDirectory: String) {
        enum Outcome {
            case close(DatabaseQueue)
            case again(Double)
            case nothing
        }
        let outcome = state.withLock { state -> Outcome in
            guard var entry = state.entries[accountDirectory] else { return .nothing }
            guard entry.users == 0 else {
                // In use again: its last `release` schedules the next check.
                entry.isCheckScheduled = false
                state.entries[accountDirectory] = entry
                return .nothing
            }
            let idle = Double(DispatchTime.now().uptimeNanoseconds - entry.lastUse.uptimeNanoseconds) / 1e9
            if idle < linger { return .again(linger - idle) }
            state.entries[accountDirectory] = nil
            return .close(entry.database)
        }
        switch outcome {
        case .close(let database):
            try? database.close()
            MemoryTrimmer.shared.connectionClosed()
        case .again(let seconds):
            scheduleCheck(accountDirectory, after: seconds)
        case .nothing:
            break
        }
    }
}
