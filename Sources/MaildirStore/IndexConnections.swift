import Foundation
import GRDB
import MailStore
import Synchronization

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
    private struct Entry {
        var database: DatabaseQueue
        var users = 0
        var lastUse = DispatchTime.now()
        var isCheckScheduled = false
    }

    let linger: Double
    private let entries = Mutex<[String: Entry]>([:])
    private let timers = DispatchQueue(label: "tsubame.index-connections", qos: .utility)

    init(linger: Double = 1.0) {
        self.linger = linger
    }

    /// The index of the account in `accountDirectory`, opened if need be; the caller
    /// gives it back with `release`.
    func acquire(_ accountDirectory: String) throws(StoreError) -> DatabaseQueue {
        if let database = entries.withLock({ entries -> DatabaseQueue? in
            guard entries[accountDirectory] != nil else { return nil }
            entries[accountDirectory]!.users += 1
            return entries[accountDirectory]!.database
        }) {
            return database
        }
        // Opened without the lock (it reads the disk); if another thread opened the same
        // index meanwhile, theirs is used and ours closed.
        let opened = try IndexDatabase.open(path: accountDirectory + "/" + IndexDatabase.fileName)
        let (database, isSpare) = entries.withLock { entries -> (DatabaseQueue, Bool) in
            if entries[accountDirectory] != nil {
                entries[accountDirectory]!.users += 1
                return (entries[accountDirectory]!.database, true)
            }
            entries[accountDirectory] = Entry(database: opened, users: 1)
            return (opened, false)
        }
        if isSpare { try? opened.close() }
        return database
    }

    /// One user of the account's index is done; the connection closes after `linger`
    /// without users.
    func release(_ accountDirectory: String) {
        let schedule = entries.withLock { entries -> Bool in
            guard var entry = entries[accountDirectory] else { return false }
            entry.users = max(0, entry.users - 1)
            entry.lastUse = .now()
            let schedule = entry.users == 0 && !entry.isCheckScheduled
            if schedule { entry.isCheckScheduled = true }
            entries[accountDirectory] = entry
            return schedule
        }
        if schedule { scheduleCheck(accountDirectory, after: linger) }
    }

    /// Runs `body` with the account's index.
    func with<T>(
        _ accountDirectory: String, _ body: (DatabaseQueue) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        let database = try acquire(accountDirectory)
        defer { release(accountDirectory) }
        return try body(database)
    }

    /// How many indexes are open (tests).
    var openCount: Int { entries.withLock { $0.count } }

    private func scheduleCheck(_ accountDirectory: String, after seconds: Double) {
        timers.asyncAfter(deadline: .now() + seconds) { self.closeIfIdle(accountDirectory) }
    }

    private func closeIfIdle(_ accountDirectory: String) {
        enum Outcome {
            case close(DatabaseQueue)
            case again(Double)
            case nothing
        }
        let outcome = entries.withLock { entries -> Outcome in
            guard var entry = entries[accountDirectory] else { return .nothing }
            guard entry.users == 0 else {
                // In use again: its last `release` schedules the next check.
                entry.isCheckScheduled = false
                entries[accountDirectory] = entry
                return .nothing
            }
            let idle = Double(DispatchTime.now().uptimeNanoseconds - entry.lastUse.uptimeNanoseconds) / 1e9
            if idle < linger { return .again(linger - idle) }
            entries[accountDirectory] = nil
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
