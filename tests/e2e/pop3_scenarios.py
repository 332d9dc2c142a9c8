"""POP3 end-to-end scenarios: poplib over STLS and pop3s, message numbers in arrival
order, curl, fetchmail, hostile input on a raw socket, `[pop3] uidl_format`.

Each scenario starts its own server (smtp_scenarios.mail_server: alice and bob in
example.test), delivers mail to alice on the smtp port, and reads it back over POP3,
then checks the files in her Maildir (`<data>/mail/example.test/alice/{new,cur}/`).
POP3 serves the delivered file as it is (`Return-Path:`, `Received:`, then the message
as sent), so RETR must give the file's bytes, and LIST its size (RFC 1939: sizes count
CRLF line ends). A scenario whose client is not installed (curl without pop3,
fetchmail) raises harness.Skip.
"""

import base64
import os
import poplib
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time

from harness import (
    HOST, HOSTNAME, IO_TIMEOUT, Failure, LineClient, Skip, check, describe, require_curl, run_cli,
    unverified_context)
from smtp_scenarios import (
    ALICE, DOMAIN, PASSWORDS, REMOTE_SENDER, first_difference, mail_server, make_message, message_id_of,
    quit_quietly, send, smtp_client, split_delivered)

PASSWORD = PASSWORDS[ALICE]
PLAINTEXT_REFUSED = b"-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections"
DEFAULT_UIDL = re.compile(r"^([0-9A-F]{8})([0-9A-F]{8})$")  # %08Xu%08Xv


# MARK: - Mail and Maildir


def deliver(server, specs):
    """Sends one message per (tag, filler_lines) to alice on the smtp port, in order;
    returns [(Message-ID, bytes as sent)]."""
    client = smtp_client(server.ports["smtp"])
    sent = []
    try:
        for tag, filler in specs:
            message_id, message = make_message(tag, filler_lines=filler)
            send(client, REMOTE_SENDER, [ALICE], message, what=f"{tag}: ")
            sent.append((message_id, message))
    finally:
        quit_quietly(client)
    return sent


