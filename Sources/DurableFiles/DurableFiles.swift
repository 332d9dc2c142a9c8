// DurableFiles — the write discipline of DESIGN.md §3 in one place: create exclusively,
// write fully, fsync the file, rename, fsync the directory. Used by MaildirStore
// (deliveries) and MailQueue (the spool), so that "on disk" means the same thing for
// both. A module of its own because neither store may depend on the other, and
// MailCore holds pure values only.
//
// Standards: POSIX open/write/fsync/rename/link semantics.
// Security: paths are built by the callers from sanitised segments; nothing here
// interprets user input. Files are created 0600, directories 0700.
// Limits: none of its own.
