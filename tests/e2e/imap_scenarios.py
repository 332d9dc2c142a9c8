"""IMAP end-to-end scenarios: imaplib over STARTTLS and imaps, IDLE, literals, two
sessions on one mailbox, curl, mbsync, hostile input on a raw socket.

Each scenario starts its own server (smtp_scenarios.mail_server: alice and bob in
example.test), delivers mail to alice on the smtp port, and reads and changes it over
IMAP, then checks the files in her Maildir: INBOX is `<data>/mail/example.test/alice/`
with `new/ cur/ tmp/`, every other mailbox a Maildir++ folder in it (`Sent` is `.Sent/`,
`a/b` is `.a.b/`, each level in modified UTF-7). A delivered file is the message as
SMTP received it with `Return-Path:` and `Received:` in front, CRLF throughout, so
BODY[] must give the file's bytes and RFC822.SIZE its length; a flag change renames
the file to `cur/<name>:2,<flags>` (S = \\Seen, F = \\Flagged, R = \\Answered, …).
A scenario whose client is not installed (curl without imap, mbsync) raises
harness.Skip.
"""

import datetime
import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from harness import HOST, HOSTNAME, IO_TIMEOUT, Failure, LineClient, Skip, check, require_curl, unverified_context
from pop3_scenarios import deliver, maildir_flags
from smtp_scenarios import (
    ALICE, DOMAIN, PASSWORDS, REMOTE_SENDER, first_difference, mail_server, make_message, message_id_of)

PASSWORD = PASSWORDS[ALICE]
SPECIAL_USE = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash", "Junk": "\\Junk",
               "Archive": "\\Archive"}
POST_LOGIN = ("NAMESPACE", "UNSELECT", "UIDPLUS", "MOVE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
              "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH", "SEARCHRES", "BINARY", "MULTIAPPEND",
              "STATUS=SIZE", "UTF8=ACCEPT")
ALWAYS = ("IMAP4REV1", "IMAP4REV2", "SASL-IR", "LITERAL-", "ENABLE", "IDLE")
JAPANESE = "日本語"
JAPANESE_UTF7 = "&ZeVnLIqe-"


# MARK: - Maildir


def account_path(server, local="alice"):
    return os.path.join(server.directory, "mail", DOMAIN, local)


def folder_path(server, folder="", local="alice"):
    """The Maildir of a mailbox: "" (INBOX) or a Maildir++ directory name (".Sent")."""
    return os.path.join(account_path(server, local), folder) if folder else account_path(server, local)


def folder_messages(server, folder="", local="alice"):
    """{Message-ID: (subdirectory, file name, bytes)} of one Maildir's new/ and cur/; a
    Message-ID found twice is a Failure (a duplicate)."""
    result = {}
    base = folder_path(server, folder, local)
    for sub in ("new", "cur"):
        path = os.path.join(base, sub)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                raw = f.read()
            message_id = message_id_of(raw)
            check(message_id not in result, f"{folder or 'INBOX'}: {message_id} is in the Maildir twice: "
                  f"{result.get(message_id, ('', ''))[:2]} and {(sub, name)}")
            result[message_id] = (sub, name, raw)
    return result


def describe_folder(found):
    return {message_id: f"{sub}/{name}" for message_id, (sub, name, _) in found.items()}


def folder_directories(server, local="alice"):
    """The Maildir++ folder directories of the account (names starting with ".")."""
    return sorted(name for name in os.listdir(account_path(server, local))
                  if name.startswith(".") and os.path.isdir(os.path.join(account_path(server, local), name)))


# MARK: - imaplib


def connect(server, service):
    """imaplib on `service`: "imaps" (implicit TLS), "imap+starttls" or "imap" (clear)."""
    if service == "imaps":
        return imaplib.IMAP4_SSL(HOST, server.ports["imaps"], ssl_context=unverified_context(), timeout=IO_TIMEOUT)
    imap = imaplib.IMAP4(HOST, server.ports["imap"], timeout=IO_TIMEOUT)
    if service == "imap+starttls":
        try:
            typ, data = imap.starttls(ssl_context=unverified_context())
            check(typ == "OK", f"STARTTLS answered {typ} {data}")
        except BaseException:
            close_quietly(imap)
            raise
    return imap


def login(server, service="imaps", user=ALICE):
    imap = connect(server, service)
    try:
        typ, data = imap.login(user, PASSWORDS[user])
        check(typ == "OK", f"{service}: LOGIN answered {typ} {data}")
    except BaseException:
        close_quietly(imap)
        raise
    return imap


def close_quietly(imap):
    try:
        imap.shutdown()
    except OSError:
        pass


def logout(imap, what):
    try:
        typ, data = imap.logout()
    finally:
        close_quietly(imap)
    check(typ == "BYE", f"{what}: LOGOUT answered {typ} {data}")


def text(value):
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def ok(result, what):
    """The data of an imaplib result that must be OK."""
    typ, data = result
    check(typ == "OK", f"{what} answered {typ} {[text(d) if isinstance(d, bytes) else d for d in data]}")
    return data


def refused(call, what, statuses=("NO", "BAD")):
    """Runs `call` (an imaplib command); it must end with NO or BAD (imaplib raises on BAD)."""
    try:
        typ, data = call()
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as error:
        check("BAD" in statuses, f"{what} answered BAD ({error}), expected {'/'.join(statuses)}")
        return f"BAD {error}"
    check(typ in statuses, f"{what} answered {typ} {data}, expected {'/'.join(statuses)}")
    return f"{typ} {data}"


def capabilities_of(data):
    """The capability names (upper case) of a CAPABILITY response or a [CAPABILITY …] code."""
    words = text(b" ".join(d for d in data if isinstance(d, bytes))).replace("[", " ").replace("]", " ").split()
    return {word.upper() for word in words}


def command(imap, name, *args, untagged=None):
    """A command imaplib has no method for: (status, its untagged `untagged` data, tagged text)."""
    imap.untagged_responses.pop(untagged or name, None)
    typ, data = imap._simple_command(name, *args)
    found = imap.untagged_responses.pop(untagged or name, [])
    return typ, found, data


LIST_LINE = re.compile(rb'^\((?P<attributes>[^)]*)\) (?P<separator>NIL|"(?:[^"\\]|\\.)*") (?P<name>.*)$')


def unquote(value):
    if value.startswith(b'"') and value.endswith(b'"') and len(value) >= 2:
        return re.sub(rb"\\(.)", rb"\1", value[1:-1])
    return value


def parse_list(data, what):
    """{name: set of attributes} of LIST/LSUB data (names as on the wire, decoded as UTF-8)."""
    result = {}
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # a name sent as a literal
            head, literal = item
            match = LIST_LINE.match(head.rstrip() + b" x")
            check(match is not None, f"{what}: unexpected LIST response {item!r}")
            name = literal
        else:
            match = LIST_LINE.match(item)
            check(match is not None, f"{what}: unexpected LIST response {item!r}")
            name = unquote(match.group("name"))
        check(match.group("separator") == b'"/"', f"{what}: hierarchy separator is {match.group('separator')!r}")
        result[name.decode("utf-8", "replace")] = set(text(match.group("attributes")).split())
    return result


FETCH_START = re.compile(rb"^(\d+) \(")


def fetch_responses(data):
    """[(message number, response text with {n} for literals, [literals])] of imaplib FETCH data."""
    responses = []
    for item in data:
        if item is None:
            continue
        head = item[0] if isinstance(item, tuple) else item
        match = FETCH_START.match(head)
        if match is not None:
            responses.append([int(match.group(1)), b"", []])
        check(responses, f"FETCH data does not start with a message number: {data[:3]!r}")
        responses[-1][1] += head
        if isinstance(item, tuple):
            responses[-1][2].append(item[1])
    return [(number, body, literals) for number, body, literals in responses]


def fetch_items(imap, sequence, items, by_uid=False, what="FETCH"):
    """{message number: {"UID": int, "FLAGS": set, "RFC822.SIZE": int, "INTERNALDATE": str,
    "literals": [bytes]}} (items as far as present). Responses of one message are merged."""
    if by_uid:
        data = ok(imap.uid("FETCH", sequence, items), f"UID FETCH {sequence} {items}")
    else:
        data = ok(imap.fetch(sequence, items), f"{what} {sequence} {items}")
    result = {}
    for number, body, literals in fetch_responses(data):
        entry = result.setdefault(number, {"literals": []})
        match = re.search(rb"\bUID (\d+)", body)
        if match:
            entry["UID"] = int(match.group(1))
        match = re.search(rb"\bFLAGS \(([^)]*)\)", body)
        if match:
            entry["FLAGS"] = set(text(match.group(1)).split())
        match = re.search(rb"\bRFC822\.SIZE (\d+)", body)
        if match:
            entry["RFC822.SIZE"] = int(match.group(1))
        match = re.search(rb'\bINTERNALDATE "([^"]*)"', body)
        if match:
            entry["INTERNALDATE"] = text(match.group(1))
        entry["literals"] += literals
    return result


def numbers(data):
    """The numbers of a SEARCH response."""
    return [int(n) for n in b" ".join(d for d in data if d).split()]


def response_code(data, name):
    """The arguments of `[NAME …]` in a tagged response's text, or None."""
    match = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", b" ".join(d for d in data if isinstance(d, bytes)))
    return text(match.group(1)).split() if match else None


