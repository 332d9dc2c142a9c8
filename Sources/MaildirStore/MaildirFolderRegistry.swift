import Synchronization

/// The folders in use in this process, one `MaildirFolder` per folder directory, so that
/// every session with a folder open shares its queue and state.
///
/// An entry counts its users (open mailboxes, and store operations that need the folder
/// for a moment) and is dropped when the last one lets go; a folder that is deleted or
/// renamed is taken out or moved under its new directory at once, while its users may
/// still hold it.
final class MaildirFolderRegistry: Sendable {
    /// A folder and how many users hold it.
    private struct Entry {
        let folder: MaildirFolder
        var users: Int
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The folder of `directory`, made with `make` if nobody uses it yet; counted as a
    /// user until `release`.
    func acquire(_ directory: String, make: () -> MaildirFolder) -> MaildirFolder {
        entries.withLock { entries in
            if var entry = entries[directory] {
                entry.users += 1
                entries[directory] = entry
                return entry.folder
            }
            let folder = make()
            entries[directory] = Entry(folder: folder, users: 1)
            return folder
        }
    }

    /// One user of `folder` is done; returns true when it was the last.
    @discardableResult
    func release(_ folder: MaildirFolder) -> Bool {
        entries.withLock { entries in
            let directory = folder.directory
            guard var entry = entries[directory], entry.folder === folder else { return true }
            entry.users -= 1
            if entry.users <= 0 {
                entries[directory] = nil
                return true
            }
            entries[directory] = entry
            return false
        }
    }

    /// Takes `folder` out (deleted): the next `acquire` of its directory makes a new one.
    func remove(_ folder: MaildirFolder) {
        entries.withLock { entries in
            let directory = folder.directory
            if entries[directory]?.folder === folder { entries[directory] = nil }
        }
    }

    /// Moves `folder` to `place` (renamed), with its users. Whatever was registered under
    /// the new directory must have been removed first.
    func relocate(_ folder: MaildirFolder, to place: MaildirFolder.Place) {
        entries.withLock { entries in
            let old = folder.directory
            let entry = entries[old].flatMap { $0.folder === folder ? $0 : nil }
            if entry != nil { entries[old] = nil }
            folder.relocate(to: place)
            if let entry { entries[place.directory] = entry }
        }
    }

    /// How many folders are registered (tests).
    var count: Int { entries.withLock { $0.count } }
}
