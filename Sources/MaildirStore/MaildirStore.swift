// MaildirStore — mail on disk in Maildir format, laid out as Dovecot lays it out
// (`mail_location = maildir:<root>/%d/%n`), so an existing Dovecot Maildir can be
// served and ours can be read by Dovecot: the durable delivery write path
// (`MaildirDelivery`) and the read side with its per-account SQLite index
// (`MaildirMailboxStore`: INBOX today; Maildir++ folders arrive with IMAP).
//
// Standards: Maildir (cr.yp.to/proto/maildir.html: tmp → new, unique names), Dovecot's
// Maildir++ extensions (doc.dovecot.org "Maildir mailbox format": `,S=` and `,W=` in
// file names, `.Folder` sub-mailboxes), RFC 5321 §6.1 (durability before `250`).
// Security: recipient addresses come from the network. A path segment is never taken
// raw from an address: `MaildirDelivery.pathSegment` lower-cases and percent-encodes
// it, so `..`, `/`, a leading `.` (Maildir++ folder names) or `~` cannot leave the
// root or collide with a folder. Files are created with O_EXCL and mode 0600,
// directories with mode 0700.
// Limits: a path segment is at most three times its input (local parts are at most
// 64 octets, RFC 5321 §4.5.3.1.1); a name the file system refuses as too long is
// reported as `StoreError.Kind.limitExceeded`.

public import MailCore

/// Where an account's mail lives, for delivery and for reading alike.
public enum MaildirLayout {
    /// `<root>/<domain>/<local>`, both segments through `MaildirDelivery.pathSegment`.
    public static func maildir(root: String, address: MailAddress) -> String {
        "\(root)/\(MaildirDelivery.pathSegment(address.domain))/\(MaildirDelivery.pathSegment(address.localPart))"
    }
}