def status_of(imap, mailbox, items="(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"):
    data = ok(imap.status(mailbox, items), f"STATUS {mailbox}")
    match = re.search(rb"\(([^)]*)\)\s*$", data[0])
    check(match is not None, f"STATUS {mailbox}: unexpected response {data!r}")
    words = text(match.group(1)).split()
    return {words[i].upper(): int(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def expect_capabilities(capabilities, present, absent, what):
    missing = [name for name in present if name not in capabilities]
    extra = [name for name in absent if name in capabilities]
    check(not missing and not extra, f"{what}: CAPABILITY lacks {missing} / has {extra}: {sorted(capabilities)}")


# MARK: - Raw IMAP over a socket


class RawIMAP:
    """An IMAP connection on a LineClient: commands as bytes, responses with their literals."""

    def __init__(self, server, service="imaps", timeout=IO_TIMEOUT):
        self.client = LineClient(server.ports[service], timeout=timeout)
        try:
            if service == "imaps":
                self.client.start_tls()
            greeting = self.line("the greeting")
            check(greeting.startswith(b"* OK"), f"raw {service}: greeting {greeting!r}")
        except BaseException:
            self.client.close()
            raise

    def read_exact(self, count, what):
        while len(self.client.pending) < count:
            chunk = self.client.sock.recv(65536)
            check(chunk != b"", f"connection closed while waiting for {what}")
            self.client.pending += chunk
        data, self.client.pending = self.client.pending[:count], self.client.pending[count:]
        return data

    def line(self, what):
        """One line without CRLF; EOF is a Failure."""
        while b"\n" not in self.client.pending:
            chunk = self.client.sock.recv(65536)
            check(chunk != b"", f"connection closed while waiting for {what}")
            self.client.pending += chunk
        line, _, self.client.pending = self.client.pending.partition(b"\n")
        return line.rstrip(b"\r")

    def response(self, what):
        """One response: a line, with the data of any literals it carries spliced in."""
        line = self.line(what)
        while True:
            match = re.search(rb"~?\{(\d+)\}$", line)
            if match is None:
                return line
            line += b"\r\n" + self.read_exact(int(match.group(1)), f"a literal in {what}")
            line += self.line(what)

    def send(self, data):
        self.client.send(data if isinstance(data, bytes) else data.encode())

    def command(self, tag, line, what=None):
        """Sends `tag line` CRLF; returns (untagged responses, the tagged response)."""
        line = line if isinstance(line, bytes) else line.encode()
        self.send(tag.encode() + b" " + line + b"\r\n")
        return self.until_tagged(tag, what or text(line[:60]))

    def until_tagged(self, tag, what):
        untagged = []
        while True:
            response = self.response(f"the reply to {what}")
            if response.startswith(tag.encode() + b" "):
                return untagged, response
            untagged.append(response)

    def expect(self, tag, line, status="OK", what=None):
        untagged, tagged = self.command(tag, line, what)
        wanted = f"{tag} {status}".encode()
        check(tagged.startswith(wanted), f"{what or text(line[:80])!r} answered {tagged[:200]!r}, expected {wanted!r}")
        return untagged, tagged

    def login(self):
        self.expect("L1", f'LOGIN {ALICE} "{PASSWORD}"', what="LOGIN")

    def eof(self, limit=5.0):
        return self.client.expect_eof(limit)

    def close(self):
        self.client.close()


# MARK: - Scenarios


def imap_imaplib_starttls_and_tls():
    with mail_server() as server:
        sent = dict(deliver(server, [("one", 0), ("two", 0), ("three", 80)]))
        ids = list(sent)
        delivered = folder_messages(server)
        check(sorted(delivered, key=str) == sorted(ids, key=str),
              f"alice's INBOX holds {describe_folder(delivered)}, expected the 3 messages sent")

        # 1. Port imap: no login before STARTTLS; CAPABILITY changes with TLS and login.
        imap = connect(server, "imap")
        try:
            before = {c.upper() for c in imap.capabilities}
            expect_capabilities(before, ALWAYS + ("STARTTLS", "LOGINDISABLED"),
                                ("AUTH=PLAIN", "AUTH=LOGIN") + POST_LOGIN, "imap before STARTTLS")
            typ, data = imap._simple_command("LOGIN", ALICE, imap._quote(PASSWORD))
            check(typ == "NO" and b"[PRIVACYREQUIRED]" in data[0],
                  f"LOGIN before STARTTLS answered {typ} {data}, expected NO [PRIVACYREQUIRED]")
            typ, data = imap._simple_command("AUTHENTICATE", "PLAIN")
            check(typ == "NO", f"AUTHENTICATE PLAIN before STARTTLS answered {typ} {data}, expected NO")
            ok(imap.starttls(ssl_context=unverified_context()), "STARTTLS")
            check(isinstance(imap.sock, ssl.SSLSocket), "no TLS after STARTTLS")
            after_tls = {c.upper() for c in imap.capabilities}
            expect_capabilities(after_tls, ALWAYS + ("AUTH=PLAIN", "AUTH=LOGIN"),
                                ("STARTTLS", "LOGINDISABLED") + POST_LOGIN, "imap after STARTTLS")
            data = ok(imap.login(ALICE, PASSWORD), "LOGIN after STARTTLS")
            in_login = capabilities_of(data)
            check("IMAP4REV1" in in_login and "UIDPLUS" in in_login,
                  f"LOGIN's OK lacks [CAPABILITY …] with the post-login capabilities: {data}")
            after_login = capabilities_of(ok(imap.capability(), "CAPABILITY after login"))
            expect_capabilities(after_login, ALWAYS + POST_LOGIN, ("STARTTLS", "LOGINDISABLED", "AUTH=PLAIN"),
                                "after login")
            check(any(re.fullmatch(r"APPENDLIMIT=\d+", c) for c in after_login),
                  f"CAPABILITY after login lacks APPENDLIMIT=n: {sorted(after_login)}")
            typ, found, _ = command(imap, "NAMESPACE")
            check(typ == "OK" and found and found[0] == b'(("" "/")) NIL NIL', f"NAMESPACE answered {typ} {found}")

            # LIST: INBOX and the five special-use mailboxes, subscribed.
            listed = parse_list(ok(imap.list('""', "*"), 'LIST "" *'), "LIST")
            check(set(listed) == {"INBOX", *SPECIAL_USE}, f'LIST "" * shows {listed}, expected INBOX and '
                  f"{sorted(SPECIAL_USE)}")
            for name, attribute in SPECIAL_USE.items():
                check(attribute in listed[name], f"LIST: {name} lacks {attribute}: {listed[name]}")
            check(not any(a in listed["INBOX"] for a in SPECIAL_USE.values()), f"LIST: INBOX has {listed['INBOX']}")
            typ, found, _ = command(imap, "LIST", "(SPECIAL-USE)", '""', "*")
            special = parse_list(found, "LIST (SPECIAL-USE)")
            check(typ == "OK" and set(special) == set(SPECIAL_USE),
                  f"LIST (SPECIAL-USE) \"\" * answered {typ} {special}, expected {sorted(SPECIAL_USE)}")
            subscribed = parse_list(ok(imap.lsub('""', "*"), "LSUB"), "LSUB")
            check(set(SPECIAL_USE) <= set(subscribed), f"LSUB shows {sorted(subscribed)}, expected the special-use "
                  "mailboxes (subscribed when the account was made)")
            for directory in (".Drafts", ".Sent", ".Trash", ".Junk", ".Archive"):
                check(os.path.isdir(os.path.join(folder_path(server, directory), "cur")),
                      f"no Maildir {directory}/cur after LIST: {folder_directories(server)}")

            # SELECT, FETCH sizes and content.
            data = ok(imap.select("INBOX"), "SELECT INBOX")
            check(data == [b"3"], f"SELECT INBOX: EXISTS is {data}, expected 3")
            _, flags = imap.response("FLAGS")
            check(flags and b"\\Seen" in flags[0], f"SELECT INBOX: FLAGS {flags}")
            _, validity = imap.response("UIDVALIDITY")
            check(validity and validity[0].isdigit(), f"SELECT INBOX: UIDVALIDITY {validity}")
            listing = fetch_items(imap, "1:*", "(UID FLAGS RFC822.SIZE)")
            check(sorted(listing) == [1, 2, 3], f"FETCH 1:* answered for messages {sorted(listing)}")
            uids = [listing[n]["UID"] for n in (1, 2, 3)]
            check(uids == sorted(uids) and len(set(uids)) == 3, f"UIDs do not rise with message numbers: {uids}")
            bodies = fetch_items(imap, "1:*", "(BODY.PEEK[])")
            order = []
            for number in (1, 2, 3):
                literals = bodies[number]["literals"]
                check(len(literals) == 1, f"FETCH {number} BODY.PEEK[] gave {len(literals)} literals")
                message_id = message_id_of(literals[0])
                check(message_id in delivered,
                      f"FETCH {number} BODY.PEEK[] is no message delivered: {literals[0][:200]!r}")
                order.append(message_id)
                raw = delivered[message_id][2]
                check(literals[0] == raw, f"BODY.PEEK[] of message {number} differs from its Maildir file: "
                      f"{first_difference(literals[0], raw)}")
                check(raw.endswith(sent[message_id]), f"the Maildir file of {message_id} does not end with the "
                      "message sent")
                check(listing[number]["RFC822.SIZE"] == len(raw),
                      f"message {number}: RFC822.SIZE {listing[number]['RFC822.SIZE']}, the file (CRLF) has {len(raw)}")
                wire = re.search(r",W=(\d+)", delivered[message_id][1])
                check(wire is None or int(wire.group(1)) == len(raw), f"{delivered[message_id][1]}: W= is not the size")
                check("\\Seen" not in listing[number]["FLAGS"], f"message {number} is \\Seen already")
            check(order == ids, f"message numbers follow {order}, expected delivery order {ids}")
            now = folder_messages(server)
            seen = [f"{sub}/{name}" for sub, name, _ in now.values() if "S" in maildir_flags(name)]
            check(not seen, f"BODY.PEEK[] marked messages \\Seen: {seen}")

            # FETCH BODY[] sets \Seen: cur/<name>:2,S.
            first = fetch_items(imap, "1", "(BODY[])")
            check(first[1]["literals"] == [delivered[ids[0]][2]], "FETCH 1 BODY[] differs from the file")
            flags = fetch_items(imap, "1", "(FLAGS)")[1]["FLAGS"]
            check("\\Seen" in flags, f"after FETCH 1 BODY[] message 1 has FLAGS {flags}")
            now = folder_messages(server)
            sub, name, _ = now[ids[0]]
            check(sub == "cur" and maildir_flags(name) == "S", f"after FETCH BODY[] message 1's file is {sub}/{name}, "
                  "expected cur/…:2,S")
            for message_id in ids[1:]:
                check("S" not in maildir_flags(now[message_id][1]), f"{now[message_id][1]} became \\Seen too")

            # STORE +FLAGS: \Flagged and a keyword.
            data = ok(imap.store("2", "+FLAGS", "(\\Flagged $Work)"), "STORE 2 +FLAGS (\\Flagged $Work)")
            stored = fetch_responses(data)
            check(stored and stored[0][0] == 2 and b"\\Flagged" in stored[0][1] and b"$Work" in stored[0][1],
                  f"STORE 2 +FLAGS answered {data}")
            now = folder_messages(server)
            sub, name, _ = now[ids[1]]
            check(sub == "cur" and "F" in maildir_flags(name) and "S" not in maildir_flags(name),
                  f"after STORE +FLAGS \\Flagged message 2's file is {sub}/{name}, expected cur/…:2,F…")
            flags = fetch_items(imap, "2", "(FLAGS)")[2]["FLAGS"]
            check({"\\Flagged", "$Work"} <= flags, f"FETCH 2 FLAGS after STORE: {flags}")

            # SEARCH.
            checks = [("UNSEEN", [2, 3]), ("SEEN", [1]), (f'FROM "{REMOTE_SENDER}"', [1, 2, 3]),
                      ('SUBJECT "two"', [2]), ("FLAGGED", [2]), ("KEYWORD $Work", [2]), ("NOT KEYWORD $Work", [1, 3]),
                      ("OR SUBJECT one SUBJECT three", [1, 3]), ('BODY "last line of three"', [3]),
                      ("LARGER 5000", [3]), ("2:3 UNFLAGGED", [3]), ('SUBJECT "nothing like it"', [])]
            for criteria, wanted in checks:
                got = numbers(ok(imap.search(None, criteria), f"SEARCH {criteria}"))
                check(got == wanted, f"SEARCH {criteria} found {got}, expected {wanted}")
            got = numbers(ok(imap.uid("SEARCH", "SUBJECT", "three"), "UID SEARCH SUBJECT three"))
            check(got == [uids[2]], f"UID SEARCH SUBJECT three found {got}, expected [{uids[2]}]")
            got = numbers(ok(imap.uid("SEARCH", f"UID {uids[1]}:*"), "UID SEARCH UID n:*"))
            check(got == uids[1:], f"UID SEARCH UID {uids[1]}:* found {got}, expected {uids[1:]}")

            # COPY with COPYUID.
            archive = status_of(imap, "Archive")
            data = ok(imap.copy("1", "Archive"), "COPY 1 Archive")
            code = response_code(data, "COPYUID")
            check(code is not None and len(code) == 3, f"COPY 1 Archive answered {data}, expected [COPYUID v src dst]")
            check(int(code[0]) == archive["UIDVALIDITY"] and code[1] == str(uids[0]),
                  f"COPYUID {code}: expected UIDVALIDITY {archive['UIDVALIDITY']} and source UID {uids[0]}")
            check(int(code[2]) >= archive["UIDNEXT"], f"COPYUID {code}: destination below UIDNEXT {archive['UIDNEXT']}")
            copies = folder_messages(server, ".Archive")
            check(list(copies) == [ids[0]], f".Archive holds {describe_folder(copies)}, expected {ids[0]}")
            check(copies[ids[0]][2] == delivered[ids[0]][2], "the copy in .Archive differs from the original")
            check("S" in maildir_flags(copies[ids[0]][1]), f"COPY lost \\Seen: .Archive/{copies[ids[0]][1]}")
            check(status_of(imap, "Archive")["MESSAGES"] == 1, "STATUS Archive does not count the copy")

            # UID MOVE to Trash: COPYUID, EXPUNGE of the source.
            imap.untagged_responses.pop("EXPUNGE", None)
            imap.untagged_responses.pop("COPYUID", None)
            typ, data = imap._simple_command("UID", "MOVE", str(uids[2]), "Trash")
            check(typ == "OK", f"UID MOVE {uids[2]} Trash answered {typ} {data}")
            expunged = imap.untagged_responses.pop("EXPUNGE", [])
            code = imap.untagged_responses.pop("COPYUID", [None])[0]
            code = text(code).split() if code else response_code(data, "COPYUID")
            check(expunged == [b"3"], f"UID MOVE: untagged EXPUNGE {expunged}, expected [3]")
            check(code is not None and len(code) == 3 and code[1] == str(uids[2]),
                  f"UID MOVE: COPYUID {code}, expected one for source UID {uids[2]}")
            trash = folder_messages(server, ".Trash")
            check(list(trash) == [ids[2]], f".Trash holds {describe_folder(trash)} after MOVE, expected {ids[2]}")
            check(trash[ids[2]][2] == delivered[ids[2]][2], "the moved message in .Trash differs from the original")
            now = folder_messages(server)
            check(sorted(now, key=str) == sorted(ids[:2], key=str), f"after MOVE INBOX holds {describe_folder(now)}")

            # EXPUNGE.
            ok(imap.store("1", "+FLAGS", "\\Deleted"), "STORE 1 +FLAGS \\Deleted")
            check("T" in maildir_flags(folder_messages(server)[ids[0]][1]), "\\Deleted is not T in the file name")
            data = ok(imap.expunge(), "EXPUNGE")
            check(data == [b"1"], f"EXPUNGE reported {data}, expected [1]")
            now = folder_messages(server)
            check(list(now) == [ids[1]], f"after EXPUNGE INBOX holds {describe_folder(now)}, expected {ids[1]}")
            listing = fetch_items(imap, "1:*", "(UID FLAGS)")
            check(list(listing) == [1] and listing[1]["UID"] == uids[1],
                  f"after EXPUNGE FETCH 1:* shows {listing}, expected message 1 with UID {uids[1]}")

            # APPEND with flags and a date: APPENDUID, the file in .Sent/cur.
            sent_status = status_of(imap, "Sent")
            appended_id, appended = make_message("appended", sender=ALICE, to="carol@remote.test")
            data = ok(imap.append("Sent", "(\\Seen \\Answered)", '"05-Mar-2026 10:20:30 +0900"', appended),
                      "APPEND Sent")
            code = response_code(data, "APPENDUID")
            check(code is not None and len(code) == 2 and int(code[0]) == sent_status["UIDVALIDITY"]
                  and int(code[1]) >= sent_status["UIDNEXT"], f"APPEND answered {data}, expected [APPENDUID "
                  f"{sent_status['UIDVALIDITY']} n≥{sent_status['UIDNEXT']}]")
            files = folder_messages(server, ".Sent")
            check(list(files) == [appended_id], f".Sent holds {describe_folder(files)}, expected {appended_id}")
            sub, name, raw = files[appended_id]
            check(sub == "cur" and maildir_flags(name) == "RS", f"the appended file is {sub}/{name}, expected "
                  "cur/…:2,RS")
            check(raw == appended, f"the appended file differs from the message: {first_difference(raw, appended)}")
            check(status_of(imap, "Sent") == {"MESSAGES": 1, "UIDNEXT": int(code[1]) + 1,
                                              "UIDVALIDITY": sent_status["UIDVALIDITY"], "UNSEEN": 0},
                  f"STATUS Sent after APPEND is {status_of(imap, 'Sent')}")
            ok(imap.select("Sent"), "SELECT Sent")
            item = fetch_items(imap, "1", "(UID FLAGS INTERNALDATE RFC822.SIZE)")[1]
            check(item["UID"] == int(code[1]) and {"\\Seen", "\\Answered"} <= item["FLAGS"]
                  and item["RFC822.SIZE"] == len(appended), f"FETCH in Sent: {item}")
            when = datetime.datetime.strptime(item["INTERNALDATE"], "%d-%b-%Y %H:%M:%S %z")
            wanted = datetime.datetime(2026, 3, 5, 10, 20, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
            check(when == wanted, f"INTERNALDATE is {item['INTERNALDATE']!r}, expected 05-Mar-2026 10:20:30 +0900")
            ok(imap.unselect(), "UNSELECT")

            # CREATE, RENAME, DELETE of nested mailboxes.
            ok(imap.create("Projects/2026"), "CREATE Projects/2026")
            directories = folder_directories(server)
            check(".Projects.2026" in directories and ".Projects" in directories,
                  f"after CREATE Projects/2026 the folders are {directories}")
            listed = parse_list(ok(imap.list('""', "Projects*"), "LIST Projects*"), "LIST Projects*")
            check(set(listed) == {"Projects", "Projects/2026"} and "\\HasChildren" in listed["Projects"]
                  and "\\HasNoChildren" in listed["Projects/2026"], f'LIST "" Projects* shows {listed}')
            listed = parse_list(ok(imap.list('""', "%"), "LIST %"), "LIST %")
            check("Projects" in listed and "Projects/2026" not in listed, f'LIST "" % shows {sorted(listed)}')
            refused(lambda: imap.create("Projects/2026"), "CREATE of an existing mailbox", ("NO",))
            refused(lambda: imap.delete("Projects"), "DELETE of a mailbox with children", ("NO",))
            ok(imap.append("Projects/2026", None, None, make_message("project")[1]), "APPEND Projects/2026")
            ok(imap.rename("Projects", "Work"), "RENAME Projects Work")
            directories = folder_directories(server)
            check(".Work" in directories and ".Work.2026" in directories
                  and not any(d.startswith(".Projects") for d in directories),
                  f"after RENAME Projects Work the folders are {directories}")
            check(len(folder_messages(server, ".Work.2026")) == 1, "the message in Projects/2026 did not move along")
            ok(imap.rename("Work/2026", "Work/2027"), "RENAME Work/2026 Work/2027")
            check(".Work.2027" in folder_directories(server) and ".Work.2026" not in folder_directories(server),
                  f"after RENAME Work/2026 Work/2027 the folders are {folder_directories(server)}")
            ok(imap.delete("Work/2027"), "DELETE Work/2027")
            ok(imap.delete("Work"), "DELETE Work")
            directories = folder_directories(server)
            check(not any(d.startswith(".Work") for d in directories), f"after DELETE the folders are {directories}")
            refused(lambda: imap.select("Work"), "SELECT of a deleted mailbox", ("NO",))
            typ, data = imap.append("NoSuchBox", None, None, appended)
            check(typ == "NO" and b"[TRYCREATE]" in data[0], f"APPEND to a missing mailbox answered {typ} {data}")
            refused(lambda: imap.delete("INBOX"), "DELETE INBOX", ("NO",))

            # A non-ASCII name in modified UTF-7.
            ok(imap.create(JAPANESE_UTF7), f"CREATE {JAPANESE_UTF7}")
            check("." + JAPANESE_UTF7 in folder_directories(server),
                  f"CREATE {JAPANESE_UTF7} made the folders {folder_directories(server)}, expected .{JAPANESE_UTF7}")
            listed = parse_list(ok(imap.list('""', "*"), "LIST"), "LIST")
            check(JAPANESE_UTF7 in listed, f"LIST shows {sorted(listed)}, expected {JAPANESE_UTF7}")
            ok(imap.append(JAPANESE_UTF7, None, None, make_message("nihongo")[1]), f"APPEND {JAPANESE_UTF7}")
            status = status_of(imap, JAPANESE_UTF7)
            check(status["MESSAGES"] == 1 and status["UNSEEN"] == 1, f"STATUS {JAPANESE_UTF7}: {status}")
            status = status_of(imap, "INBOX", "(MESSAGES UNSEEN SIZE)")
            check(status == {"MESSAGES": 1, "UNSEEN": 1, "SIZE": len(delivered[ids[1]][2])},
                  f"STATUS INBOX (MESSAGES UNSEEN SIZE) is {status}")
            ok(imap.noop(), "NOOP")
        except BaseException:
            close_quietly(imap)
            raise
        logout(imap, "imap+starttls")

        # 2. imaps: the same account as another client sees it.
        imap = connect(server, "imaps")
        try:
            before = {c.upper() for c in imap.capabilities}
            expect_capabilities(before, ALWAYS + ("AUTH=PLAIN", "AUTH=LOGIN"), ("STARTTLS", "LOGINDISABLED"),
                                "imaps before login")
            try:
                imap.login(ALICE, "wrong password")
                raise Failure("imaps: LOGIN with a wrong password succeeded")
            except imaplib.IMAP4.error as error:
                check("AUTHENTICATIONFAILED" in str(error), f"wrong password answered {error}")
            ok(imap.login(ALICE, PASSWORD), "imaps LOGIN")
            data = ok(imap.select("INBOX", readonly=True), "EXAMINE INBOX")
            check(data == [b"1"], f"EXAMINE INBOX: EXISTS {data}, expected 1")
            item = fetch_items(imap, "1", "(UID FLAGS)")[1]
            check(item["UID"] == uids[1] and {"\\Flagged", "$Work"} <= item["FLAGS"],
                  f"imaps: message 1 is {item}, expected UID {uids[1]} with \\Flagged $Work")
            typ, data = imap.store("1", "+FLAGS", "\\Seen")
            check(typ == "NO", f"STORE in an EXAMINEd mailbox answered {typ} {data}, expected NO")
            ok(imap.unselect(), "UNSELECT")
            ok(imap.enable("UTF8=ACCEPT"), "ENABLE UTF8=ACCEPT")
            listed = parse_list(ok(imap.list('""', "*"), "LIST after ENABLE UTF8=ACCEPT"), "LIST")
            check(JAPANESE in listed and JAPANESE_UTF7 not in listed,
                  f"after ENABLE UTF8=ACCEPT LIST shows {sorted(listed)}, expected {JAPANESE!r}")
            status = status_of(imap, f'"{JAPANESE}"', "(MESSAGES)")
            check(status == {"MESSAGES": 1}, f"STATUS {JAPANESE} (UTF-8) is {status}")
        except BaseException:
            close_quietly(imap)
            raise
        logout(imap, "imaps")


def imap_idle():
    with mail_server() as server:
        deliver(server, [("before", 0)])
        raw = RawIMAP(server, "imaps", timeout=10)
        other = None
        try:
            raw.login()
            untagged, _ = raw.expect("S1", "SELECT INBOX")
            check(b"* 1 EXISTS" in untagged, f"SELECT INBOX: {untagged}")
            raw.send("I1 IDLE\r\n")
            line = raw.line("the IDLE continuation")
            check(line.startswith(b"+ "), f"IDLE answered {line!r}, expected '+ idling'")
            time.sleep(0.2)
            check(raw.client.drain(0.1) == b"", "IDLE sent something before anything changed")

            # A delivery over SMTP, from another connection, wakes the IDLE.
            started = time.monotonic()
            deliver(server, [("during idle", 0)])
            seen = []
            while b"* 2 EXISTS" not in seen:
                try:
                    seen.append(raw.line("* 2 EXISTS while idling"))
                except socket.timeout:
                    raise Failure(f"no '* 2 EXISTS' within 10 s of a delivery during IDLE; got {seen}")
            delivery_latency = time.monotonic() - started

            # An APPEND by another IMAP session wakes it too.
            other = login(server, "imaps")
            started = time.monotonic()
            ok(other.append("INBOX", None, None, make_message("appended during idle")[1]),
               "APPEND by the other session")
            while b"* 3 EXISTS" not in seen:
                try:
                    seen.append(raw.line("* 3 EXISTS while idling"))
                except socket.timeout:
                    raise Failure(f"no '* 3 EXISTS' within 10 s of another session's APPEND during IDLE; got {seen}")
            append_latency = time.monotonic() - started

            # And another session's EXPUNGE.
            ok(other.select("INBOX"), "SELECT INBOX (other session)")
            ok(other.store("1", "+FLAGS", "\\Deleted"), "STORE \\Deleted (other session)")
            ok(other.expunge(), "EXPUNGE (other session)")
            while b"* 1 EXPUNGE" not in seen:
                try:
                    seen.append(raw.line("* 1 EXPUNGE while idling"))
                except socket.timeout:
                    raise Failure(f"no '* 1 EXPUNGE' within 10 s of another session's EXPUNGE during IDLE; got {seen}")
            logout(other, "the other session")
            other = None

            raw.send("DONE\r\n")
            untagged, tagged = raw.until_tagged("I1", "DONE")
            check(tagged.startswith(b"I1 OK"), f"DONE answered {tagged!r}")
            untagged, _ = raw.expect("F1", "FETCH 1:* (UID)")
            check(len(untagged) == 2, f"after IDLE FETCH 1:* shows {untagged}, expected 2 messages")
            # IDLE again, DONE at once; then a line other than DONE ends IDLE with BAD.
            raw.send("I2 IDLE\r\n")
            check(raw.line("the second IDLE").startswith(b"+ "), "the second IDLE got no continuation")
            raw.send("DONE\r\n")
            _, tagged = raw.until_tagged("I2", "DONE")
            check(tagged.startswith(b"I2 OK"), f"the second DONE answered {tagged!r}")
            raw.send("I3 IDLE\r\n")
            check(raw.line("the third IDLE").startswith(b"+ "), "the third IDLE got no continuation")
            raw.send("X1 NOOP\r\n")
            _, tagged = raw.until_tagged("I3", "a NOOP instead of DONE")
            check(tagged.startswith(b"I3 BAD"), f"a NOOP instead of DONE answered {tagged!r}, expected I3 BAD")
            raw.expect("N1", "NOOP")
            # That BAD ended the IDLE (RFC 2177): no more updates without a command, and
            # never an EXPUNGE (RFC 9051 §7.5.1, RFC 3501 §7.4.1: not when no command is
            # in progress).
            other = login(server, "imaps")
            ok(other.select("INBOX"), "SELECT INBOX (other session)")
            ok(other.store("1", "+FLAGS", "\\Deleted"), "STORE \\Deleted (other session)")
            ok(other.expunge(), "EXPUNGE (other session)")
            logout(other, "the other session")
            other = None
            unsolicited = raw.client.drain(1.5)
            check(b"EXPUNGE" not in unsolicited,
                  "after 'I3 IDLE' was ended by a line other than DONE ('I3 BAD'), the server went on sending "
                  f"updates as if idling, with no command in progress: {unsolicited!r}")
            untagged, _ = raw.expect("N2", "NOOP")
            check(b"* 1 EXPUNGE" in untagged, f"NOOP after another session's EXPUNGE reported {untagged}")
            raw.expect("L9", "LOGOUT")
        finally:
            raw.close()
            if other is not None:
                close_quietly(other)
        return f"EXISTS {delivery_latency:.2f} s after a delivery, {append_latency:.2f} s after an APPEND"


def imap_literals():
    limit = 200_000
    with mail_server(extra_config=f"[smtp]\nmax_message_size = {limit}") as server:
        raw = RawIMAP(server, "imaps")
        appended = {}
        try:
            untagged, tagged = raw.expect("C1", "CAPABILITY")
            check(b"LITERAL-" in untagged[0], f"CAPABILITY lacks LITERAL-: {untagged}")
            raw.login()
            untagged, _ = raw.expect("C2", "CAPABILITY")
            check(f"APPENDLIMIT={limit}".encode() in untagged[0], f"CAPABILITY lacks APPENDLIMIT={limit}: {untagged}")

            # A synchronising literal: "+" first, then the data.
            message_id, message = make_message("sync")
            raw.send(f"A1 APPEND INBOX (\\Seen) {{{len(message)}}}\r\n")
            line = raw.line("the continuation request")
            check(line.startswith(b"+"), f"APPEND with {{{len(message)}}} answered {line!r}, expected '+ …'")
            raw.send(message + b"\r\n")
            _, tagged = raw.until_tagged("A1", "APPEND with a synchronising literal")
            check(tagged.startswith(b"A1 OK [APPENDUID "), f"APPEND (sync literal) answered {tagged!r}")
            appended[message_id] = message

            # A non-synchronising literal (LITERAL-, at most 4096): no "+".
            message_id, message = make_message("nonsync")
            check(len(message) <= 4096, "the test message is too big for LITERAL-")
            raw.send(f"A2 APPEND INBOX {{{len(message)}+}}\r\n".encode() + message + b"\r\n")
            untagged, tagged = raw.until_tagged("A2", "APPEND with {n+}")
            check(tagged.startswith(b"A2 OK [APPENDUID "), f"APPEND {{n+}} answered {tagged!r} after {untagged}")
            check(not any(line.startswith(b"+") for line in untagged), f"APPEND {{n+}} got a continuation: {untagged}")
            appended[message_id] = message

            # {n+} over 4096: BAD [TOOBIG], the data is skipped, the connection goes on.
            _, big = make_message("big nonsync", filler_lines=60)
            check(4096 < len(big) < limit, "the test message is not between 4096 and the limit")
            raw.send(f"A3 APPEND INBOX {{{len(big)}+}}\r\n".encode() + big + b"\r\n")
            untagged, tagged = raw.until_tagged("A3", "APPEND with {5000+}")
            check(tagged.startswith(b"A3 BAD [TOOBIG]") or tagged.startswith(b"A3 NO [TOOBIG]"),
                  f"APPEND {{{len(big)}+}} (over LITERAL-'s 4096) answered {tagged!r}, expected BAD [TOOBIG]")
            raw.expect("N1", "NOOP", what="NOOP after a refused {n+}")

            # Over APPENDLIMIT: NO [TOOBIG] instead of "+"; nothing sent, nothing stored.
            raw.send(f"A4 APPEND INBOX {{{limit + 1}}}\r\n")
            line = raw.response("the reply to an APPEND over APPENDLIMIT")
            check(line.startswith(b"A4 NO [TOOBIG]"), f"APPEND {{{limit + 1}}} answered {line!r}, expected "
                  "A4 NO [TOOBIG] (and no '+')")
            raw.expect("N2", "NOOP", what="NOOP after an APPEND over the limit")
            for tag, size in (("A5", "99999999999"), ("A6", "18446744073709551616"), ("A7", "9" * 40)):
                raw.send(f"{tag} APPEND INBOX {{{size}}}\r\n")
                line = raw.response(f"the reply to APPEND {{{size}}}")
                check(line.startswith(f"{tag} NO".encode()) or line.startswith(f"{tag} BAD".encode()),
                      f"APPEND INBOX {{{size}}} answered {line!r}, expected NO [TOOBIG] or BAD")
                raw.expect("N" + tag, "NOOP", what=f"NOOP after APPEND {{{size}}}")
            raw.send("A8 LOGIN {99999999999}\r\n")
            line = raw.response("the reply to LOGIN {99999999999}")
            check(line.startswith(b"A8 BAD") or line.startswith(b"A8 NO"), f"LOGIN {{99999999999}} answered {line!r}")

            # A small literal still works, also inside other commands.
            message_id, message = make_message("after refusals")
            raw.send(f"A9 APPEND INBOX {{{len(message)}+}}\r\n".encode() + message + b"\r\n")
            _, tagged = raw.until_tagged("A9", "a small {n+} after the refusals")
            check(tagged.startswith(b"A9 OK"), f"a small APPEND {{n+}} after the refusals answered {tagged!r}")
            appended[message_id] = message
            raw.expect("S1", "SELECT INBOX")
            raw.send("S2 SEARCH SUBJECT {6}\r\n")
            check(raw.line("the continuation for a SEARCH literal").startswith(b"+"), "no '+' for a SEARCH literal")
            raw.send("nonsyn\r\n")
            untagged, tagged = raw.until_tagged("S2", "SEARCH SUBJECT {6}")
            check(tagged.startswith(b"S2 OK") and untagged == [b"* SEARCH 2"],
                  f"SEARCH SUBJECT {{6}} nonsyn answered {untagged} {tagged!r}, expected * SEARCH 2")
            raw.send(b"S3 SEARCH SUBJECT {5+}\r\nafter\r\n")
            untagged, tagged = raw.until_tagged("S3", "SEARCH SUBJECT {5+}")
            check(tagged.startswith(b"S3 OK") and untagged == [b"* SEARCH 3"],
                  f"SEARCH SUBJECT {{5+}} after answered {untagged} {tagged!r}, expected * SEARCH 3")

            # {99999999999+}: the data would follow at once; too much to skip: * BYE, close.
            raw.send("A10 APPEND INBOX {99999999999+}\r\n")
            line = raw.response("the reply to APPEND {99999999999+}")
            check(line.startswith(b"* BYE") or line.startswith(b"A10 BAD") or line.startswith(b"A10 NO"),
                  f"APPEND {{99999999999+}} answered {line!r}, expected * BYE")
            if line.startswith(b"* BYE"):
                check(raw.eof(5.0), "the connection stayed open after * BYE")
        finally:
            raw.close()
        check(server.alive(), f"the server died; log: {server.log_tail()}")
        files = folder_messages(server)
        check(sorted(files, key=str) == sorted(appended, key=str),
              f"INBOX holds {describe_folder(files)}, expected exactly the 3 accepted APPENDs {list(appended)}")
        for message_id, message in appended.items():
            check(files[message_id][2] == message, f"{message_id} is stored differently: "
                  f"{first_difference(files[message_id][2], message)}")
        # The server still serves new connections.
        imap = login(server, "imaps")
        try:
            data = ok(imap.select("INBOX"), "SELECT INBOX after the literal tests")
            check(data == [b"3"], f"SELECT INBOX: EXISTS {data}, expected 3")
        finally:
            logout(imap, "after the literal tests")


def noop_updates(imap, what):
    """NOOP; returns the untagged EXISTS, EXPUNGE and FETCH data it brought (imaplib keeps
    SELECT's EXISTS around, so they are cleared first)."""
    for name in ("EXISTS", "EXPUNGE", "FETCH", "RECENT"):
        imap.untagged_responses.pop(name, None)
    ok(imap.noop(), what)
    return {name: imap.untagged_responses.pop(name, []) for name in ("EXISTS", "EXPUNGE", "FETCH")}


def imap_two_sessions():
    with mail_server() as server:
        deliver(server, [("first", 0)])
        a = login(server, "imaps")
        b = login(server, "imap+starttls")
        try:
            check(ok(a.select("INBOX"), "A: SELECT INBOX") == [b"1"], "A does not see 1 message")
            check(ok(b.select("INBOX"), "B: SELECT INBOX") == [b"1"], "B does not see 1 message")
            # A appends; B learns at NOOP.
            message_id, message = make_message("from A")
            data = ok(a.append("INBOX", None, None, message), "A: APPEND INBOX")
            uid = int(response_code(data, "APPENDUID")[1])
            exists = noop_updates(b, "B: NOOP")["EXISTS"]
            check(exists == [b"2"], f"after A's APPEND, B's NOOP reported EXISTS {exists}, expected [2]")
            item = fetch_items(b, "2", "(UID BODY.PEEK[])")[2]
            check(item["UID"] == uid and item["literals"] == [message],
                  f"B: message 2 is UID {item.get('UID')}, expected the one A appended (UID {uid})")
            # A changes a flag; B sees it at NOOP.
            ok(a.store("1", "+FLAGS", "\\Flagged"), "A: STORE 1 +FLAGS \\Flagged")
            changed = noop_updates(b, "B: NOOP")["FETCH"]
            check(any(c.startswith(b"1 (") and b"\\Flagged" in c for c in changed),
                  f"after A's STORE, B's NOOP reported {changed}, expected 1 FETCH (FLAGS (\\Flagged …))")
            # A expunges message 1: not during B's FETCH, at B's NOOP.
            ok(a.store("1", "+FLAGS", "\\Deleted"), "A: STORE 1 +FLAGS \\Deleted")
            ok(a.expunge(), "A: EXPUNGE")
            b.untagged_responses.pop("EXPUNGE", None)
            b.fetch("2", "(UID)")
            during = b.untagged_responses.pop("EXPUNGE", [])
            check(during == [], f"B got EXPUNGE {during} during FETCH (RFC 9051 §7.5.1 forbids it)")
            expunged = noop_updates(b, "B: NOOP")["EXPUNGE"] + during
            check(expunged == [b"1"], f"after A's EXPUNGE, B's NOOP reported EXPUNGE {expunged}, expected [1]")
            listing = fetch_items(b, "1:*", "(UID)")
            check(list(listing) == [1] and listing[1]["UID"] == uid,
                  f"B: after the EXPUNGE FETCH 1:* shows {listing}, expected message 1 = UID {uid}")
            files = folder_messages(server)
            check(list(files) == [message_id], f"INBOX holds {describe_folder(files)}, expected {message_id}")
        finally:
            for imap, what in ((a, "A"), (b, "B")):
                try:
                    logout(imap, what)
                except (imaplib.IMAP4.error, OSError):
                    close_quietly(imap)


def curl_imap(*args, timeout=30, check_exit=True):
    result = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args],
                            capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check_exit and result.returncode != 0:
        raise Failure(f"curl {' '.join(args)} exited {result.returncode}: "
                      f"{result.stderr.decode('utf-8', 'replace').strip()}")
    return result


def imap_curl():
    require_curl("imap", "imaps")
    with mail_server() as server:
        sent = deliver(server, [("one", 0), ("two", 0)])
        files = folder_messages(server)
        imap = login(server, "imaps")
        try:
            ok(imap.select("INBOX", readonly=True), "EXAMINE INBOX")
            listing = fetch_items(imap, "1:*", "(UID)")
            uids = [listing[n]["UID"] for n in sorted(listing)]
        finally:
            logout(imap, "imaplib")
        credentials = ["--user", f"{ALICE}:{PASSWORD}"]
        secure = f"imaps://{HOST}:{server.ports['imaps']}"
        plain = f"imap://{HOST}:{server.ports['imap']}"

        message = curl_imap("--insecure", *credentials, f"{secure}/INBOX;UID={uids[0]}").stdout
        check(message == files[sent[0][0]][2], f"curl imaps INBOX;UID={uids[0]} differs from the file: "
              f"{first_difference(message, files[sent[0][0]][2])}")
        message = curl_imap("--insecure", "--ssl-reqd", "--login-options", "AUTH=LOGIN", *credentials,
                            f"{plain}/INBOX;UID={uids[1]}").stdout
        check(message == files[sent[1][0]][2], f"curl imap (STARTTLS, AUTH=LOGIN) INBOX;UID={uids[1]} differs "
              f"from the file: {first_difference(message, files[sent[1][0]][2])}")
        listed = curl_imap("--insecure", "--ssl-reqd", *credentials, f"{plain}/").stdout.decode("utf-8", "replace")
        for name in ("INBOX", *SPECIAL_USE):
            check(re.search(rf'^\* LIST \([^)]*\) "/" "?{name}"?\r?$', listed, re.MULTILINE),
                  f"curl imap --ssl-reqd / lists no {name}: {listed!r}")
        examined = curl_imap("--insecure", *credentials, "--request", "EXAMINE INBOX", f"{secure}/").stdout
        examined = examined.decode("utf-8", "replace")
        check("* 2 EXISTS" in examined and "UIDVALIDITY" in examined,
              f"curl -X 'EXAMINE INBOX' printed {examined!r}, expected '* 2 EXISTS' and UIDVALIDITY")
        found = curl_imap("--insecure", *credentials, f"{secure}/INBOX?SUBJECT%20two").stdout
        check(found.strip() == b"* SEARCH 2", f"curl INBOX?SUBJECT two printed {found!r}, expected '* SEARCH 2'")

        # Upload (APPEND) to Sent.
        upload_id, upload = make_message("curl upload", sender=ALICE)
        path = os.path.join(server.directory, "upload.eml")
        with open(path, "wb") as f:
            f.write(upload)
        curl_imap("--insecure", *credentials, "--upload-file", path, f"{secure}/Sent")
        sent_files = folder_messages(server, ".Sent")
        check(list(sent_files) == [upload_id], f"after curl --upload-file .Sent holds {describe_folder(sent_files)}")
        check(sent_files[upload_id][2] == upload,
              f"the uploaded message differs: {first_difference(sent_files[upload_id][2], upload)}")

        # No login without TLS: curl without --ssl-reqd logs in in the clear and is refused.
        result = curl_imap(*credentials, f"{plain}/INBOX;UID={uids[0]}", check_exit=False)
        check(result.returncode != 0 and result.stdout == b"",
              f"curl without TLS fetched a message: exit {result.returncode}, {result.stdout[:100]!r}")
        check(server.alive(), f"the server died; log: {server.log_tail()}")


def imap_default_mailboxes():
    """A new account has Drafts, Sent, Trash, Junk and Archive from its first login, not
    only once a LIST made them: a client's first command may be APPEND to Sent."""
    with mail_server() as server:
        imap = login(server, "imaps")
        try:
            message_id, message = make_message("first command", sender=ALICE)
            typ, data = imap.append("Sent", "(\\Seen)", None, message)
            check(typ == "OK" and response_code(data, "APPENDUID") is not None,
                  f"a new account's first command 'APPEND Sent' answered {typ} {data}, expected OK [APPENDUID …] "
                  "(the special-use mailboxes exist only after a LIST?)")
            typ, data = imap.status("Drafts", "(MESSAGES)")
            check(typ == "OK", f"STATUS Drafts before any LIST answered {typ} {data}")
            typ, data = imap.select("Trash")
            check(typ == "OK", f"SELECT Trash before any LIST answered {typ} {data}")
        finally:
            logout(imap, "new account")
        check(list(folder_messages(server, ".Sent")) == [message_id], "the APPEND to Sent is not in .Sent")


def imap_extensions():
    """MULTIAPPEND, ESEARCH, SEARCHRES, BINARY, LIST-STATUS, LIST (SUBSCRIBED),
    UID EXPUNGE, CLOSE and UNSELECT, CREATE-SPECIAL-USE, ENABLE IMAP4rev2."""
    with mail_server() as server:
        sent = deliver(server, [("one", 0), ("two", 0), ("three", 0)])
        raw = RawIMAP(server, "imaps")
        try:
            raw.login()
            raw.expect("L0", 'LIST "" "*"')
            # MULTIAPPEND (RFC 3502): two messages, one APPENDUID with both UIDs.
            first_id, first = make_message("multi one")
            second_id, second = make_message("multi two")
            raw.send(f"M1 APPEND Drafts (\\Draft) {{{len(first)}+}}\r\n".encode() + first
                     + f" (\\Seen) {{{len(second)}+}}\r\n".encode() + second + b"\r\n")
            _, tagged = raw.until_tagged("M1", "MULTIAPPEND")
            match = re.match(rb"M1 OK \[APPENDUID (\d+) (\S+)\]", tagged)
            check(match is not None, f"MULTIAPPEND answered {tagged!r}, expected OK [APPENDUID v a:b]")
            drafts = folder_messages(server, ".Drafts")
            check(sorted(drafts, key=str) == sorted([first_id, second_id], key=str),
                  f"after MULTIAPPEND .Drafts holds {describe_folder(drafts)}")
            check(maildir_flags(drafts[first_id][1]) == "D" and maildir_flags(drafts[second_id][1]) == "S",
                  f"MULTIAPPEND flags: {describe_folder(drafts)}, expected :2,D and :2,S")
            uids = match.group(2).decode()
            check(re.fullmatch(r"\d+:\d+|\d+,\d+", uids), f"APPENDUID of two messages is {uids!r}")

            # ENABLE IMAP4rev2: SELECT without RECENT, with a LIST response.
            untagged, _ = raw.expect("E1", "ENABLE IMAP4rev2")
            check(untagged == [b"* ENABLED IMAP4rev2"], f"ENABLE IMAP4rev2 answered {untagged}")
            untagged, _ = raw.expect("S1", "SELECT INBOX")
            check(b"* 3 EXISTS" in untagged and not any(b"RECENT" in line for line in untagged),
                  f"SELECT (IMAP4rev2) answered {untagged}, expected 3 EXISTS and no RECENT")
            check(any(line.startswith(b"* LIST (") and line.endswith(b"INBOX") for line in untagged),
                  f"SELECT (IMAP4rev2) sent no LIST response: {untagged}")

            # ESEARCH (RFC 4731), SEARCHRES (RFC 5182).
            untagged, _ = raw.expect("X1", "SEARCH RETURN (MIN MAX COUNT ALL) 1:*")
            check(untagged == [b'* ESEARCH (TAG "X1") MIN 1 MAX 3 ALL 1:3 COUNT 3'], f"ESEARCH answered {untagged}")
            untagged, _ = raw.expect("X2", "UID FETCH 1:* (UID)")
            uid_of = {int(m.group(1)): int(m.group(2)) for m in (re.match(rb"\* (\d+) FETCH \(UID (\d+)\)", line)
                                                                  for line in untagged) if m}
            untagged, _ = raw.expect("X3", "UID SEARCH RETURN () SUBJECT t")
            wanted = f'* ESEARCH (TAG "X3") UID ALL {uid_of[2]}:{uid_of[3]}'.encode()
            check(untagged == [wanted], f"UID SEARCH RETURN () SUBJECT t answered {untagged}, expected {wanted!r}")
            untagged, _ = raw.expect("X4", "SEARCH RETURN (SAVE) SUBJECT two")
            check(untagged == [], f"SEARCH RETURN (SAVE) answered {untagged}, expected no ESEARCH (RFC 5182 §2.1)")
            untagged, _ = raw.expect("X5", "FETCH $ (UID)")
            check(untagged == [f"* 2 FETCH (UID {uid_of[2]})".encode()], f"FETCH $ answered {untagged}")

            # BINARY (RFC 3516): the decoded body part and its size.
            untagged, _ = raw.expect("B1", "FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1])")
            body = sent[0][1].split(b"\r\n\r\n", 1)[1]
            wanted = b"* 1 FETCH (BINARY[1] {%d}\r\n" % len(body) + body + b" BINARY.SIZE[1] %d)" % len(body)
            check(untagged == [wanted],
                  f"FETCH 1 (BINARY.PEEK[1] BINARY.SIZE[1]) answered {untagged}, expected {wanted!r}")

            # LIST-STATUS (RFC 5819), LIST (SUBSCRIBED).
            untagged, _ = raw.expect("T1", 'LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN))')
            statuses = [line for line in untagged if line.startswith(b"* STATUS ")]
            check(b"* STATUS INBOX (MESSAGES 3 UNSEEN 3)" in statuses and b"* STATUS Drafts (MESSAGES 2 UNSEEN 1)"
                  in statuses and len(statuses) == 6, f"LIST RETURN (STATUS …) answered {untagged}")
            untagged, _ = raw.expect("T2", 'LIST (SUBSCRIBED) "" "*"')
            check(len(untagged) == 6 and all(b"\\Subscribed" in line for line in untagged),
                  f"LIST (SUBSCRIBED) answered {untagged}")

            # UID EXPUNGE (RFC 4315) removes only the UIDs named; UNSELECT does not expunge; CLOSE does, silently.
            raw.expect("D1", "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
            untagged, _ = raw.expect("D2", f"UID EXPUNGE {uid_of[1]}")
            check(b"* 1 EXPUNGE" in untagged and not any(line.endswith(b" EXPUNGE") and line != b"* 1 EXPUNGE"
                                                          for line in untagged), f"UID EXPUNGE answered {untagged}")
            files = folder_messages(server)
            check(sorted(files, key=str) == sorted([sent[1][0], sent[2][0]], key=str),
                  f"after UID EXPUNGE {uid_of[1]} INBOX holds {describe_folder(files)}")
            raw.expect("D3", "UNSELECT")
            check(len(folder_messages(server)) == 2, "UNSELECT expunged a \\Deleted message")
            raw.expect("D4", "SELECT INBOX")
            untagged, _ = raw.expect("D5", "CLOSE")
            check(not any(b"EXPUNGE" in line for line in untagged), f"CLOSE sent {untagged} (must be silent)")
            check(list(folder_messages(server)) == [sent[2][0]], f"after CLOSE INBOX holds "
                  f"{describe_folder(folder_messages(server))}, expected only {sent[2][0]}")

            # CREATE-SPECIAL-USE (RFC 6154).
            raw.expect("C1", "CREATE Later (USE (\\Archive))")
            untagged, _ = raw.expect("C2", 'LIST "" Later')
            check(untagged == [b'* LIST (\\HasNoChildren \\Archive) "/" Later'], f"LIST Later answered {untagged}")
            raw.expect("C3", "CREATE Odd (USE (\\Nonsense))", "NO")
            raw.expect("Q1", "LOGOUT")
        finally:
            raw.close()


def imap_large_fetch():
    """A 3 MB message among small ones: FETCH 1:* BODY.PEEK[] goes out in batches and
    arrives byte-exact; partial fetches (RFC 9051 §6.4.5 <start.count>) cut it right."""
    with mail_server() as server:
        sent = deliver(server, [("small", 0), ("big", 40000), ("other", 0)])
        files = folder_messages(server)
        big = files[sent[1][0]][2]
        check(len(big) > 3_000_000, f"the big message is only {len(big)} octets")
        imap = login(server, "imaps")
        try:
            ok(imap.select("INBOX"), "SELECT INBOX")
            started = time.monotonic()
            items = fetch_items(imap, "1:*", "(RFC822.SIZE BODY.PEEK[])")
            elapsed = time.monotonic() - started
            for index, (message_id, _) in enumerate(sent):
                item = items[index + 1]
                check(item["literals"] == [files[message_id][2]], f"FETCH 1:* BODY.PEEK[]: message {index + 1} "
                      f"differs from its file: {first_difference(item['literals'][0], files[message_id][2])}")
                check(item["RFC822.SIZE"] == len(files[message_id][2]), f"message {index + 1}: RFC822.SIZE "
                      f"{item['RFC822.SIZE']}, the file has {len(files[message_id][2])}")
            text_part = big.split(b"\r\n\r\n", 1)[1]
            for spec, wanted in [("BODY.PEEK[]<1000.5000>", big[1000:6000]),
                                 ("BODY.PEEK[]<3000000.99999999>", big[3000000:]),
                                 (f"BODY.PEEK[]<{len(big) + 10}.5>", b""),
                                 ("BODY.PEEK[TEXT]<0.10>", text_part[:10]),
                                 ("BINARY.PEEK[]<5.5>", big[5:10])]:
                got = fetch_items(imap, "2", f"({spec})")[2]["literals"]
                got = got[0] if got else b""  # an empty result may come as "" rather than {0}
                check(got == wanted, f"FETCH 2 {spec} gave {len(got)} octets {got[:40]!r}…, expected {len(wanted)} "
                      f"{wanted[:40]!r}…")
            flags = fetch_items(imap, "2", "(FLAGS)")[2]["FLAGS"]
            check("\\Seen" not in flags, f"BODY.PEEK / BINARY.PEEK set \\Seen: {flags}")
        finally:
            logout(imap, "imaps")
        return f"{len(big)} + 2 small messages in {elapsed:.2f} s"


# MARK: - mbsync


def mbsync_version():
    """(major, minor) of the installed mbsync; Skip when there is none."""
    if shutil.which("mbsync") is None:
        raise Skip("mbsync is not installed (Debian package isync)")
    version_text = subprocess.run(["mbsync", "--version"], capture_output=True, text=True).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)", version_text)
    return (int(match.group(1)), int(match.group(2))) if match else (1, 4)


def mbsync_config(server, home, version, starttls=False):
    """An mbsyncrc for alice over imaps (or 143 with STARTTLS), trusting the server's
    own certificate."""
    certificate = os.path.join(server.directory, "tls", "cert.pem")
    if not os.path.exists(certificate):
        pem = ssl.get_server_certificate((HOST, server.ports["imaps"]))
        certificate = os.path.join(home, "server.pem")
        with open(certificate, "w") as f:
            f.write(pem)
    # isync 1.5 renamed SSLType to TLSType (the old name still works, with a warning).
    tls_key = "TLSType" if version >= (1, 5) else "SSLType"
    local = os.path.join(home, "local")
    os.makedirs(local, exist_ok=True)
    path = os.path.join(home, "mbsyncrc")
    with open(path, "w") as f:
        f.write(f"""IMAPAccount tsubame
Host {HOST}
Port {server.ports['imap' if starttls else 'imaps']}
User {ALICE}
Pass "{PASSWORD}"
{tls_key} {'STARTTLS' if starttls else 'IMAPS'}
CertificateFile {certificate}
SystemCertificates no
Timeout 10

IMAPStore remote
Account tsubame

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel tsubame
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
    return path, local


def mbsync_run(rcfile, home, label):
    environment = dict(os.environ, HOME=home)
    result = subprocess.run(["mbsync", "-c", rcfile, "-a"], capture_output=True, text=True, timeout=60,
                            env=environment, stdin=subprocess.DEVNULL, cwd=home)
    output = " | ".join((result.stdout + result.stderr).strip().splitlines()[-12:])
    check(result.returncode == 0, f"mbsync {label} exited {result.returncode}: {output}")
    return output


def local_messages(local, folder="INBOX"):
    """{Message-ID: (subdirectory, file name, bytes)} of mbsync's local Maildir `folder`."""
    result = {}
    for sub in ("new", "cur"):
        path = os.path.join(local, folder, sub)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                raw = f.read()
            message_id = message_id_of(raw)
            check(message_id not in result, f"local {folder}: {message_id} twice: {result.get(message_id)} and {name}")
            result[message_id] = (sub, name, raw)
    return result


def normalized(raw):
    """A message without CR and without the X-TUID: header mbsync may add when it uploads."""
    return re.sub(rb"(?im)^X-TUID: [^\n]*\n", b"", raw.replace(b"\r\n", b"\n"), count=1)


def imap_mbsync():
    version = mbsync_version()
    home = tempfile.mkdtemp(prefix="tsubame-e2e-mbsync-")
    try:
        with mail_server() as server:
            sent = dict(deliver(server, [("one", 0), ("two", 0), ("three", 0)]))
            ids = list(sent)
            rcfile, local = mbsync_config(server, home, version)

            # 1. Pull: the three messages and the special-use mailboxes arrive locally.
            mbsync_run(rcfile, home, "run 1 (pull)")
            here = local_messages(local)
            check(sorted(here, key=str) == sorted(ids, key=str), f"after the first sync local INBOX holds "
                  f"{describe_folder(here)}, expected the 3 delivered")
            server_files = folder_messages(server)
            for message_id in ids:
                check(normalized(here[message_id][2]) == normalized(server_files[message_id][2]),
                      f"local copy of {message_id} differs from the server's file")
            for name in SPECIAL_USE:
                check(os.path.isdir(os.path.join(local, name, "cur")),
                      f"mbsync did not create local {name}: {sorted(os.listdir(local))}")

            # 2. Push: a new local message, a local flag, a new local folder with a message.
            added_id, added = make_message("added locally", sender=ALICE)
            with open(os.path.join(local, "INBOX", "new", f"{int(time.time())}.local1.{HOSTNAME}"), "wb") as f:
                f.write(added.replace(b"\r\n", b"\n"))
            sub, name, _ = here[ids[0]]
            base, _, flags = name.partition(":2,")
            os.rename(os.path.join(local, "INBOX", sub, name),
                      os.path.join(local, "INBOX", "cur", base + ":2," + "".join(sorted(set(flags) | {"F"}))))
            project_id, project = make_message("local project", sender=ALICE)
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(local, "Projects", sub))
            with open(os.path.join(local, "Projects", "cur", f"{int(time.time())}.local2.{HOSTNAME}:2,S"), "wb") as f:
                f.write(project.replace(b"\r\n", b"\n"))
            mbsync_run(rcfile, home, "run 2 (push)")
            server_files = folder_messages(server)
            check(sorted(server_files, key=str) == sorted(ids + [added_id], key=str),
                  f"after pushing, the server's INBOX holds {describe_folder(server_files)}, expected the 3 "
                  f"delivered and {added_id}")
            check(normalized(server_files[added_id][2]) == normalized(added),
                  f"the pushed message differs on the server: {first_difference(server_files[added_id][2], added)}")
            check("F" in maildir_flags(server_files[ids[0]][1]),
                  f"the local \\Flagged did not reach the server: {server_files[ids[0]][1]}")
            projects = folder_messages(server, ".Projects")
            check(list(projects) == [project_id], f"the server's .Projects holds {describe_folder(projects)}, "
                  f"expected {project_id} (Create Both)")
            check("S" in maildir_flags(projects[project_id][1]), f"\\Seen lost on the way: {projects[project_id][1]}")
            imap = login(server, "imaps")
            try:
                ok(imap.select("INBOX"), "SELECT INBOX")
                by_id = {}
                headers = fetch_items(imap, "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                for number, item in headers.items():
                    by_id[message_id_of(item["literals"][0])] = (number, item)
                check(sorted(by_id, key=str) == sorted(ids + [added_id], key=str), f"IMAP shows {list(by_id)}")
                check("\\Flagged" in by_id[ids[0]][1]["FLAGS"], f"IMAP: {ids[0]} is {by_id[ids[0]][1]}, not \\Flagged")
                check("\\Flagged" not in by_id[ids[1]][1]["FLAGS"], f"IMAP: {ids[1]} became \\Flagged")
                # 3. Delete on the server; the next sync removes the local copy.
                ok(imap.store(str(by_id[ids[1]][0]), "+FLAGS", "\\Deleted"), "STORE \\Deleted")
                ok(imap.expunge(), "EXPUNGE")
            finally:
                logout(imap, "imaplib")
            mbsync_run(rcfile, home, "run 3 (server-side delete)")
            here = local_messages(local)
            wanted = sorted([ids[0], ids[2], added_id], key=str)
            check(sorted(here, key=str) == wanted,
                  f"after the server-side delete local INBOX holds {describe_folder(here)}, expected {wanted}")
            check("F" in maildir_flags(here[ids[0]][1]), f"local lost \\Flagged: {here[ids[0]][1]}")
            # 4. Nothing changed: another sync changes nothing, on either side.
            before = (sorted(os.listdir(os.path.join(local, "INBOX", "cur"))), describe_folder(folder_messages(server)))
            mbsync_run(rcfile, home, "run 4 (nothing to do)")
            after = (sorted(os.listdir(os.path.join(local, "INBOX", "cur"))), describe_folder(folder_messages(server)))
            check(before == after and sorted(local_messages(local), key=str) == wanted
                  and sorted(folder_messages(server), key=str) == wanted,
                  f"a sync with nothing to do changed the mailboxes: {before} → {after}")
            check(list(local_messages(local, "Projects")) == [project_id], "local Projects changed")
            check(server.alive(), f"the server died; log: {server.log_tail()}")
        return "isync %d.%d" % version
    finally:
        shutil.rmtree(home, ignore_errors=True)


# MARK: - Hostile input


def imap_mbsync_starttls():
    """mbsync over 143 with STARTTLS (issue #9 asks for both ports): a pull, a local
    message pushed, and a third sync that changes nothing."""
    version = mbsync_version()
    home = tempfile.mkdtemp(prefix="tsubame-e2e-mbsync-")
    try:
        with mail_server() as server:
            sent = dict(deliver(server, [("one", 0), ("two", 0)]))
            rcfile, local = mbsync_config(server, home, version, starttls=True)
            mbsync_run(rcfile, home, "STARTTLS run 1 (pull)")
            here = local_messages(local)
            check(sorted(here, key=str) == sorted(sent, key=str),
                  f"after the first sync over STARTTLS local INBOX holds {describe_folder(here)}")
            added_id, added = make_message("pushed over starttls", sender=ALICE)
            with open(os.path.join(local, "INBOX", "new", f"{int(time.time())}.local3.{HOSTNAME}"), "wb") as f:
                f.write(added.replace(b"\r\n", b"\n"))
            mbsync_run(rcfile, home, "STARTTLS run 2 (push)")
            server_files = folder_messages(server)
            check(added_id in server_files, f"the pushed message is not on the server: {describe_folder(server_files)}")
            before = describe_folder(folder_messages(server))
            mbsync_run(rcfile, home, "STARTTLS run 3 (nothing to do)")
            check(describe_folder(folder_messages(server)) == before, "the third sync changed the server's INBOX")
            check(len(local_messages(local)) == 3, f"local INBOX: {describe_folder(local_messages(local))}")
            return "pull, push and a no-op sync over 143+STARTTLS"
    finally:
        shutil.rmtree(home, ignore_errors=True)


def snapshot_outside(server, local="alice"):
    """Every path under the data directory outside alice's Maildir (without SQLite's
    -wal/-shm/-journal files and the log)."""
    account = account_path(server, local)
    found = set()
    for root, directories, names in os.walk(server.directory):
        if os.path.abspath(root).startswith(os.path.abspath(account)):
            continue
        for name in directories + names:
            path = os.path.join(root, name)
            if os.path.abspath(path) == os.path.abspath(account) or name == "serve.log":
                continue
            if re.search(r"-(wal|shm|journal)$", name):
                continue
            found.add(os.path.relpath(path, server.directory))
    return found


def imap_hostile_input():
    with mail_server() as server:
        deliver(server, [("one", 0), ("two", 0)])
        imap = login(server, "imaps")  # makes the default folders
        ok(imap.list('""', "*"), "LIST")
        logout(imap, "setup")
        outside = snapshot_outside(server)
        folders = folder_directories(server)
        answers = []

        raw = RawIMAP(server, "imaps")
        try:
            # Before login: junk gets BAD, not a crash.
            untagged, tagged = raw.command("*", "LOGIN a b")
            check(tagged.startswith(b"* BAD") or any(line.startswith(b"* BAD") for line in untagged),
                  f"'* LOGIN a b' answered {untagged} {tagged!r}")
            raw.send(b"\xff\xfe\x00garbage\r\n")
            line = raw.line("the reply to binary garbage")
            check(line.startswith(b"* BAD"), f"binary garbage answered {line!r}")
            raw.expect("P1", "SELECT INBOX", "BAD", "SELECT before login")
            raw.login()
            raw.expect("S1", "SELECT INBOX")

            def probe(tag, line, statuses=("BAD", "NO"), what=None):
                what = what or repr(line[:70])
                untagged, tagged = raw.command(tag, line, what)
                status = tagged[len(tag) + 1:].split(b" ", 1)[0].decode("ascii", "replace")
                check(status in statuses, f"{what} answered {tagged[:200]!r}, expected {'/'.join(statuses)}")
                answers.append(status)
                # After each probe the connection must still work (and NOOP resets the error count).
                raw.expect("n" + tag, "NOOP", what=f"NOOP after {what}")
                return untagged, tagged

            probe("h1", b"NO\x00OP", ("BAD",), "NUL in a command")
            probe("h2", b'SELECT "IN\x00BOX"', ("BAD",), "NUL in a quoted string")
            probe("h3", b"NOOP " + b"x" * 9000, ("BAD",), "a 9000-octet line")
            probe("h4", b"FETCH 1 (FLAGS", ("BAD",), "unbalanced '('")
            probe("h5", b"FETCH 1 FLAGS)", ("BAD",), "unbalanced ')'")
            probe("h6", b"SEARCH (OR (FROM a) TO b", ("BAD",), "unbalanced parens in SEARCH")
            probe("h7", b"SEARCH " + b"(" * 1000 + b"ALL" + b")" * 1000, ("BAD", "NO"), "1000 nested parens")
            probe("h8", b"SEARCH " + b"NOT " * 1000 + b"ALL", ("BAD", "NO"), "1000 nested NOTs")
            probe("h9", b"SEARCH " + b"OR ALL " * 1000 + b"ALL", ("BAD", "NO"), "1000 nested ORs")
            probe("h10", b"SEARCH " + b"(" * 1000, ("BAD",), "1000 open parens")
            probe("h11", b"FETCH 1 (" + b"(" * 1000 + b"FLAGS" + b")" * 1001, ("BAD",), "nested FETCH attributes")
            probe("h12", b"FETCH " + b",".join(b"1" for _ in range(1500)) + b" FLAGS", ("BAD",), "1500 ranges")
            probe("h13", b"UID FETCH " + b",".join(b"1:2" for _ in range(1100)) + b" FLAGS", ("BAD",),
                  "1100 UID ranges")
            probe("h13b", b"UID FETCH " + b",".join(b"1:2" for _ in range(900)) + b" FLAGS", ("OK",),
                  "900 UID ranges")
            probe("h14", b"FETCH 0 FLAGS", ("BAD",), "message number 0")
            probe("h15", b"FETCH 4294967296 FLAGS", ("BAD",), "message number 2^32")
            probe("h16", b"FETCH 3 FLAGS", ("BAD", "NO"), "a message number beyond EXISTS")
            probe("h17", b"FETCH 1 BODY.PEEK[" + b".".join(b"1" for _ in range(500)) + b"]", ("OK", "BAD", "NO"),
                  "a 500-level section")
            probe("h18", b"FETCH 1 BODY.PEEK[]<4294967295.4294967295>", ("OK", "BAD", "NO"), "a huge partial")
            probe("h19", b'STORE 1 +FLAGS (\\Recent)', ("BAD", "NO"), "STORE \\Recent")
            for index, name in enumerate([b'"&Jjo!"', b'"&ZeVnLIqe"', b'"&"', b'"a&-&"', b'"&AGE-"']):
                probe(f"u{index}", b"CREATE " + name, ("BAD", "NO") if name != b'"&AGE-"' else ("BAD", "NO", "OK"),
                      f"CREATE {text(name)} (invalid modified UTF-7)")
            for index, line in enumerate([b'SELECT "../../etc"', b'SELECT "../INBOX"', b'CREATE "../../evil"',
                                          b'CREATE "a/../../evil"', b'CREATE "a/./b"', b'CREATE "a//b"',
                                          b'CREATE "~root"', b'CREATE "/etc"', b'RENAME INBOX "../../x"',
                                          b'STATUS "../../etc" (MESSAGES)', b'APPEND "../../etc/passwd" {1+}\r\nx',
                                          b'CREATE "' + b"x" * 300 + b'"',
                                          b'CREATE "' + b"/".join(b"d" for _ in range(40)) + b'"',
                                          b'CREATE "tab\tname"', b'DELETE "../alice"', b'SELECT "%2e%2e/x"']):
                probe(f"p{index}", line, ("BAD", "NO") if b"%2e" not in line else ("BAD", "NO", "OK"),
                      f"path trick {text(line[:60])!r}")
            # A failed SELECT deselects (RFC 9051 §6.3.2): select again for COPY and MOVE.
            raw.expect("S2", "SELECT INBOX")
            probe("b1", b"UID MOVE 1:* INBOX/..", ("NO",), "MOVE to INBOX/..")
            probe("b2", b'COPY 1:* "../../tmp"', ("NO",), "COPY to ../../tmp")
            probe("b3", b'UID COPY 1:* "a/../../../b"', ("NO",), "UID COPY to a/../../../b")
            untagged, _ = raw.expect("b4", "FETCH 1:* (UID)")
            check(len(untagged) == 2, f"after the COPY/MOVE tricks INBOX shows {untagged}, expected 2 messages")
            probe("b5", b'LIST "" "../*"', ("OK", "BAD", "NO"), "LIST ../*")
            # 30 bad commands in one write: after 20 consecutive BADs, * BYE and close.
            raw.send(b"".join(b"z%d BOGUS\r\n" % n for n in range(30)))
            replies = []
            while True:
                try:
                    line = raw.client.readline()
                except OSError as error:
                    raise Failure(f"after {len(replies)} replies to 30 bad commands: {error!r}")
                if line == b"":
                    break
                replies.append(line)
            check(replies and replies[-1].startswith(b"* BYE"),
                  f"30 bad commands answered {len(replies)} lines, the last {replies[-1:]!r}, expected * BYE")
            check(len([r for r in replies if b" BAD" in r]) == 20,
                  f"{len([r for r in replies if b' BAD' in r])} BADs before the close, expected 20")
        finally:
            raw.close()
        check(server.alive(), f"the server died on hostile input; log: {server.log_tail()}")

        # A 100 KB line: BAD or * BYE (the line limit), the server goes on.
        raw = RawIMAP(server, "imaps")
        try:
            raw.login()
            raw.send(b"L1 NOOP " + b"y" * 100_000 + b"\r\n")
            line = raw.line("the reply to a 100 KB line")
            check(line.startswith(b"* BYE") or line.startswith(b"L1 BAD") or line.startswith(b"* BAD"),
                  f"a 100 KB line answered {line!r}")
            if line.startswith(b"* BYE"):
                check(raw.eof(5.0), "the connection stayed open after * BYE")
            else:
                raw.expect("L2", "NOOP", what="NOOP after a 100 KB line")
        finally:
            raw.close()
        check(server.alive(), f"the server died on a 100 KB line; log: {server.log_tail()}")

        after = snapshot_outside(server)
        check(after == outside, f"hostile input made files outside alice's Maildir: {sorted(after - outside)}, "
              f"removed {sorted(outside - after)}")
        now = folder_directories(server)
        unexpected = [d for d in now if d not in folders and d not in (".&AGE-", ".a", ".%2e%2e")]
        check(not unexpected, f"hostile input made the folders {unexpected} (before: {folders})")
        imap = login(server, "imap+starttls")
        try:
            check(ok(imap.select("INBOX"), "SELECT INBOX after the hostile input") == [b"2"],
                  "INBOX does not hold the 2 messages after the hostile input")
        finally:
            logout(imap, "after the hostile input")
        return f"{answers.count('BAD')} BAD, {answers.count('NO')} NO, {answers.count('OK')} OK"


# MARK: - SIGKILL


def imap_sigkill_durability():
    """SIGKILL while a client APPENDs, STOREs and EXPUNGEs as fast as it can, three
    times: after each restart every APPEND that got OK [APPENDUID] is there under that
    UID with its Message-ID, every acknowledged \\Flagged is set, every acknowledged
    expunge is gone, no message is there twice, and the index (STATUS MESSAGES) agrees
    with the files."""
    import random
    import signal
    import threading
    rng = random.Random(20261129)
    with mail_server() as server:
        appended = {}      # uid -> Message-ID, acknowledged
        flagged = set()    # uids with an acknowledged +FLAGS (\Flagged)
        expunged = set()   # uids with an acknowledged UID EXPUNGE
        uidvalidity = None
        for round_number in range(3):
            imap = login(server)
            ok(imap.select("INBOX"), f"round {round_number}: SELECT")
            stop = threading.Event()

            def work():
                counter = 0
                while not stop.is_set():
                    counter += 1
                    try:
                        message_id, message = make_message(f"kill{round_number}-{counter}")
                        typ, data = imap.append("INBOX", None, None, message)
                        if typ != "OK":
                            return
                        code = response_code(data, "APPENDUID")
                        validity, uid = code
                        appended[int(uid)] = message_id
                        nonlocal_uidvalidity[0] = int(validity)
                        live = [u for u in appended if u not in expunged]
                        if counter % 3 == 0 and live:
                            target = rng.choice(live)
                            typ, _ = imap.uid("STORE", str(target), "+FLAGS", "(\\Flagged)")
                            if typ == "OK":
                                flagged.add(target)
                        if counter % 5 == 0 and live:
                            target = rng.choice(live)
                            typ, _ = imap.uid("STORE", str(target), "+FLAGS", "(\\Deleted)")
                            if typ == "OK":
                                typ, _ = imap.uid("EXPUNGE", str(target))
                                if typ == "OK":
                                    expunged.add(target)
                    except (OSError, imaplib.IMAP4.abort, imaplib.IMAP4.error, EOFError):
                        return

            nonlocal_uidvalidity = [uidvalidity]
            worker = threading.Thread(target=work)
            worker.start()
            time.sleep(0.4 + rng.random() * 0.8)
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(timeout=10)
            stop.set()
            worker.join(timeout=IO_TIMEOUT)
            close_quietly(imap)
            check(not worker.is_alive(), f"round {round_number}: the client did not notice the kill")
            if uidvalidity is not None:
                check(nonlocal_uidvalidity[0] == uidvalidity,
                      f"round {round_number}: UIDVALIDITY changed from {uidvalidity} to {nonlocal_uidvalidity[0]}")
            uidvalidity = nonlocal_uidvalidity[0]
            server.spawn()
            ready, why = server.wait_until_listening(10.0)
            check(ready, f"round {round_number}: no restart after SIGKILL: {why}; {server.log_tail()}")

            imap = login(server)
            try:
                count = int(ok(imap.select("INBOX"), "SELECT after restart")[0])
                found = {}
                typ, data = imap.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])") if count else ("OK", [])
                check(typ == "OK", f"round {round_number}: UID FETCH after restart answered {typ}")
                for item in data:
                    if not isinstance(item, tuple):
                        continue
                    head, body = text(item[0]), item[1]
                    uid = int(re.search(r"UID (\d+)", head).group(1))
                    message_id = message_id_of(body)
                    check(message_id not in found.values(), f"round {round_number}: {message_id} twice after restart")
                    found[uid] = (message_id, head)
                for uid, message_id in appended.items():
                    if uid in expunged:
                        check(uid not in found, f"round {round_number}: expunged UID {uid} is back after SIGKILL")
                        continue
                    check(uid in found, f"round {round_number}: acknowledged APPEND UID {uid} lost after SIGKILL")
                    check(found[uid][0] == message_id,
                          f"round {round_number}: UID {uid} holds {found[uid][0]}, acknowledged as {message_id}")
                    if uid in flagged:
                        check("\\Flagged" in found[uid][1],
                              f"round {round_number}: acknowledged \\Flagged of UID {uid} lost: {found[uid][1]}")
                files = folder_messages(server)
                check(len(files) == count,
                      f"round {round_number}: SELECT says {count} messages, the Maildir holds {len(files)}")
            finally:
                logout(imap, f"round {round_number} after restart")
        live = len([u for u in appended if u not in expunged])
        return f"{len(appended)} appends, {len(flagged)} flags, {len(expunged)} expunges acknowledged; {live} kept"


def imap_structure_kept_in_index():
    """ENVELOPE and BODYSTRUCTURE computed once are kept in the index (as Dovecot keeps
    them in dovecot.index.cache): after a restart, with nothing in memory, FETCH ENVELOPE
    answers from the index without reading the file. Shown by changing the Subject in the
    file behind the server's back (a message never changes under its UID, so the kept
    ENVELOPE stands), while BODY.PEEK[HEADER.FIELDS (SUBJECT)] reads the file."""
    with mail_server() as server:
        deliver(server, [("original", 0)])
        imap = login(server)
        try:
            ok(imap.select("INBOX"), "SELECT INBOX")
            data = ok(imap.fetch("1", "(ENVELOPE BODYSTRUCTURE)"), "FETCH 1 (ENVELOPE BODYSTRUCTURE)")
            first = text(data[0])
            check('"original"' in first, f"ENVELOPE lacks the subject: {first}")
        finally:
            logout(imap, "first session")
        time.sleep(0.5)  # the index write follows the answer
        server.stop()
        directory = os.path.join(folder_path(server), "cur")
        names = os.listdir(directory)
        check(len(names) == 1, f"cur/ holds {names}, expected the one message")
        path = os.path.join(directory, names[0])
        with open(path, "rb") as f:
            raw = f.read()
        with open(path, "wb") as f:
            f.write(raw.replace(b"Subject: original", b"Subject: replaced"))
        server.spawn()
        ready, why = server.wait_until_listening(10.0)
        check(ready, f"no restart: {why}; {server.log_tail()}")
        imap = login(server)
        try:
            ok(imap.select("INBOX"), "SELECT INBOX after restart")
            data = ok(imap.fetch("1", "(ENVELOPE BODYSTRUCTURE)"), "FETCH after restart")
            check(text(data[0]) == first, f"after restart ENVELOPE/BODYSTRUCTURE differ: {text(data[0])} vs {first}")
            data = ok(imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])"), "FETCH header")
            check(b"replaced" in data[0][1], f"the header was not read from the file: {data[0][1]!r}")
        finally:
            logout(imap, "after restart")
        return "ENVELOPE and BODYSTRUCTURE answered from the index after a restart"


