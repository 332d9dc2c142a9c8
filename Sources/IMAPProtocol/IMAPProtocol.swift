// IMAPProtocol — IMAP as values: the client commands (`IMAPCommand`) and everything they
// carry (sequence sets, search keys, fetch attributes, flags, dates, mailbox names with
// their modified UTF-7 form), the incremental framer that cuts the byte stream into
// commands around literals (`IMAPCommandFramer`), the grammar parser for a framed command
// (`IMAPCommandParser`), and the status/continuation responses the framer's errors need
// (`IMAPResponse`, `IMAPEncoding`). Pure: no sockets, no clock, no storage; the session
// state machine (later) decides what each command does.
//
// Standards: RFC 9051 (IMAP4rev2, formal syntax §9) and RFC 3501 (IMAP4rev1: CHECK,
// LSUB, the 7-bit rules), RFC 7888 (LITERAL+ / LITERAL-), RFC 3516 (BINARY: `~{n}`
// literal8, BINARY[], BINARY.PEEK[], BINARY.SIZE), RFC 3502 (MULTIAPPEND), RFC 4466
// (extended SELECT/FETCH/STORE/SEARCH/LIST syntax), RFC 4731 (ESEARCH return options),
// RFC 5182 (SEARCHRES: `$`, RETURN (SAVE)), RFC 5258 (LIST-EXTENDED), RFC 5819
// (LIST-STATUS), RFC 6154 (SPECIAL-USE: CREATE USE, LIST SPECIAL-USE), RFC 2177 (IDLE,
// DONE), RFC 4315 (UIDPLUS: UID EXPUNGE), RFC 6851 (MOVE), RFC 5161 (ENABLE), RFC 7162
// (CONDSTORE/QRESYNC: SELECT parameters, CHANGEDSINCE, VANISHED, UNCHANGEDSINCE, MODSEQ
// search key and fetch item), RFC 4959 (SASL-IR), RFC 5032 (WITHIN: YOUNGER/OLDER),
// RFC 5530 and RFC 7889 (response codes; TOOBIG), RFC 3501 §5.1.3 (modified UTF-7).
// Not parsed (refused with BAD as unknown syntax): CATENATE, NOTIFY, METADATA, QUOTA,
// ID, COMPRESS, the RFC 4466 extension parameters nobody registered.
// Security: every byte comes from the network, most of it before authentication. The
// framer bounds everything it keeps (`IMAPLimits`): command text, each literal, the sum
// of a command's literals, the number of APPEND messages. A literal announcement over a
// limit is refused before a single byte of it is read and its size is never allocated:
// a synchronising literal gets the tagged refusal instead of "+", a non-synchronising
// one is read and thrown away (never buffered), or the connection is closed when even
// that would be unreasonable. NUL is refused outside `~{n}` literals, bare CR anywhere
// in command text, ill-formed UTF-8 in strings; numbers are parsed without overflow
// (nz-number to 4294967295, mod-sequence to 2^63-1); nesting and list lengths are
// bounded, so no input recurses deeply or allocates without a bound. LOGIN passwords,
// SASL data and APPEND messages never appear in a `description`.
// Limits: `IMAPLimits`; nothing here traps on any input (no `!`, no unchecked subscripts,
// no trapping arithmetic on client numbers).
