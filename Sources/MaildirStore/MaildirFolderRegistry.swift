import Synchronization

/// The folders in use in this process: exactly one `MaildirFolder` per folder directory
/// at any moment, so that every session with a folder open shares its queue and state —
/// the rule that a file gets its index row before any reconciliation sees it depends on
/// it.
///
/// A folder counts its users (open mailboxes, and store operations that need the folder
/// for a moment) and is dropped when the last one lets go. A deleted folder is taken out
/// at once (`remove`), while its users may still hold it. A RENAME first registers each
/// moving folder under its new directory too (`claim`), so that whoever looks there
/// meanwhile gets that folder and waits on its queue for the move; then the folder is
/// moved (`relocate`) or, when the rename fails, the claim is withdrawn (`withdraw`).
/// No directory is ever without its folder in between, so no second folder is ever made
/// for one directory.
final class MaildirFolderRegistry: Sendable {
    private struct State {
        /// Directory → the folder there (a folder is under its own directory, and under
        /// the one a RENAME is moving it to).
        var folders: [String: MaildirFolder] = [:]
        /// Users of each folder, also of folders no longer registered under any directory.
        var users: [ObjectIdentifier: Int] = [:]
    }

    private let state = Mutex(State())

    /// The folder of `directory`, made with `make` if nobody uses it yet; counted as a
    /// user until `release`.
    func acquire(_ directory: String, make: () -> MaildirFolder) -> MaildirFolder {
        state.withLock { state in
            let folder = state.folders[directory] ?? make()
            state.folders[directory] = folder
            state.users[ObjectIdentifier(folder), default: 0] += 1
            return folder
        }
    }

    /// One user of `folder` is done; returns true when it was the last (the folder is no
    /// longer registered then).
    @discardableResult
    func release(_ folder: MaildirFolder) -> Bool {
        state.withLock { state in
            let id = ObjectIdentifier(folder)
            let users = (state.users[id] ?? 1) - 1
            guard users <= 0 else {
                state.users[id] = users
                return false
            }
            state.users[id] = nil
            let directory = folder.directory
            if state.folders[directory] === folder { state.folders[directory] = nil }
            return true
        }
    }

    /// Takes `folder` out (deleted): the next `acquire` of its directory makes a new one.
    func remove(_ folder: MaildirFolder) {
        state.withLock { state in
            let directory = folder.directory
            if state.folders[directory] === folder { state.folders[directory] = nil }
        }
    }

    /// Registers `folder` under `directory` too, where a RENAME is about to move it;
    /// returns the folder registered there before, if any (a stale one: the directory
    /// does not exist), which the caller marks deleted.
    func claim(_ directory: String, for folder: MaildirFolder) -> MaildirFolder? {
        state.withLock { state in
            let previous = state.folders[directory]
            state.folders[directory] = folder
            return previous === folder ? nil : previous
        }
    }

    /// The RENAME that claimed `directory` for `folder` failed: the claim goes.
    func withdraw(_ directory: String, for folder: MaildirFolder) {
        state.withLock { state in
            if state.folders[directory] === folder, folder.directory != directory { state.folders[directory] = nil }
        }
    }

    /// Moves `folder` to `place` (renamed), with its users, in one step: its old
    /// directory is free, the new one (claimed before) is its.
    func relocate(_ folder: MaildirFolder, to place: MaildirFolder.Place) {
        state.withLock { state in
            let old = folder.directory
            if state.folders[old] === folder { state.folders[old] = nil }
            folder.relocate(to: place)
            if state.users[ObjectIdentifier(folder)] != nil { state.folders[place.directory] = folder }
        }
    }

    /// How many directories have a folder (tests).
    var count: Int { state.withLock { $0.folders.count } }
}