THUNDERBIRD_FIELDS = ("From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups "
                      "In-Reply-To Content-Type Reply-To")


def imap_thunderbird_session():
    """The commands Thunderbird (and K-9, which lists the same way) sends, in its order,
    over 143 + STARTTLS: CAPABILITY, AUTHENTICATE PLAIN, ENABLE UTF8=ACCEPT, LIST with
    SPECIAL-USE, LIST (SUBSCRIBED), SELECT, UID FETCH 1:* (FLAGS), its header listing
    (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (…)]), IDLE woken by a delivery,
    opening a message (BODY.PEEK[] + STORE \\Seen), UID MOVE to Trash, APPEND of a sent
    copy to Sent, and the listing again; each answer checked, the Maildir checked at the
    end."""
    with mail_server() as server:
        sent = deliver(server, [("first", 0), ("second", 3)])
        imap = connect(server, "imap+starttls")
        try:
            capabilities = capabilities_of(ok(imap.capability(), "CAPABILITY"))
            for name in ("IMAP4REV1", "IDLE", "AUTH=PLAIN", "SASL-IR"):
                check(name in capabilities, f"CAPABILITY lacks {name}: {capabilities}")
            ok(imap.authenticate("PLAIN", lambda _: f"\0{ALICE}\0{PASSWORD}".encode()), "AUTHENTICATE PLAIN")
            capabilities = capabilities_of(ok(imap.capability(), "CAPABILITY after login"))
            for name in ("MOVE", "UIDPLUS", "SPECIAL-USE", "LIST-EXTENDED", "UTF8=ACCEPT"):
                check(name in capabilities, f"CAPABILITY after login lacks {name}: {capabilities}")
            ok(imap.enable("UTF8=ACCEPT"), "ENABLE UTF8=ACCEPT")
            typ, data = imap._simple_command("LIST", "(SPECIAL-USE)", '""', '"*"')
            listed = [text(line) for line in imap._untagged_response(typ, data, "LIST")[1] if line]
            check(typ == "OK" and any("\\Trash" in line and "Trash" in line for line in listed)
                  and any("\\Sent" in line for line in listed), f"LIST (SPECIAL-USE) answered {typ} {listed}")
            typ, data = imap._simple_command("LIST", "(SUBSCRIBED)", '""', '"*"')
            subscribed = [text(line) for line in imap._untagged_response(typ, data, "LIST")[1] if line]
            check(typ == "OK" and any("INBOX" in line for line in subscribed), f"LIST (SUBSCRIBED) answered {subscribed}")
            check(ok(imap.select("INBOX"), "SELECT INBOX") == [b"2"], "SELECT INBOX: not 2 messages")
            flags = fetch_items(imap, "1:*", "(FLAGS)", by_uid=True)
            check(sorted(item["UID"] for item in flags.values()) == [1, 2], f"UID FETCH 1:* (FLAGS): {flags}")
            listing_items = f"(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({THUNDERBIRD_FIELDS})])"
            listing = fetch_items(imap, "1:*", listing_items, by_uid=True)
            for number, (message_id, _) in zip((1, 2), sent):
                headers = listing[number]["literals"][0]
                check(message_id.encode() in headers and b"Subject:" in headers and "Grüße".encode() not in headers,
                      f"header listing of message {number}: {headers!r}")
            again = fetch_items(imap, "1:*", listing_items, by_uid=True)
            check(again == listing, "the header listing changed between two runs")

            # IDLE, woken by a delivery.
            tag = imap._new_tag()
            imap.send(tag + b" IDLE\r\n")
            check(imap.readline().startswith(b"+"), "IDLE: no continuation")
            deliver(server, [("third", 0)])
            woken = imap.readline()
            check(b"EXISTS" in woken, f"IDLE: expected EXISTS after a delivery, got {woken!r}")
            imap.send(b"DONE\r\n")
            while True:
                line = imap.readline()
                if line.startswith(tag):
                    check(b"OK" in line, f"IDLE ended with {line!r}")
                    break

            # Opening message 1: the whole message, then \Seen.
            body = fetch_items(imap, "1", "(UID RFC822.SIZE BODY.PEEK[])", by_uid=True)[1]
            check(sent[0][0].encode() in body["literals"][0], "BODY.PEEK[] of message 1 is not the message")
            ok(imap.uid("STORE", "1", "+FLAGS", "(\\Seen)"), "UID STORE 1 +FLAGS (\\Seen)")
            # Deleting message 2 moves it to Trash.
            data = ok(imap.uid("MOVE", "2", "Trash"), "UID MOVE 2 Trash")
            check(response_code(imap.untagged_responses.get("OK", []) + data, "COPYUID") is not None
                  or any(b"COPYUID" in (d if isinstance(d, bytes) else b"") for d in data),
                  f"UID MOVE without COPYUID: {data} {imap.untagged_responses.get('OK')}")
            # A sent copy into Sent.
            sent_id, sent_message = make_message("sent copy", sender=ALICE, to="carol@remote.test")
            data = ok(imap.append("Sent", "(\\Seen)", None, sent_message), "APPEND Sent")
            check(response_code(data, "APPENDUID") is not None, f"APPEND without APPENDUID: {data}")
            listing = fetch_items(imap, "1:*", listing_items, by_uid=True)
            check(sorted(item["UID"] for item in listing.values()) == [1, 3],
                  f"after the MOVE INBOX lists {sorted(item['UID'] for item in listing.values())}, expected [1, 3]")
            check("\\Seen" in listing[1]["FLAGS"], f"message 1 lost \\Seen: {listing[1]}")
        finally:
            logout(imap, "Thunderbird-like session")
        inbox = folder_messages(server)
        check(sorted(inbox, key=str) == sorted([sent[0][0], inbox_id_of_third(inbox, sent)], key=str)
              and "S" in maildir_flags(inbox[sent[0][0]][1]), f"INBOX holds {describe_folder(inbox)}")
        trash = folder_messages(server, ".Trash")
        check(list(trash) == [sent[1][0]], f"Trash holds {describe_folder(trash)}, expected {sent[1][0]}")
        sent_folder = folder_messages(server, ".Sent")
        check(list(sent_folder) == [sent_id], f"Sent holds {describe_folder(sent_folder)}, expected {sent_id}")
        return "STARTTLS, AUTHENTICATE, ENABLE, LIST, header listing, IDLE, MOVE, APPEND as Thunderbird sends them"


