// MaildirStore — mail on disk in Maildir format, laid out as Dovecot lays it out
// (`mail_location = maildir:<root>/%d/%n`, Maildir++ folders with `separator = /`), so
// an existing Dovecot Maildir can be served and ours can be read by Dovecot: the durable
// delivery write path (`MaildirDelivery`) and the mailbox side with its per-account
// SQLite index (`MaildirMailboxStore`: INBOX and `.Name` folders, LIST, CREATE, DELETE,
// RENAME, SUBSCRIBE, APPEND, COPY, flags and keywords; one shared `MaildirFolder` per
// folder for all sessions of the process).
//
// Standards: Maildir (cr.yp.to/proto/maildir.html: tmp → new, unique names), Dovecot's
// Maildir++ extensions (doc.dovecot.org "Maildir mailbox format": `,S=` and `,W=` in
// file names, `.Folder` sub-mailboxes, `maildirfolder`, listescape's `\2e`), RFC 3501
// §5.1.3 (modified UTF-7 folder names), RFC 9051 §2.3.1.1 (UIDVALIDITY), §6.3 (mailbox
// commands), RFC 6154 (special use), RFC 4315 (APPENDUID/COPYUID), RFC 7162 (MODSEQ),
// RFC 5321 §6.1 (durability before `250`).
// Security: recipient addresses and mailbox names come from the network. A path segment
// is never taken raw from an address: `MaildirDelivery.pathSegment` lower-cases and
// percent-encodes it, so `..`, `/`, a leading `.` (Maildir++ folder names) or `~` cannot
// leave the root or collide with a folder. A mailbox name passes
// `MailboxNaming.problem(with:)` and then `MaildirFolderName`, whose directory names are
// one path component starting with "." and never "." or "..". Files are created with
// O_EXCL and mode 0600, directories with mode 0700. Symbolic links planted in a Maildir
// are never followed: a linked folder or `cur/ new/ tmp/` is no mailbox (`lstat`), a
// linked message file is no message (scans take regular files only, reads use
// O_NOFOLLOW), and DELETE unlinks links instead of descending through them.
// Limits: a path segment is at most three times its input (local parts are at most
// 64 octets, RFC 5321 §4.5.3.1.1); a name the file system refuses as too long is
// reported as `StoreError.Kind.limitExceeded`; 128 keywords of at most 200 octets per
// message (`MaildirMailboxStore.maximumKeywords`).

public import MailCore

/// Where an account's mail lives, for delivery and for reading alike.
public enum MaildirLayout {
    /// `<root>/<domain>/<local>`, both segments through `MaildirDelivery.pathSegment`.
    public static func maildir(root: String, address: MailAddress) -> String {
        "\(root)/\(MaildirDelivery.pathSegment(address.domain))/\(MaildirDelivery.pathSegment(address.localPart))"
    }
}