def maildir(server, local="alice"):
    """{Message-ID: (folder, file name, bytes)} of new/ and cur/; a duplicate is a Failure."""
    result = {}
    for folder in ("new", "cur"):
        path = os.path.join(server.directory, "mail", DOMAIN, local, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            with open(os.path.join(path, name), "rb") as f:
                raw = f.read()
            message_id = message_id_of(raw)
            check(message_id not in result,
                  f"{local}: {message_id} is in the Maildir twice: {result.get(message_id, ('', ''))[:2]} "
                  f"and {(folder, name)}")
            result[message_id] = (folder, name, raw)
    return result


def maildir_flags(name):
    """The flag letters of a Maildir file name ('' without an ':2,' info part)."""
    return name.split(":2,", 1)[1] if ":2," in name else ""


def describe_maildir(found):
    return {message_id: f"{folder}/{name}" for message_id, (folder, name, _) in found.items()}


# MARK: - POP3 clients


def pop_error(error):
    """The server line of a poplib.error_proto."""
    value = error.args[0] if error.args else b""
    return value if isinstance(value, bytes) else str(value).encode()


def refused(call, what, prefix=b"-ERR"):
    """Runs `call`, which must get an -ERR (poplib.error_proto) starting with `prefix`."""
    try:
        reply = call()
    except poplib.error_proto as error:
        line = pop_error(error)
        check(line.startswith(prefix), f"{what} answered {line!r}, expected {prefix!r}…")
        return line
    raise Failure(f"{what} was accepted ({reply!r}), expected {prefix!r}…")


def connect(server, service):
    """poplib on `service`: pop3s (implicit TLS), pop3+stls (after STLS) or pop3 (clear)."""
    if service == "pop3s":
        return poplib.POP3_SSL(HOST, server.ports["pop3s"], context=unverified_context(), timeout=IO_TIMEOUT)
    pop = poplib.POP3(HOST, server.ports["pop3"], timeout=IO_TIMEOUT)
    if service == "pop3+stls":
        try:
            reply = pop.stls(context=unverified_context())
            check(reply.startswith(b"+OK"), f"STLS answered {reply!r}")
        except BaseException:
            pop.close()
            raise
    return pop


def login(server, service="pop3s", sasl=False):
    """A poplib session in TRANSACTION state (USER/PASS, or AUTH PLAIN with `sasl`)."""
    pop = connect(server, service)
    try:
        if sasl:
            token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
            reply = pop._shortcmd(f"AUTH PLAIN {token}")
        else:
            pop.user(ALICE)
            reply = pop.pass_(PASSWORD)
        check(reply.startswith(b"+OK"), f"{service}: login answered {reply!r}")
    except BaseException:
        pop.close()
        raise
    return pop


def login_within(server, seconds, service="pop3s"):
    """Logs in, retrying while the maildrop is [IN-USE]; returns (session, seconds waited)."""
    started = time.monotonic()
    while True:
        try:
            return login(server, service), time.monotonic() - started
        except poplib.error_proto as error:
            line = pop_error(error)
            check(line.startswith(b"-ERR [IN-USE]"), f"{service}: login answered {line!r}")
            if time.monotonic() - started > seconds:
                raise Failure(f"{service}: the maildrop is still [IN-USE] {seconds} s after the other session "
                              f"ended: {line!r}")
            time.sleep(0.1)


def quit_checked(pop, what):
    try:
        reply = pop.quit()
    finally:
        pop.close()
    check(reply.startswith(b"+OK"), f"{what}: QUIT answered {reply!r}")


def drop(pop, reset=False):
    """Closes the session's socket without QUIT (with `reset`, an RST: SO_LINGER 0)."""
    sock = pop.sock
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    try:
        pop.file.close()
    except OSError:
        pass
    sock.close()


def joined(lines):
    """A multi-line response's lines (poplib removed CRLF and dot-stuffing) as the octets they stand for."""
    return b"".join(line + b"\r\n" for line in lines)


def listing(pop, what):
    """[(number, size)] of LIST and [(number, uidl)] of UIDL; STAT must agree with LIST."""
    count, total = pop.stat()
    reply, lines, _ = pop.list()
    check(reply.startswith(b"+OK"), f"{what}: LIST answered {reply!r}")
    sizes = []
    for line in lines:
        number, size = line.split()
        sizes.append((int(number), int(size)))
    check([n for n, _ in sizes] == list(range(1, len(sizes) + 1)), f"{what}: LIST numbers are {[n for n, _ in sizes]}")
    check(count == len(sizes) and total == sum(size for _, size in sizes),
          f"{what}: STAT says {count} messages, {total} octets; LIST lists {sizes}")
    reply, lines, _ = pop.uidl()
    check(reply.startswith(b"+OK"), f"{what}: UIDL answered {reply!r}")
    uidls = []
    for line in lines:
        number, uidl = line.split()
        uidls.append((int(number), uidl.decode()))
    check([n for n, _ in uidls] == [n for n, _ in sizes],
          f"{what}: UIDL numbers {[n for n, _ in uidls]} differ from LIST numbers {[n for n, _ in sizes]}")
    for number, size in sizes:
        reply = pop._shortcmd(f"LIST {number}")
        check(reply == f"+OK {number} {size}".encode(), f"{what}: LIST {number} answered {reply!r}, LIST said {size}")
        reply = pop.uidl(number)
        check(reply == f"+OK {number} {dict(uidls)[number]}".encode(),
              f"{what}: UIDL {number} answered {reply!r}, UIDL said {dict(uidls)[number]}")
    return sizes, uidls


def check_default_uidls(uidls, what):
    """`%08Xu%08Xv`: unique, one UIDVALIDITY, UIDs rising with the message number."""
    values = [uidl for _, uidl in uidls]
    check(len(set(values)) == len(values), f"{what}: UIDLs are not unique: {uidls}")
    parsed = []
    for number, uidl in uidls:
        match = DEFAULT_UIDL.match(uidl)
        check(match is not None, f"{what}: UIDL {number} is {uidl!r}, not %08Xu%08Xv (16 upper-case hex digits)")
        parsed.append((int(match.group(1), 16), int(match.group(2), 16)))
    check(len({validity for _, validity in parsed}) <= 1, f"{what}: UIDLs carry different UIDVALIDITYs: {uidls}")
    uids = [uid for uid, _ in parsed]
    check(all(0 < a < b for a, b in zip(uids, uids[1:])) and all(uid > 0 for uid in uids),
          f"{what}: the UIDs in the UIDLs do not rise with the message number: {uidls}")


def retrieve(pop, number, what):
    """RETR `number`: (the message octets, the octet count poplib counted)."""
    reply, lines, octets = pop.retr(number)
    check(reply.startswith(b"+OK"), f"{what}: RETR {number} answered {reply!r}")
    content = joined(lines)
    check(octets == len(content), f"{what}: RETR {number}: poplib counted {octets} octets, joined {len(content)}")
    return content


def check_retrieved(content, message_id, sent, stored, size, what):
    """RETR gave the stored file byte for byte, it holds the message as sent, and LIST's size is its length."""
    check(content == stored, f"{what}: RETR of {message_id} differs from the Maildir file: "
          f"{first_difference(content, stored)}")
    _, _, original = split_delivered(content, what)
    check(original == sent, f"{what}: RETR of {message_id} is not the message sent over SMTP: "
          f"{first_difference(original, sent)}")
    check(size == len(content), f"{what}: LIST says {size} octets for {message_id}, RETR gave {len(content)}")


def check_top(pop, number, stored, what):
    """TOP n 0 is the header and the blank line; TOP n 2 adds the first two body lines."""
    header_end = stored.index(b"\r\n\r\n") + 4
    body_lines = stored[header_end:].split(b"\r\n")
    reply, lines, _ = pop.top(number, 0)
    check(reply.startswith(b"+OK"), f"{what}: TOP {number} 0 answered {reply!r}")
    check(joined(lines) == stored[:header_end],
          f"{what}: TOP {number} 0 is not the header and a blank line: "
          f"{first_difference(joined(lines), stored[:header_end])}")
    reply, lines, _ = pop.top(number, 2)
    check(reply.startswith(b"+OK"), f"{what}: TOP {number} 2 answered {reply!r}")
    wanted = stored[:header_end] + b"".join(line + b"\r\n" for line in body_lines[:2])
    check(joined(lines) == wanted, f"{what}: TOP {number} 2 is not the header and two body lines (the second "
          f"starts with a dot): {first_difference(joined(lines), wanted)}")


def raw_line(client, what):
    """One line of a LineClient without CRLF; a blank line is b"", EOF is a Failure."""
    while b"\n" not in client.pending:
        chunk = client.sock.recv(65536)
        check(chunk != b"", f"connection closed while waiting for {what}")
        client.pending += chunk
    line, _, client.pending = client.pending.partition(b"\n")
    return line.rstrip(b"\r")


def raw_retr(server, number):
    """RETR over a raw pop3s socket: the lines on the wire, dot-stuffed, up to the terminator."""
    client = LineClient(server.ports["pop3s"])
    try:
        client.start_tls()
        check(client.line("the greeting").startswith("+OK"), "pop3s: no +OK greeting")
        client.send(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n")
        for what in ("USER", "PASS"):
            line = client.line(f"the {what} reply")
            check(line.startswith("+OK"), f"raw pop3s: {what} answered {line!r}")
        client.send(f"RETR {number}\r\n")
        line = client.line("the RETR status")
        check(line.startswith("+OK"), f"raw pop3s: RETR {number} answered {line!r}")
        lines = []
        while True:
            line = raw_line(client, "the RETR content")
            if line == b".":
                break
            lines.append(line)
        client.send("QUIT\r\n")
        line = client.line("the QUIT reply")
        check(line.startswith("+OK"), f"raw pop3s: QUIT answered {line!r}")
        return lines
    finally:
        client.close()


# MARK: - Scenarios


def pop3_poplib_stls_and_tls():
    with mail_server() as server:
        sent = deliver(server, [("one", 0), ("two", 0), ("big", 13500), ("four", 0)])
        messages = dict(sent)
        big = sent[2][0]
        check(len(messages[big]) > 1_000_000, f"the big message is only {len(messages[big])} octets")
        stored = maildir(server)
        check(sorted(stored, key=str) == sorted(messages, key=str), f"alice's Maildir holds "
              f"{describe_maildir(stored)}, expected the 4 messages sent")

        # 1. Port 110: no plaintext login before STLS; CAPA changes with TLS.
        pop = connect(server, "pop3")
        try:
            check(pop.getwelcome().startswith(b"+OK"), f"pop3: greeting {pop.getwelcome()!r}")
            before = pop.capa()
            check("STLS" in before, f"pop3: CAPA before STLS lacks STLS: {before}")
            refused(lambda: pop.user(ALICE), "pop3: USER before STLS", PLAINTEXT_REFUSED)
            token = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()
            refused(lambda: pop._shortcmd(f"AUTH PLAIN {token}"), "pop3: AUTH PLAIN before STLS", PLAINTEXT_REFUSED)
            refused(lambda: pop._shortcmd("AUTH LOGIN"), "pop3: AUTH LOGIN before STLS", PLAINTEXT_REFUSED)
            refused(lambda: pop._shortcmd("STAT"), "pop3: STAT before login")
            reply = pop.stls(context=unverified_context())
            check(reply.startswith(b"+OK") and isinstance(pop.sock, ssl.SSLSocket), f"STLS answered {reply!r}")
            after = pop.capa()
            check("STLS" not in after, f"pop3: CAPA after STLS still offers STLS: {after}")
            for name in ("TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER"):
                check(name in after, f"pop3: CAPA after STLS lacks {name}: {after}")
            check(set(after.get("SASL", [])) >= {"PLAIN", "LOGIN"},
                  f"pop3: CAPA after STLS: SASL is {after.get('SASL')}")
            check(after.get("IMPLEMENTATION") == ["Tsubame"],
                  f"pop3: CAPA: IMPLEMENTATION is {after.get('IMPLEMENTATION')}")
            check(before != after, f"pop3: CAPA is the same before and after STLS: {after}")
            pop.user(ALICE)
            reply = pop.pass_(PASSWORD)
            check(reply.startswith(b"+OK"), f"pop3+stls: PASS answered {reply!r}")

            sizes, uidls = listing(pop, "pop3+stls")
            check(len(sizes) == 4, f"pop3+stls: LIST shows {sizes}, expected 4 messages")
            check_default_uidls(uidls, "pop3+stls")
            # The messages in the order POP3 numbers them (arrival order: see pop3_arrival_order).
            order = [message_id_of(joined(pop.top(number, 0)[1])) for number in (1, 2, 3, 4)]
            check(sorted(order, key=str) == sorted(messages, key=str),
                  f"pop3+stls: TOP 1-4 show {order}, expected the 4 messages sent {list(messages)}")
            uidl_of = {message_id: uidls[index][1] for index, message_id in enumerate(order)}
            for number in (1, 2, 3):
                content = retrieve(pop, number, "pop3+stls")
                message_id = order[number - 1]
                check(message_id_of(content) == message_id,
                      f"pop3+stls: RETR {number} is {message_id_of(content)}, TOP {number} 0 showed {message_id}")
                check_retrieved(content, message_id, messages[message_id], stored[message_id][2],
                                sizes[number - 1][1], f"pop3+stls message {number}")
            check_top(pop, 4, stored[order[3]][2], "pop3+stls")
            check(sizes[3][1] == len(stored[order[3]][2]),
                  f"pop3+stls: LIST 4 says {sizes[3][1]}, the file has {len(stored[order[3]][2])} octets")
            # \Seen is applied when the session ends, not at RETR.
            now = maildir(server)
            check(all("S" not in maildir_flags(now[m][1]) for m in order),
                  f"RETR marked messages \\Seen before QUIT: {describe_maildir(now)}")
        except BaseException:
            pop.close()
            raise
        quit_checked(pop, "pop3+stls")
        now = maildir(server)
        check(sorted(now, key=str) == sorted(order, key=str),
              f"after a QUIT without DELE the Maildir holds {describe_maildir(now)}")
        for message_id in order[:3]:
            folder, name, _ = now[message_id]
            check(folder == "cur" and "S" in maildir_flags(name),
                  f"RETR then QUIT did not mark {message_id} \\Seen: {folder}/{name}")
        folder, name, _ = now[order[3]]
        check("S" not in maildir_flags(name), f"TOP marked {order[3]} \\Seen: {folder}/{name}")
        for message_id in order:
            check(now[message_id][2] == stored[message_id][2], f"the file of {message_id} changed after the session")

        # 2. pop3s, AUTH PLAIN: the same UIDLs; RSET undoes DELE; DELE + QUIT removes just that message.
        pop = login(server, "pop3s", sasl=True)
        try:
            capabilities = pop.capa()
            check("STLS" not in capabilities and "USER" in capabilities,
                  f"pop3s: CAPA offers STLS or lacks USER: {capabilities}")
            sizes, uidls = listing(pop, "pop3s")
            check([uidl for _, uidl in uidls] == [uidl_of[m] for m in order],
                  f"pop3s: UIDLs changed between sessions: {uidls}, before {[uidl_of[m] for m in order]}")
            check([size for _, size in sizes] == [len(stored[m][2]) for m in order],
                  f"pop3s: LIST sizes {sizes} are not the file sizes {[len(stored[m][2]) for m in order]}")
            content = retrieve(pop, 4, "pop3s")
            check_retrieved(content, order[3], messages[order[3]], stored[order[3]][2], sizes[3][1], "pop3s message 4")
            content = retrieve(pop, 3, "pop3s")
            check_retrieved(content, order[2], messages[order[2]], stored[order[2]][2], sizes[2][1], "pop3s message 3")

            reply = pop.dele(1)
            check(reply.startswith(b"+OK"), f"pop3s: DELE 1 answered {reply!r}")
            refused(lambda: pop.retr(1), "pop3s: RETR of a deleted message")
            refused(lambda: pop.dele(1), "pop3s: DELE of a deleted message")
            check(pop.stat() == (3, sum(size for _, size in sizes[1:])), f"pop3s: STAT after DELE 1 is {pop.stat()}")
            reply = pop.rset()
            check(reply.startswith(b"+OK"), f"pop3s: RSET answered {reply!r}")
            check(pop.stat() == (4, sum(size for _, size in sizes)), f"pop3s: STAT after RSET is {pop.stat()}")
            reply = pop.dele(2)
            check(reply.startswith(b"+OK"), f"pop3s: DELE 2 answered {reply!r}")
            refused(lambda: pop._shortcmd("LIST 2"), "pop3s: LIST of a deleted message")
            refused(lambda: pop.uidl(2), "pop3s: UIDL of a deleted message")
            reply, lines, _ = pop.uidl()
            check([line.split()[0] for line in lines] == [b"1", b"3", b"4"],
                  f"pop3s: UIDL after DELE 2 lists {lines}, expected messages 1, 3, 4")
        except BaseException:
            pop.close()
            raise
        quit_checked(pop, "pop3s DELE 2")
        now = maildir(server)
        check(sorted(now, key=str) == sorted([order[0], order[2], order[3]], key=str),
              f"after DELE 2 + QUIT the Maildir holds {describe_maildir(now)}, expected all but {order[1]}")

        # 3. A dropped connection deletes nothing; the UIDLs of the others stay.
        pop = login(server, "pop3s")
        try:
            sizes, uidls = listing(pop, "pop3s after delete")
            check([uidl for _, uidl in uidls] == [uidl_of[m] for m in (order[0], order[2], order[3])],
                  f"after DELE 2 the UIDLs are {uidls}, expected those of messages 1, 3, 4 before: "
                  f"{[uidl_of[m] for m in (order[0], order[2], order[3])]}")
            for number in (1, 2, 3):
                reply = pop.dele(number)
                check(reply.startswith(b"+OK"), f"pop3s: DELE {number} answered {reply!r}")
        finally:
            drop(pop)
        pop, waited = login_within(server, 2.0)
        try:
            count, _ = pop.stat()
            check(count == 3, f"after DELE 1-3 and a dropped connection STAT shows {count} messages, expected 3")
        finally:
            quit_checked(pop, "after the drop")
        now = maildir(server)
        check(sorted(now, key=str) == sorted([order[0], order[2], order[3]], key=str),
              f"a connection dropped after DELE removed messages: the Maildir holds {describe_maildir(now)}")

        # 4. One session per maildrop.
        first = login(server, "pop3s")
        try:
            second = connect(server, "pop3+stls")
            try:
                second.user(ALICE)
                refused(lambda: second.pass_(PASSWORD), "a second login while a session is open", b"-ERR [IN-USE]")
            finally:
                second.close()
            check(first.stat()[0] == 3, "the first session broke when a second one tried to log in")
        except BaseException:
            first.close()
            raise
        quit_checked(first, "the first of two sessions")
        third = login(server, "pop3+stls")  # at once: QUIT answers after the lock is released
        check(third.stat()[0] == 3, "the session after QUIT does not see 3 messages")
        drop(third, reset=True)
        fourth, waited_after_reset = login_within(server, 2.0, "pop3+stls")
        quit_checked(fourth, "the session after a reset")

        # 5. Dot-stuffing on the wire.
        wire = raw_retr(server, 1)
        for line in (b"..a line that starts with a dot", b"..", b"...two dots"):
            check(line in wire, f"RETR on the wire lacks the dot-stuffed line {line!r}")
        check(not any(line.startswith(b".") and not line.startswith(b"..") for line in wire),
              "RETR on the wire has a line starting with a single dot")
        unstuffed = joined([line[1:] if line.startswith(b".") else line for line in wire])
        check(unstuffed == now[order[0]][2],
              f"RETR 1 on the wire, unstuffed, is not the file: {first_difference(unstuffed, now[order[0]][2])}")
        return (f"lock free {waited:.2f} s after a close, {waited_after_reset:.2f} s after a reset; "
                f"{len(stored[big][2])}-octet message")


MAILDIR_NAME = re.compile(r"^(\d+)\.M(\d+)P\d+Q\d+\.")


def wait_for_fraction(low, high):
    """Sleeps until the wall clock's fraction of a second is in [low, high)."""
    while True:
        fraction = time.time() % 1
        if low <= fraction < high:
            return
        time.sleep((low - fraction) % 1)


def pop3_arrival_order():
    """POP3 numbers (and UIDs) follow arrival order, also within one second.

    A delivered file is named `<seconds>.M<microseconds>P<pid>Q<n>` with the
    microseconds not zero-padded (as Dovecot writes them), so a message delivered at
    .050000 is `M50000` and one delivered at .150000 in the same second `M150000`.
    Compared as strings, `M150000` sorts first; Dovecot compares the parts as numbers.
    """
    with mail_server() as server:
        client = smtp_client(server.ports["smtp"])
        sent = []
        try:
            for attempt in range(5):
                wait_for_fraction(0.01, 0.04)
                early = make_message(f"early{attempt}")
                send(client, REMOTE_SENDER, [ALICE], early[1], what="early: ")
                wait_for_fraction(0.15, 0.9)
                late = make_message(f"late{attempt}")
                send(client, REMOTE_SENDER, [ALICE], late[1], what="late: ")
                sent += [early, late]
                names = {message_id: name for message_id, (_, name, _) in maildir(server).items()}
                parts = [MAILDIR_NAME.match(names[message_id]) for message_id in (early[0], late[0])]
                check(all(parts), f"unexpected Maildir names {names}")
                if (parts[0].group(1) == parts[1].group(1) and int(parts[0].group(2)) < 100000
                        <= int(parts[1].group(2))):
                    break
            else:
                raise Skip(f"could not deliver two messages in one second at .0x and .1x+: {names}")
        finally:
            quit_quietly(client)
        pop = login(server, "pop3s")
        try:
            count, _ = pop.stat()
            served = [message_id_of(joined(pop.top(number, 0)[1])) for number in range(1, count + 1)]
            _, uidls = listing(pop, "pop3s")
        finally:
            quit_checked(pop, "pop3s")
        check_default_uidls(uidls, "pop3s")
        delivered = [message_id for message_id, _ in sent]
        # Found by this scenario: new files were numbered in string order of their names,
        # so `…M150000P…` (delivered second) got a lower UID than `…M50000P…` (first) in
        # the same second. Names are now compared with their numbers as numbers.
        check(served == delivered,
              f"POP3 numbers the messages {served}, expected delivery order {delivered}; the Maildir names are "
              f"{[names.get(m) for m in delivered]} (new files numbered in string order of their names?)")


def curl(*args, timeout=30):
    result = subprocess.run(["curl", "--silent", "--show-error", "--max-time", "20", *args],
                            capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise Failure(f"curl {' '.join(args)} exited {result.returncode}: "
                      f"{result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout


def pop3_curl():
    require_curl("pop3", "pop3s")
    with mail_server() as server:
        sent = deliver(server, [("one", 0), ("two", 200)])
        pop = login(server, "pop3s")
        try:
            sizes, uidls = listing(pop, "poplib")
            first = retrieve(pop, 1, "poplib")
            second = retrieve(pop, 2, "poplib")
        finally:
            quit_checked(pop, "poplib")
        check(message_id_of(first) == sent[0][0], f"message 1 is {message_id_of(first)}, expected {sent[0][0]}")
        wanted_list = "".join(f"{n} {size}\r\n" for n, size in sizes).encode()
        credentials = ["--user", f"{ALICE}:{PASSWORD}"]
        plain = f"pop3://{HOST}:{server.ports['pop3']}"
        secure = f"pop3s://{HOST}:{server.ports['pop3s']}"
        cases = [
            ("STLS", plain, ["--ssl-reqd", "--insecure"]),
            ("STLS, AUTH=PLAIN", plain, ["--ssl-reqd", "--insecure", "--login-options", "AUTH=PLAIN"]),
            ("pop3s", secure, ["--insecure"]),
            ("pop3s, AUTH=LOGIN", secure, ["--insecure", "--login-options", "AUTH=LOGIN"]),
        ]
        for label, url, options in cases:
            listed = curl(*options, *credentials, url + "/")
            check(listed == wanted_list, f"curl {label}: LIST output {listed!r}, expected {wanted_list!r}")
            message = curl(*options, *credentials, url + "/1")
            check(message == first, f"curl {label}: message 1 differs from poplib's RETR: "
                  f"{first_difference(message, first)}")
        message = curl("--insecure", *credentials, secure + "/2")
        check(message == second,
              f"curl pop3s: message 2 differs from poplib's RETR: {first_difference(message, second)}")
        listed = curl("--insecure", *credentials, "--request", "UIDL", secure + "/")
        wanted = "".join(f"{n} {uidl}\r\n" for n, uidl in uidls).encode()
        check(listed == wanted, f"curl pop3s -X UIDL: {listed!r}, expected {wanted!r}")
        # Without --ssl-reqd curl logs in over plain POP3 (it does not try STLS): refused.
        result = subprocess.run(["curl", "--silent", "--max-time", "20", *credentials, plain + "/"],
                                capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
        check(result.returncode != 0 and result.stdout == b"",
              f"curl without TLS listed the maildrop: exit {result.returncode}, {result.stdout!r}")


def fetchmail_run(server, home, service, label):
    """One fetchmail poll in --keep mode with UIDL tracking; returns {file name: bytes} it delivered."""
    inbox = os.path.join(home, "inbox")
    before = set(os.listdir(inbox))
    port = server.ports["pop3s" if service == "pop3s" else "pop3"]
    rcfile = os.path.join(home, f"fetchmailrc.{label}")
    with open(rcfile, "w") as f:
        f.write(f'poll {HOST} with proto POP3 port {port} uidl\n'
                f'  user "{ALICE}" there with password "{PASSWORD}" is "{os.environ.get("USER", "root")}" here\n')
    os.chmod(rcfile, 0o600)
    tls = ["--ssl", "--nosslcertck"] if service == "pop3s" else ["--sslproto", "auto", "--nosslcertck"]
    command = ["fetchmail", "-f", rcfile, "--idfile", os.path.join(home, "fetchids"),
               "--pidfile", os.path.join(home, "fetchmail.pid"), "--nodetach", "--keep", "--nobounce",
               "--mda", f"/bin/sh -c 'cat > {inbox}/msg.$$'", "--verbose", *tls]
    environment = dict(os.environ, FETCHMAILHOME=home, HOME=home)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=environment,
                            stdin=subprocess.DEVNULL)
    output = " | ".join((result.stdout + result.stderr).strip().splitlines()[-12:])
    # 0: mail fetched; 1: no new mail.
    check(result.returncode in (0, 1), f"fetchmail {label} exited {result.returncode}: {output}")
    check(service == "pop3s" or "upgrade to TLS succeeded" in result.stdout + result.stderr,
          f"fetchmail {label}: its log lacks 'upgrade to TLS succeeded' (STLS): {output}")
    new = {}
    for name in sorted(set(os.listdir(inbox)) - before):
        with open(os.path.join(inbox, name), "rb") as f:
            new[name] = f.read()
    return new, result.returncode, output


def fetched_ids(new, messages, label):
    """The Message-IDs of fetchmail's new files; each must end with the message as sent (LF line ends)."""
    ids = []
    for name, raw in new.items():
        message_id = message_id_of(raw)
        check(message_id in messages, f"fetchmail {label}: fetched {message_id} ({name}), which was not sent")
        wanted = messages[message_id].replace(b"\r\n", b"\n")
        check(raw.endswith(wanted), f"fetchmail {label}: {name} does not end with the message as sent: "
              f"{first_difference(raw[-len(wanted):], wanted)}")
        ids.append(message_id)
    return sorted(ids, key=str)


def pop3_fetchmail_no_duplicates():
    if shutil.which("fetchmail") is None:
        raise Skip("fetchmail is not installed (Debian package fetchmail)")
    home = tempfile.mkdtemp(prefix="tsubame-e2e-fetchmail-")
    try:
        os.chmod(home, 0o700)
        os.mkdir(os.path.join(home, "inbox"))
        with mail_server() as server:
            sent = deliver(server, [(f"batch1-{n}", 0) for n in range(5)])
            messages = dict(sent)
            new, code, output = fetchmail_run(server, home, "pop3s", "run 1 (pop3s)")
            ids = fetched_ids(new, messages, "run 1")
            check(ids == sorted(messages, key=str) and code == 0,
                  f"fetchmail run 1 fetched {len(ids)} messages (exit {code}), expected the 5 sent: {output}")
            new, code, output = fetchmail_run(server, home, "pop3+stls", "run 2 (STLS)")
            check(new == {} and code == 1, f"fetchmail run 2 fetched {len(new)} messages again (exit {code}), "
                  f"expected none (UIDL): {output}")
            later = deliver(server, [("batch2-0", 0), ("batch2-1", 0)])
            messages.update(later)
            new, code, output = fetchmail_run(server, home, "pop3s", "run 3 (pop3s)")
            ids = fetched_ids(new, messages, "run 3")
            check(ids == sorted([m for m, _ in later], key=str),
                  f"fetchmail run 3 fetched {ids} (exit {code}), expected the 2 new ones {[m for m, _ in later]}: "
                  f"{output}")
            # --keep: all still there; fetchmail reads with TOP, which does not mark \Seen.
            now = maildir(server)
            check(sorted(now, key=str) == sorted(messages, key=str),
                  f"after fetchmail --keep the Maildir holds {describe_maildir(now)}")
            seen = [f"{folder}/{name}" for folder, name, _ in now.values() if "S" in maildir_flags(name)]
            check(not seen, f"fetchmail (TOP) marked messages \\Seen: {seen}")
    finally:
        shutil.rmtree(home, ignore_errors=True)


def read_multiline(client, what):
    """The lines of a multi-line response up to the "." (blank lines included), decoded."""
    lines = []
    while True:
        line = raw_line(client, what)
        if line == b".":
            return lines
        lines.append(line.decode("utf-8", "replace"))


def pop3_hostile_input():
    config = "[auth]\nallow_plaintext = true"
    with mail_server(extra_config=config) as server:
        sent = deliver(server, [("one", 0), ("two", 0)])
        port = server.ports["pop3"]
        client = LineClient(port)
        try:
            check(client.line("the greeting").startswith("+OK"), "no +OK greeting")
            client.send(b"CAPA " + b"x" * 9000 + b"\r\n")
            line = client.line("the reply to a 9000-octet line")
            check(line.startswith("-ERR"), f"a 9000-octet line answered {line!r}")
            client.send("CAPA\r\n")
            line = client.line("the CAPA reply after the long line")
            check(line.startswith("+OK"), f"CAPA after the long line answered {line!r}")
            capabilities = read_multiline(client, "the CAPA list")
            check("USER" in capabilities, f"with allow_plaintext CAPA lacks USER: {capabilities}")
            client.send(b"USER " + ALICE.encode() + b"\0\r\n")
            line = client.line("the reply to USER with a NUL")
            check(line.startswith("-ERR"), f"USER with a NUL answered {line!r}")
            client.send(f"USER {ALICE}\r\nPASS {PASSWORD}\r\n")
            for what in ("USER", "PASS"):
                line = client.line(f"the {what} reply")
                check(line.startswith("+OK"), f"{what} answered {line!r}")
            probes = ["RETR 0", "RETR -1", "RETR 99999999999999999999", "RETR 3", "RETR 1 2", "RETR", "LIST x",
                      "LIST 1x", "TOP 1", "TOP 1 -1", "DELE 0", "UIDL 4294967297", "NO\0OP", "STAT\0", "STLS",
                      "USER bob"]
            errors = 2  # the long line, USER with a NUL: with these probes 18 of the 20 allowed
            for probe in probes:
                client.send(probe.encode() + b"\r\n")
                line = client.line(f"the reply to {probe!r}")
                check(line.startswith("-ERR"), f"{probe!r} answered {line!r}, expected -ERR")
                errors += 1
            client.send(b"STAT\r\n")
            line = client.line("the STAT reply after the probes")
            total = sum(len(m) for _, m in sent)
            check(re.fullmatch(r"\+OK 2 \d+", line) is not None, f"STAT after the probes answered {line!r}")
            # 30 unknown commands in one write: after the error limit (20), -ERR and close.
            client.send(b"".join(f"BOGUS{n}\r\n".encode() for n in range(30)))
            replies = []
            while True:
                try:
                    line = client.readline()
                except OSError as error:
                    raise Failure(f"after {len(replies)} replies to 30 bad commands: {error!r}")
                if line == b"":
                    break
                replies.append(line.decode("utf-8", "replace"))
            check(replies and all(reply.startswith("-ERR") for reply in replies),
                  f"30 bad commands answered {replies}")
            check("too many errors" in replies[-1].lower(), f"the last reply before the close is {replies[-1]!r}")
            check(len(replies) - 1 == 20 - errors,
                  f"{errors} errors before, then {len(replies) - 1} bad commands answered before 'Too many errors' "
                  f"(the limit is 20 errors per session)")
        finally:
            client.close()
        check(server.alive(), f"the server died on hostile input; log: {server.log_tail()}")

        # Pipelining (RFC 2449 PIPELINING): one write, the answers in order.
        started = time.monotonic()
        while True:
            client = LineClient(port)
            try:
                check(client.line("the greeting").startswith("+OK"), "no +OK greeting")
                client.send(f"CAPA\r\nUSER {ALICE}\r\nPASS {PASSWORD}\r\nSTAT\r\nLIST\r\nUIDL\r\nRETR 2\r\n"
                            "TOP 1 0\r\nNOOP\r\nQUIT\r\n")
                line = client.line("the CAPA reply")
                check(line.startswith("+OK"), f"pipelined CAPA answered {line!r}")
                check("PIPELINING" in read_multiline(client, "the CAPA list"), "CAPA lacks PIPELINING")
                check(client.line("the USER reply").startswith("+OK"), "pipelined USER refused")
                line = client.line("the PASS reply")
                if line.startswith("-ERR [IN-USE]") and time.monotonic() - started < 2:
                    client.close()  # the session closed for too many errors has not let go yet
                    time.sleep(0.1)
                    continue
                check(line.startswith("+OK"), f"pipelined PASS answered {line!r}")
                stat = client.line("the STAT reply")
                check(re.fullmatch(r"\+OK 2 \d+", stat) is not None, f"pipelined STAT answered {stat!r}")
                check(client.line("the LIST reply").startswith("+OK"), "pipelined LIST refused")
                listed = read_multiline(client, "the LIST listing")
                check([entry.split()[0] for entry in listed] == ["1", "2"], f"pipelined LIST listed {listed}")
                check(int(stat.split()[2]) == sum(int(entry.split()[1]) for entry in listed),
                      f"STAT {stat!r} does not add up LIST {listed}")
                check(client.line("the UIDL reply").startswith("+OK"), "pipelined UIDL refused")
                check([entry.split()[0] for entry in read_multiline(client, "the UIDL listing")] == ["1", "2"],
                      "pipelined UIDL does not list 1 and 2")
                line = client.line("the RETR reply")
                check(line.startswith("+OK"), f"pipelined RETR 2 answered {line!r}")
                body = read_multiline(client, "the RETR content")
                check(any(line in body for line in ("Subject: one", "Subject: two")),
                      f"pipelined RETR 2 is neither message sent: {body[:8]}")
                line = client.line("the TOP reply")
                check(line.startswith("+OK"), f"pipelined TOP 1 0 answered {line!r}")
                head = read_multiline(client, "the TOP content")
                check(any(line in head for line in ("Subject: one", "Subject: two")) and head[-1] == ""
                      and not any(line.startswith("Gr") for line in head), f"pipelined TOP 1 0 is {head}")
                line = client.line("the NOOP reply")
                check(line.startswith("+OK"), f"pipelined NOOP answered {line!r}")
                line = client.line("the QUIT reply")
                check(line.startswith("+OK"), f"pipelined QUIT answered {line!r}")
                check(client.expect_eof(5.0), "not closed after QUIT")
                check(int(stat.split()[2]) >= total, f"STAT {stat!r}: fewer octets than the messages sent ({total})")
                break
            finally:
                client.close()
        check(server.alive(), f"the server died; log: {server.log_tail()}")


def pop3_uidl_format():
    """`[pop3] uidl_format` (and `retr_marks_seen = false`) on a restarted server, then invalid formats."""
    with mail_server() as server:
        deliver(server, [("one", 0), ("two", 0), ("three", 0)])
        pop = login(server, "pop3s")
        try:
            _, default = listing(pop, "default uidl_format")
        finally:
            quit_checked(pop, "default uidl_format")
        check_default_uidls(default, "default uidl_format")
        # The same data directory, restarted with "%v.%u" (and RETR not marking \Seen).
        server.stop()
        server.extra_config = '[pop3]\nuidl_format = "%v.%u"\nretr_marks_seen = false'
        server.start()
        pop = login(server, "pop3s")
        try:
            _, custom = listing(pop, 'uidl_format "%v.%u"')
            for number, _ in custom:
                retrieve(pop, number, "retr_marks_seen = false")
        finally:
            quit_checked(pop, 'uidl_format "%v.%u"')
        seen = [f"{folder}/{name}" for folder, name, _ in maildir(server).values() if "S" in maildir_flags(name)]
        check(not seen, f"with retr_marks_seen = false, RETR + QUIT marked messages \\Seen: {seen}")
        wanted = []
        for number, uidl in default:
            match = DEFAULT_UIDL.match(uidl)
            wanted.append((number, f"{int(match.group(2), 16)}.{int(match.group(1), 16)}"))
        check(custom == wanted, f'with uidl_format = "%v.%u" the UIDLs are {custom}, expected {wanted} '
              f"(the default-format UIDLs were {default})")
        check(all(re.fullmatch(r"[1-9][0-9]*\.[1-9][0-9]*", uidl) for _, uidl in custom),
              f'"%v.%u" UIDLs are not decimal: {custom}')

    directory = tempfile.mkdtemp(prefix="tsubame-e2e-uidl-")
    try:
        for value in ("%q", "%v", "%u%"):
            with open(os.path.join(directory, "tsubame.toml"), "w") as f:
                f.write(f'hostname = "{HOSTNAME}"\n\n[pop3]\nuidl_format = "{value}"\n')
            result = run_cli("config", "check", data=directory)
            check(result.returncode != 0, f'uidl_format = "{value}" accepted by config check: {describe(result)}')
            check("[pop3] uidl_format" in result.stderr,
                  f'uidl_format = "{value}": stderr does not name [pop3] uidl_format: {result.stderr.strip()!r}')
        with open(os.path.join(directory, "tsubame.toml"), "w") as f:
            f.write(f'hostname = "{HOSTNAME}"\n\n[pop3]\nuidl_format = "%08Xv-%u%%"\n')
        result = run_cli("config", "check", data=directory)
        check(result.returncode == 0, f'uidl_format = "%08Xv-%u%%" rejected: {describe(result)}')
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def pop3_login_delay_and_expire():
    """`[pop3] login_delay` is announced and enforced (RFC 2449 LOGIN-DELAY); `expire` is announced."""
    with mail_server('[pop3]\nlogin_delay = "60s"\nexpire = "NEVER"') as server:
        pop = connect(server, "pop3s")
        try:
            capabilities = pop.capa()
        finally:
            pop.close()
        check(capabilities.get("LOGIN-DELAY") == ["60"], f"CAPA lacks LOGIN-DELAY 60: {capabilities}")
        check(capabilities.get("EXPIRE") == ["NEVER"], f"CAPA lacks EXPIRE NEVER: {capabilities}")
        pop = login(server, "pop3s")
        quit_checked(pop, "first login")
        try:
            second = login(server, "pop3s")
            second.close()
            raise Failure("a second login within login_delay was let in")
        except poplib.error_proto as error:
            line = pop_error(error)
            check(line.startswith(b"-ERR [LOGIN-DELAY]"), f"second login within login_delay answered {line!r}")


SCENARIOS = [
    pop3_poplib_stls_and_tls,
    pop3_arrival_order,
    pop3_curl,
    pop3_fetchmail_no_duplicates,
    pop3_hostile_input,
    pop3_uidl_format,
    pop3_login_delay_and_expire,
]