def inbox_id_of_third(inbox, sent):
    """The Message-ID in INBOX that is neither of the first two delivered."""
    others = [message_id for message_id in inbox if message_id not in (sent[0][0], sent[1][0])]
    return others[0] if others else None


def mutt_run(home, rcfile, keys, what, timeout=60):
    """Runs mutt on a pseudo-terminal (`script`) with `keys` pushed into its input; mutt
    quits at the end of them. Raises Failure with the screen's last text if it does not."""
    env = dict(os.environ, HOME=home, TERM="xterm", LC_ALL="C.UTF-8")
    screen = os.path.join(home, f"screen-{what.split()[0]}.txt")
    command = f"mutt -n -F {rcfile} -e 'push \"{keys}\"'"
    try:
        result = subprocess.run(["script", "-qfec", command, screen], env=env, stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failure(f"{what}: mutt did not quit within {timeout} s; screen: {screen_text(screen)}")
    if result.returncode != 0:
        raise Failure(f"{what}: mutt exited with {result.returncode}; screen: {screen_text(screen)}")
    return screen_text(screen)


def screen_text(path):
    """What mutt last showed, without terminal control sequences (for messages)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError:
        return "(no screen)"
    plain = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r", b" ", raw)
    return re.sub(r"\s+", " ", plain.decode("utf-8", "replace"))[-600:]


def imap_mutt():
    """mutt (Debian's, over IMAPS, trusting the server's own certificate) opens INBOX,
    flags the first message, copies it to Archive, deletes the second and syncs (EXPUNGE);
    the Maildir then holds exactly that: \\Flagged in the first file's name, the copy in
    .Archive, the second message gone. A second run reads the result back (the index
    line shows the flag, and two messages in all)."""
    if shutil.which("mutt") is None:
        raise Skip("mutt is not installed")
    home = tempfile.mkdtemp(prefix="tsubame-e2e-mutt-")
    try:
        with mail_server() as server:
            sent = deliver(server, [("first", 0), ("second", 0), ("third", 0)])
            ids = [message_id for message_id, _ in sent]
            pem = ssl.get_server_certificate((HOST, server.ports["imaps"]))
            certificate = os.path.join(home, "server.pem")
            with open(certificate, "w") as f:
                f.write(pem)
            rcfile = os.path.join(home, "muttrc")
            with open(rcfile, "w") as f:
                f.write(f"""set imap_user = "{ALICE}"
set imap_pass = "{PASSWORD}"
set folder = "imaps://{HOST}:{server.ports['imaps']}/"
set spoolfile = "+INBOX"
set certificate_file = "{certificate}"
set ssl_verify_host = no
set imap_check_subscribed = yes
set header_cache = ""
set message_cachedir = ""
set move = no
set delete = yes
set quit = yes
set confirmappend = no
set confirmcreate = no
set mark_old = no
set sort = date-sent
set wait_key = no
set timeout = 1
set mail_check = 1
""")
            # First message: flag, copy to Archive; second: delete; sync; quit.
            mutt_run(home, rcfile, "<first-entry><flag-message><first-entry><copy-message>=Archive<enter>"
                     "<first-entry><next-entry><delete-message><sync-mailbox><quit>", "mutt run 1")
            inbox = folder_messages(server)
            check(sorted(inbox, key=str) == sorted([ids[0], ids[2]], key=str),
                  f"after mutt's sync INBOX holds {describe_folder(inbox)}, expected {ids[0]} and {ids[2]}")
            check("F" in maildir_flags(inbox[ids[0]][1]), f"mutt's flag did not reach the file: {inbox[ids[0]][1]}")
            archive = folder_messages(server, ".Archive")
            check(list(archive) == [ids[0]], f"Archive holds {describe_folder(archive)}, expected the copy of {ids[0]}")
            check(archive[ids[0]][2] == inbox[ids[0]][2],
                  f"the copy in Archive differs from INBOX's: {first_difference(archive[ids[0]][2], inbox[ids[0]][2])}")
            # Second run: open Archive and quit; the screen shows its one message.
            screen = mutt_run(home, rcfile, "<change-folder>=Archive<enter><quit>", "mutt run 2")
            check("first" in screen, f"mutt's index of Archive does not show the copied message: {screen}")
        return "flag, copy to Archive, delete + sync, and a second run reading Archive"
    finally:
        shutil.rmtree(home, ignore_errors=True)


SCENARIOS = [
    imap_imaplib_starttls_and_tls,
    imap_default_mailboxes,
    imap_extensions,
    imap_large_fetch,
    imap_idle,
    imap_literals,
    imap_two_sessions,
    imap_curl,
    imap_mbsync,
    imap_mbsync_starttls,
    imap_mutt,
    imap_thunderbird_session,
    imap_hostile_input,
    imap_sigkill_durability,
    imap_structure_kept_in_index,
]
