"""SMTP end-to-end scenarios: MX delivery, relay refusal, pipelining, smuggling,
submission with AUTH, implicit TLS, swaks, limits, SIGKILL durability, parallel load.

Each scenario starts its own server (harness.ServerProcess), adds the accounts of
`add_accounts`, talks SMTP with smtplib, swaks or a raw socket, and then reads the
files the server wrote: Maildirs at `<data>/mail/<domain>/<local>/new/`, the spool at
`<data>/queue/incoming/`. A delivered file is `Return-Path:`, `Received:` (possibly
folded), then the message exactly as the client sent it (dot-stuffing removed).
"""

import base64
import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import threading
import time
import uuid

from harness import (
    HOST, HOSTNAME, IO_TIMEOUT, Failure, LineClient, ServerProcess, check, describe, run_cli, unverified_context)

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
PASSWORDS = {ALICE: "alice pw", BOB: "bob pw"}
CLIENT_NAME = "client.remote.test"
REMOTE_SENDER = "sender@remote.test"


# MARK: - Accounts and server


def add_accounts(data, catch_all=False):
    """example.test with alice and bob; info@ and postmaster@ → alice; optionally @example.test → bob."""
    commands = [("domain", "add", DOMAIN)]
    for address, password in PASSWORDS.items():
        commands.append(("user", "add", address, "--password", password, "--scheme", "SHA512-CRYPT"))
    commands += [("alias", "add", f"info@{DOMAIN}", ALICE), ("alias", "add", f"postmaster@{DOMAIN}", ALICE)]
    if catch_all:
        commands.append(("alias", "add", f"@{DOMAIN}", BOB))
    for args in commands:
        result = run_cli(*args, data=data)
        check(result.returncode == 0, f"setup: `tsubame {' '.join(args)}` failed: {describe(result)}")


@contextlib.contextmanager
def mail_server(extra_config="", catch_all=False):
    """A started server whose directory holds the accounts of `add_accounts`."""
    with ServerProcess(extra_config=extra_config) as server:
        add_accounts(server.directory, catch_all=catch_all)
        yield server


# MARK: - Messages


def make_message(tag, sender=REMOTE_SENDER, to=ALICE, filler_lines=0):
    """(Message-ID, bytes): CRLF lines, an 8-bit UTF-8 body, lines starting with a dot."""
    message_id = f"<{tag}.{uuid.uuid4().hex}@remote.test>"
    text = (f"From: <{sender}>\r\nTo: <{to}>\r\nSubject: {tag}\r\nMessage-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
            "\r\n"
            "Grüße aus Tsubame — 燕が飛ぶ\r\n"
            ".a line that starts with a dot\r\n"
            ".\r\n"
            "..two dots\r\n")
    text += "".join(f"{n:05d} " + "x" * 70 + "\r\n" for n in range(filler_lines))
    text += f"last line of {tag}\r\n"
    return message_id, text.encode("utf-8")


def dot_stuff(message):
    """DATA transparency (RFC 5321 §4.5.2) plus the end marker."""
    return re.sub(rb"(?m)^\.", b"..", message) + b".\r\n"


def message_id_of(message):
    match = re.search(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", message, re.IGNORECASE | re.MULTILINE)
    return match.group(1).decode("utf-8", "replace") if match else None


def first_difference(stored, sent):
    index = next((i for i, (a, b) in enumerate(zip(stored, sent)) if a != b), min(len(stored), len(sent)))
    return (f"{len(stored)} bytes stored vs {len(sent)} sent, first difference at byte {index}: "
            f"stored {stored[max(0, index - 30):index + 30]!r}, sent {sent[max(0, index - 30):index + 30]!r}")


# MARK: - Files the server wrote


def files_under(path):
    """Every file below `path` (relative paths), [] when it does not exist."""
    found = []
    for root, _, names in os.walk(path):
        found += [os.path.relpath(os.path.join(root, name), path) for name in names]
    return sorted(found)


def maildir_path(server, local, folder="new"):
    return os.path.join(server.directory, "mail", DOMAIN, local, folder)


def mailbox_files(server, local, folder="new"):
    """[(name, bytes)] of the files in one Maildir folder, [] when it does not exist."""
    path = maildir_path(server, local, folder)
    if not os.path.isdir(path):
        return []
    result = []
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            result.append((name, f.read()))
    return result


def split_delivered(raw, where):
    """(Return-Path line, Received field, original message) of a delivered file."""

    def next_line(position):
        end = raw.find(b"\n", position)
        end = len(raw) if end < 0 else end + 1
        return raw[position:end], end

    first, position = next_line(0)
    check(first.startswith(b"Return-Path:"), f"{where}: the file starts with {first[:100]!r}, not Return-Path:")
    received, position = next_line(position)
    check(received.startswith(b"Received:"), f"{where}: the second line is {received[:100]!r}, not Received:")
    while raw[position:position + 1] in (b" ", b"\t"):
        line, position = next_line(position)
        received += line
    return first, received, raw[position:]


def delivered(server, local):
    """{Message-ID: [(Return-Path line, original message, file name), …]} of `local`'s new/."""
    result = {}
    for name, raw in mailbox_files(server, local):
        return_path, _, original = split_delivered(raw, f"{local}/new/{name}")
        result.setdefault(message_id_of(original), []).append((return_path, original, name))
    return result


def check_mailbox(server, local, expected, sender=None):
    """`local`'s new/ holds exactly the messages of `expected` ({Message-ID: bytes}), each once, byte-exact."""
    found = delivered(server, local)
    for message_id, message in expected.items():
        copies = found.get(message_id, [])
        check(len(copies) == 1, f"{local}: {message_id} is in new/ {len(copies)} times, expected once")
        return_path, original, name = copies[0]
        check(original == message, f"{local}/new/{name} ({message_id}) is not byte-exact: "
              f"{first_difference(original, message)}")
        if sender is not None:
            wanted = f"Return-Path: <{sender}>\r\n".encode()
            check(return_path == wanted, f"{local}/new/{name}: {return_path!r}, expected {wanted!r}")
    unexpected = sorted(set(found) - set(expected), key=str)
    check(not unexpected, f"{local}: unexpected messages in new/: {unexpected}")


def spool_entries(server):
    """[(id, envelope, message)] of `<data>/queue/incoming/`; a malformed file is a Failure."""
    path = os.path.join(server.directory, "queue", "incoming")
    entries = []
    for name in files_under(path):
        with open(os.path.join(path, name), "rb") as f:
            raw = f.read()
        try:
            magic, length, rest = raw.split(b"\n", 2)
            check(magic == b"TSUBAME-QUEUE 1", f"queue file {name}: first line {magic!r}")
            envelope = json.loads(rest[:int(length)])
            rest = rest[int(length):]
            _, length, rest = rest.split(b"\n", 2)
            message, tail = rest[:int(length)], rest[int(length):]
            check(tail == f"\nEND {name}\n".encode(), f"queue file {name}: ends with {tail[-40:]!r}")
        except (ValueError, IndexError) as error:
            raise Failure(f"queue file {name} does not parse ({error}): {raw[:200]!r}")
        entries.append((name, envelope, message))
    return entries


# MARK: - SMTP clients


def smtp_client(port, tls=False):
    """smtplib on `port` after EHLO; with `tls`, after STARTTLS and a second EHLO."""
    client = smtplib.SMTP(HOST, port, local_hostname=CLIENT_NAME, timeout=IO_TIMEOUT)
    try:
        client.ehlo()
        if tls:
            code, reply = client.starttls(context=unverified_context())
            check(code == 220, f"STARTTLS on {port} answered {code} {reply!r}")
            client.ehlo()
    except BaseException:
        client.close()
        raise
    return client


def quit_quietly(client):
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()


def send(client, sender, recipients, message, options=("BODY=8BITMIME",), what=""):
    """One transaction with smtplib; every step must succeed. Returns the final reply text."""
    code, reply = client.mail(sender, list(options))
    check(code == 250, f"{what}MAIL FROM:<{sender}> answered {code} {reply!r}")
    for recipient in recipients:
        code, reply = client.rcpt(recipient)
        check(code == 250, f"{what}RCPT TO:<{recipient}> answered {code} {reply!r}")
    code, reply = client.data(message)
    check(code == 250, f"{what}end of data answered {code} {reply!r}")
    return reply


def open_session(port, ehlo="EHLO " + CLIENT_NAME):
    """A raw LineClient after the greeting and EHLO; returns (client, EHLO reply lines)."""
    client = LineClient(port)
    try:
        greeting = client.line("the greeting")
        check(greeting.startswith("220 "), f"greeting {greeting!r}")
        reply = command(client, ehlo)
        check(reply[-1].startswith("250"), f"{ehlo} answered {reply}")
    except BaseException:
        client.close()
        raise
    return client, reply


def command(client, line):
    client.send(line.encode() + b"\r\n")
    return client.smtp_reply()


def expect(client, line, prefix):
    reply = command(client, line)
    check(reply[-1].startswith(prefix), f"{line!r} answered {reply}, expected {prefix!r}")
    return reply


def swaks(*args, timeout=60):
    check(shutil.which("swaks") is not None, "swaks is not installed")
    result = subprocess.run(["swaks", *args], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-6:])
        raise Failure(f"swaks {' '.join(args[:12])} … exited {result.returncode}: {tail}")
    return result.stdout


# MARK: - Scenarios


def smtp_mx_local_delivery():
    with mail_server(catch_all=True) as server:
        client = smtp_client(server.ports["smtp"])
        expected = {"alice": {}, "bob": {}}
        try:
            check(client.has_extn("8bitmime"), f"EHLO lacks 8BITMIME: {client.esmtp_features}")
            cases = [("plain", ALICE, "alice"), ("case", "ALICE@Example.TEST", "alice"),
                     ("plus", f"alice+tag@{DOMAIN}", "alice"), ("alias", f"info@{DOMAIN}", "alice"),
                     ("catchall", f"unknown@{DOMAIN}", "bob")]
            for tag, recipient, mailbox in cases:
                message_id, message = make_message(tag, to=recipient)
                send(client, REMOTE_SENDER, [recipient], message, what=f"{tag}: ")
                expected[mailbox][message_id] = message
            # One transaction naming alice four ways: one copy.
            names = [ALICE, "ALICE@Example.TEST", f"alice+tag@{DOMAIN}", f"info@{DOMAIN}"]
            message_id, message = make_message("fournames", to=ALICE)
            send(client, REMOTE_SENDER, names, message, what="four names of alice: ")
            expected["alice"][message_id] = message
            check_mailbox(server, "bob", expected["bob"], sender=REMOTE_SENDER)
            check_mailbox(server, "alice", expected["alice"], sender=REMOTE_SENDER)
            # RFC 5321 §4.1.1.3: <Postmaster> without a domain must be accepted.
            message_id, message = make_message("postmaster", to="Postmaster")
            code, reply = client.mail(REMOTE_SENDER, ["BODY=8BITMIME"])
            check(code == 250, f"MAIL FROM:<{REMOTE_SENDER}> answered {code} {reply!r}")
            code, reply = client.rcpt("Postmaster")
            check(code == 250, f"RCPT TO:<Postmaster> answered {code} {reply!r} (the alias postmaster@{DOMAIN} "
                  f"→ {ALICE} exists; hostname {HOSTNAME})")
            code, reply = client.data(message)
            check(code == 250, f"end of data for <Postmaster> answered {code} {reply!r}")
            expected["alice"][message_id] = message
            check_mailbox(server, "alice", expected["alice"], sender=REMOTE_SENDER)
            check_mailbox(server, "bob", expected["bob"], sender=REMOTE_SENDER)
        finally:
            quit_quietly(client)


def smtp_mx_refuses():
    with mail_server() as server:
        client, _ = open_session(server.ports["smtp"])
        accepted = []
        try:
            expect(client, f"MAIL FROM:<{REMOTE_SENDER}>", "250")
            expect(client, f"RCPT TO:<nobody@{DOMAIN}>", "550 5.1.1")
            expect(client, "RCPT TO:<someone@other.test>", "554 5.7.1")
            # (address, the reply it must get, or None: refused with 5xx or accepted as local)
            tricks = [(f"user%other.test@{DOMAIN}", None), (f'"user@other.test"@{DOMAIN}', None),
                      (f"user@other.test@{DOMAIN}", "501"), (f"@{DOMAIN}:user@other.test", "554"),
                      (f"other.test!user@{DOMAIN}", None), ("user@[127.0.0.1]", "554")]
            for address, wanted in tricks:
                reply = command(client, f"RCPT TO:<{address}>")
                if wanted is not None:
                    check(reply[-1].startswith(wanted), f"RCPT TO:<{address}> answered {reply}, expected {wanted}")
                else:
                    check(reply[-1][:1] == "5" or reply[-1].startswith("250"),
                          f"RCPT TO:<{address}> answered {reply}, expected a 5xx refusal or 250 (local)")
                if reply[-1].startswith("250"):
                    accepted.append(address)
            if accepted:
                # Accepted means local: the message must land in a Maildir, not in the spool.
                expect(client, "DATA", "354")
                _, message = make_message("trick")
                client.send(dot_stuff(message))
                reply = client.smtp_reply()
                check(reply[-1].startswith("250"), f"end of data for {accepted} answered {reply}")
                check(files_under(os.path.join(server.directory, "mail")),
                      f"{accepted} were accepted, yet nothing was delivered locally")
            else:
                expect(client, "DATA", "554")
            expect(client, "QUIT", "221")
        finally:
            client.close()
        queued = files_under(os.path.join(server.directory, "queue"))
        check(not queued, f"after the relay attempts (accepted: {accepted}) the spool holds {queued}")

        smtp = smtp_client(server.ports["smtp"])
        try:
            check(not smtp.has_extn("auth"), f"port 25 offers AUTH before STARTTLS: {smtp.esmtp_features}")
            check(smtp.has_extn("starttls"), f"port 25 does not offer STARTTLS: {smtp.esmtp_features}")
            code, reply = smtp.starttls(context=unverified_context())
            check(code == 220, f"STARTTLS answered {code} {reply!r}")
            smtp.ehlo()
            check(smtp.has_extn("auth"), f"port 25 does not offer AUTH after STARTTLS: {smtp.esmtp_features}")
        finally:
            quit_quietly(smtp)
        return f"accepted as local: {accepted}" if accepted else None


def smtp_pipelining():
    with mail_server() as server:
        client, ehlo = open_session(server.ports["smtp"])
        try:
            check(any(line[4:] == "PIPELINING" for line in ehlo), f"EHLO lacks PIPELINING: {ehlo}")
            client.send(f"MAIL FROM:<a@remote.test>\r\nRCPT TO:<{ALICE}>\r\nRCPT TO:<nobody@{DOMAIN}>\r\n"
                        f"RCPT TO:<{BOB}>\r\nDATA\r\n")
            replies = [client.smtp_reply()[-1] for _ in range(5)]
            codes = [reply[:3] for reply in replies]
            check(codes == ["250", "250", "550", "250", "354"],
                  f"pipelined MAIL, 3 RCPT, DATA answered {replies}, expected 250 250 550 250 354")
            message_id, message = make_message("pipelined")
            client.send(dot_stuff(message))
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"end of data answered {reply}")
            expect(client, "QUIT", "221")
        finally:
            client.close()
        check_mailbox(server, "alice", {message_id: message}, sender="a@remote.test")
        check_mailbox(server, "bob", {message_id: message}, sender="a@remote.test")


SMUGGLING_ENDS = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r\n"]


def smuggle(server, normalize):
    """Sends one message per sloppy end marker; checks the replies; returns nothing."""
    client, _ = open_session(server.ports["smtp"])
    try:
        for end in SMUGGLING_ENDS:
            expect(client, f"MAIL FROM:<{REMOTE_SENDER}>", "250")
            expect(client, f"RCPT TO:<{ALICE}>", "250")
            expect(client, "DATA", "354")
            client.send(b"Subject: x\r\n\r\nhello" + end + b"MAIL FROM:<evil@remote.test>\r\n"
                        + f"RCPT TO:<{BOB}>\r\n".encode() + b"DATA\r\nsmuggled\r\n" + b"\r\n.\r\n")
            reply = client.smtp_reply()
            wanted = "250" if normalize else "550 5.5.2"
            check(reply[-1].startswith(wanted), f"end marker {end!r}: the message answered {reply}, expected {wanted}")
            # The smuggled MAIL/RCPT/DATA would answer before this NOOP.
            client.send(b"NOOP\r\n")
            reply = client.smtp_reply()
            check(len(reply) == 1 and reply[0].startswith("250 2.0.0"),
                  f"end marker {end!r}: after the message's reply came {reply}, not the NOOP's 250 2.0.0 "
                  "(were the smuggled commands executed?)")
            extra = client.drain(0.1)
            check(extra == b"", f"end marker {end!r}: unexpected further replies {extra!r}")
            if normalize:
                found = mailbox_files(server, "alice")
                check(len(found) == SMUGGLING_ENDS.index(end) + 1,
                      f"end marker {end!r}: alice has {len(found)} messages after it, expected one more")
                check(b"smuggled" in found[-1][1] and b"MAIL FROM:<evil@remote.test>" in found[-1][1],
                      f"end marker {end!r}: alice's message does not contain the smuggled text: {found[-1][1]!r}")
        expect(client, "QUIT", "221")
    finally:
        client.close()
    check(mailbox_files(server, "bob") == [], f"bob received {mailbox_files(server, 'bob')}")
    if not normalize:
        check(mailbox_files(server, "alice") == [], f"alice received {mailbox_files(server, 'alice')}")


def smtp_smuggling():
    with mail_server() as server:
        smuggle(server, normalize=False)
    with mail_server(extra_config='[smtp]\nbare_line_endings = "normalize"') as server:
        smuggle(server, normalize=True)


def submission_auth():
    with mail_server() as server:
        port = server.ports["submission"]
        client = smtp_client(port)
        try:
            check(not client.has_extn("auth"), f"587 offers AUTH before STARTTLS: {client.esmtp_features}")
            try:
                client.login(ALICE, PASSWORDS[ALICE])
                raise Failure("smtplib logged in before STARTTLS")
            except smtplib.SMTPNotSupportedError:
                pass
            plain = base64.b64encode(f"\0{ALICE}\0{PASSWORDS[ALICE]}".encode()).decode()
            code, reply = client.docmd("AUTH", f"PLAIN {plain}")
            check(code == 538, f"AUTH PLAIN before STARTTLS answered {code} {reply!r}, expected 538")
            code, reply = client.mail(ALICE)
            check(code == 530, f"MAIL before STARTTLS answered {code} {reply!r}, expected 530")
            code, reply = client.starttls(context=unverified_context())
            check(code == 220, f"STARTTLS answered {code} {reply!r}")
            client.ehlo()
            mechanisms = client.esmtp_features.get("auth", "").upper().split()
            check("PLAIN" in mechanisms and "LOGIN" in mechanisms, f"AUTH after STARTTLS offers {mechanisms}")
            code, reply = client.mail(ALICE)
            check(code == 530 and reply.startswith(b"5.7.0"), f"MAIL before AUTH answered {code} {reply!r}")
            client.rset()
            try:
                client.login(ALICE, "wrong password")
                raise Failure("login with a wrong password succeeded")
            except smtplib.SMTPAuthenticationError as error:
                check(error.smtp_code == 535 and error.smtp_error.startswith(b"5.7.8"),
                      f"wrong password answered {error.smtp_code} {error.smtp_error!r}, expected 535 5.7.8")
            code, reply = client.login(ALICE, PASSWORDS[ALICE])  # smtplib picks PLAIN
            check(code == 235, f"AUTH PLAIN answered {code} {reply!r}")
            for sender in (ALICE, f"info@{DOMAIN}"):
                code, reply = client.mail(sender)
                check(code == 250, f"MAIL FROM:<{sender}> as alice answered {code} {reply!r}")
                client.rset()
            code, reply = client.mail(BOB)
            check(code == 553 and reply.startswith(b"5.7.1"),
                  f"MAIL FROM:<{BOB}> as alice answered {code} {reply!r}, expected 553 5.7.1")
            client.rset()
            remote_id, remote = make_message("remote", sender=ALICE, to="carol@remote.test")
            send(client, ALICE, ["carol@remote.test"], remote, what="to a remote domain: ")
            local_id, local = make_message("local", sender=ALICE, to=BOB)
            send(client, ALICE, [BOB], local, what="to bob: ")
        finally:
            quit_quietly(client)
        entries = spool_entries(server)
        check(len(entries) == 1, f"the spool holds {len(entries)} files, expected 1: {[e[0] for e in entries]}")
        name, envelope, stored = entries[0]
        recipients = [r.get("address") for r in envelope.get("recipients", [])]
        check(recipients == ["carol@remote.test"], f"queue file {name}: recipients {recipients}")
        check(envelope.get("sender") == ALICE, f"queue file {name}: sender {envelope.get('sender')!r}")
        check(stored.endswith(remote), f"queue file {name}: the message does not end with the one sent: "
              f"{stored[-200:]!r}")
        check_mailbox(server, "bob", {local_id: local}, sender=ALICE)

        # LOGIN without an initial response: AUTH LOGIN, 334 Username:, 334 Password:.
        client = smtp_client(port, tls=True)
        try:
            client.user, client.password = BOB, PASSWORDS[BOB]
            code, reply = client.auth("LOGIN", client.auth_login, initial_response_ok=False)
            check(code == 235, f"AUTH LOGIN answered {code} {reply!r}")
            login_id, login_message = make_message("login", sender=BOB, to=ALICE)
            send(client, BOB, [ALICE], login_message, what="after AUTH LOGIN: ")
        finally:
            quit_quietly(client)
        check_mailbox(server, "alice", {login_id: login_message}, sender=BOB)
        check(len(spool_entries(server)) == 1, "mail to local users was spooled too")


def submissions_implicit_tls():
    with mail_server() as server:
        message_id = f"<swaks.{uuid.uuid4().hex}@example.test>"
        swaks("--server", HOST, "--port", str(server.ports["submissions"]), "--tlsc",
              "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", PASSWORDS[ALICE],
              "--from", ALICE, "--to", BOB, "--helo", CLIENT_NAME,
              "--header", f"Message-Id: {message_id}", "--body", "sent by swaks over implicit TLS")
        found = delivered(server, "bob")
        check(list(found) == [message_id], f"bob's new/ holds {list(found)}, expected [{message_id}]")
        check(b"sent by swaks over implicit TLS" in found[message_id][0][1], "the body is not in bob's message")


def swaks_variety():
    with mail_server() as server:
        port = str(server.ports["smtp"])
        # 1. PIPELINING: MAIL, RCPT, RCPT and DATA go out before any reply.
        message_id = f"<pipeline.{uuid.uuid4().hex}@remote.test>"
        transcript = swaks("--server", HOST, "--port", port, "--pipeline", "--from", REMOTE_SENDER,
                           "--to", f"{ALICE},{BOB}", "--helo", CLIENT_NAME,
                           "--header", f"Message-Id: {message_id}", "--body", "pipelined by swaks")
        sent = [line.strip()[:7] for line in transcript.splitlines() if line.strip()[:2] in ("->", "<-", "<~", "~>")]
        check("-> MAIL" in sent and sent[sent.index("-> MAIL") + 1] == "-> RCPT",
              f"swaks did not pipeline: {transcript[-800:]!r}")
        for local in ("alice", "bob"):
            found = delivered(server, local)
            check(list(found) == [message_id], f"{local}'s new/ holds {list(found)}, expected [{message_id}]")

        # 2. A 5 MB attachment, sent by swaks --data from a file.
        big_id = f"<big.{uuid.uuid4().hex}@remote.test>"
        payload = random.Random(5).randbytes(3_750_000)
        encoded = base64.b64encode(payload)
        lines = b"\r\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))
        big = (f"From: <{REMOTE_SENDER}>\r\nTo: <{ALICE}>\r\nSubject: big\r\nMessage-ID: {big_id}\r\n"
               "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
               "--b1\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n"
               "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
               "Content-Disposition: attachment; filename=\"blob.bin\"\r\n\r\n").encode() \
            + lines + b"\r\n--b1--\r\n"
        path = os.path.join(server.directory, "big.eml")
        with open(path, "wb") as f:
            f.write(big[:-2])  # swaks sends the file, then CRLF . CRLF
        swaks("--server", HOST, "--port", port, "--from", REMOTE_SENDER, "--to", ALICE,
              "--helo", CLIENT_NAME, "--data", "@" + path, "--suppress-data")
        found = delivered(server, "alice")
        check(big_id in found and len(found[big_id]) == 1, f"alice has {len(found.get(big_id, []))} copies of {big_id}")
        stored = found[big_id][0][1]
        check(stored == big, f"the 5 MB message is not byte-exact: {first_difference(stored, big)}")

        # 3. BDAT (CHUNKING, RFC 3030): swaks has no BDAT, so a raw socket.
        client, ehlo = open_session(server.ports["smtp"])
        try:
            check(any(line[4:] == "CHUNKING" for line in ehlo), f"EHLO lacks CHUNKING: {ehlo}")
            expect(client, f"MAIL FROM:<{REMOTE_SENDER}>", "250")
            expect(client, f"RCPT TO:<{BOB}>", "250")
            client.send(b"BDAT 5\r\nhello")
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"BDAT 5 answered {reply}")
            client.send(b"BDAT 8 LAST\r\n world\r\n")  # " world" CR LF is 8 octets
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"BDAT 8 LAST answered {reply}")
            expect(client, "QUIT", "221")
        finally:
            client.close()
        files = mailbox_files(server, "bob")
        check(len(files) == 2, f"bob has {len(files)} messages, expected 2 (pipelined and BDAT)")
        bdat = [raw for _, raw in files if message_id.encode() not in raw]
        check(len(bdat) == 1 and bdat[0].endswith(b"hello world\r\n"),
              f"the BDAT message is stored as {bdat[0][-200:] if bdat else None!r}, expected to end with "
              "'hello world\\r\\n'")
        _, _, original = split_delivered(bdat[0], "bob's BDAT message")
        check(original == b"hello world\r\n", f"the BDAT message after the trace fields is {original!r}")


def smtp_limits():
    config = "[smtp]\nmax_message_size = 10000\nmax_recipients = 100\nmax_errors = 5"
    with mail_server(extra_config=config) as server:
        port = server.ports["smtp"]
        # SIZE: announced, declared too big, sent too big.
        client, ehlo = open_session(port)
        try:
            check(any(line[4:] == "SIZE 10000" for line in ehlo), f"EHLO does not advertise SIZE 10000: {ehlo}")
            expect(client, "MAIL FROM:<a@b.test> SIZE=20000", "552")
            expect(client, "MAIL FROM:<a@b.test>", "250")
            expect(client, f"RCPT TO:<{ALICE}>", "250")
            expect(client, "DATA", "354")
            _, message = make_message("toobig", filler_lines=270)
            check(len(message) > 20000, "the test message is too small")
            client.send(dot_stuff(message))
            reply = client.smtp_reply()
            check(reply[-1].startswith("552"), f"a {len(message)}-byte message answered {reply}, expected 552")
            expect(client, "NOOP", "250")
            expect(client, "QUIT", "221")
        finally:
            client.close()
        check(mailbox_files(server, "alice") == [], "the oversized message was delivered")

        # Recipients: the 101st of 100 allowed gets 452 4.5.3, the message goes to the 100.
        client, _ = open_session(port)
        try:
            expect(client, "MAIL FROM:<a@b.test>", "250")
            client.send(f"RCPT TO:<{ALICE}>\r\n".encode() * 101)
            replies = [client.smtp_reply()[-1] for _ in range(101)]
            check(all(reply.startswith("250") for reply in replies[:100]),
                  f"RCPT 1–100 answered {sorted(set(r[:3] for r in replies[:100]))}: "
                  f"first non-250 {next((r for r in replies[:100] if not r.startswith('250')), None)!r}")
            check(replies[100].startswith("452 4.5.3"), f"RCPT 101 answered {replies[100]!r}, expected 452 4.5.3")
            expect(client, "DATA", "354")
            message_id, message = make_message("hundred", sender="a@b.test")
            client.send(dot_stuff(message))
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"end of data for 100 recipients answered {reply}")
            expect(client, "QUIT", "221")
        finally:
            client.close()
        check_mailbox(server, "alice", {message_id: message}, sender="a@b.test")

        # Errors: the 5th bad command gets its error, then 421, then the connection closes.
        client, _ = open_session(port)
        try:
            for index in range(1, 6):
                reply = command(client, "XYZZY")
                check(reply[-1][:1] == "5", f"bad command {index} answered {reply}, expected 5xx")
            line = client.readline().decode("utf-8", "replace")
            check(line.startswith("421"), f"after 5 bad commands the server sent {line!r}, expected 421")
            check(client.expect_eof(5.0), "the connection stayed open after the 421")
        finally:
            client.close()


def sigkill_durability():
    clients, per_client = 20, 5
    with mail_server() as server:
        port = server.ports["smtp"]
        lock = threading.Lock()
        messages = {}  # Message-ID → bytes
        acks = collections.Counter()
        attempts = collections.Counter()
        problems = []
        deadline = time.monotonic() + 30
        start = threading.Barrier(clients + 1)

        def run(index):
            pending = [make_message(f"c{index:02d}m{n}", filler_lines=300) for n in range(per_client)]
            with lock:
                messages.update(pending)
            start.wait()
            client = None
            last = None
            while pending and time.monotonic() < deadline:
                message_id, message = pending[0]
                try:
                    if client is None:
                        client = smtplib.SMTP(HOST, port, local_hostname=CLIENT_NAME, timeout=IO_TIMEOUT)
                    with lock:
                        attempts[message_id] += 1
                    client.sendmail(REMOTE_SENDER, [ALICE], message)
                    with lock:
                        acks[message_id] += 1
                    pending.pop(0)
                except (OSError, smtplib.SMTPException) as error:
                    last = error
                    if client is not None:
                        client.close()
                    client = None
                    time.sleep(0.05)
            if client is not None:
                quit_quietly(client)
            if pending:
                with lock:
                    problems.append(f"client {index}: {len(pending)} never acknowledged (last error {last!r})")

        threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(clients)]
        for thread in threads:
            thread.start()
        start.wait()
        kill_after = random.randint(35, 45)
        while time.monotonic() < deadline:
            with lock:
                acked = sum(acks.values())
            if acked >= kill_after:
                break
            time.sleep(0.002)
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=5)
        acked_at_kill = acked
        server.spawn()
        ready, why = server.wait_until_listening(10.0)
        check(ready, f"restart after SIGKILL failed: {why}; log: {server.log_tail()}")
        for thread in threads:
            thread.join(timeout=max(0.1, deadline - time.monotonic() + 5))
        check(not any(thread.is_alive() for thread in threads), "clients still running after 35 s")
        check(not problems, "; ".join(problems))
        check(acked_at_kill < clients * per_client, "every message was acknowledged before the kill")

        counts = collections.Counter()
        for name, raw in mailbox_files(server, "alice"):
            _, _, original = split_delivered(raw, f"alice/new/{name}")
            message_id = message_id_of(original)
            check(message_id in messages, f"alice/new/{name} has an unknown Message-ID {message_id!r}: {raw[:300]!r}")
            check(original == messages[message_id],
                  f"alice/new/{name} ({message_id}) is damaged: {first_difference(original, messages[message_id])}")
            counts[message_id] += 1
        missing = [m for m in acks if counts[m] == 0]
        check(not missing, f"{len(missing)} acknowledged messages are missing after SIGKILL: {missing[:5]}")
        extra = [m for m in counts if counts[m] > attempts[m]]
        check(not extra, f"messages stored more often than sent: {[(m, counts[m], attempts[m]) for m in extra[:5]]}")
        duplicates = sum(count - 1 for count in counts.values())
        leftovers = len(mailbox_files(server, "alice", "tmp"))
        retried = sum(attempts.values()) - len(messages)
        return (f"killed after {acked_at_kill} acks; {retried} retries, {duplicates} duplicates, "
                f"{leftovers} files left in tmp/")


def smtp_parallel_20():
    with mail_server() as server:
        port = server.ports["submission"]
        sent = dict(make_message(f"parallel{index:02d}", sender=ALICE) for index in range(20))
        problems = []
        start = threading.Barrier(len(sent))

        def run(item):
            message_id, message = item
            try:
                start.wait()
                client = smtp_client(port, tls=True)
                try:
                    client.login(ALICE, PASSWORDS[ALICE])
                    send(client, ALICE, [ALICE], message, what=f"{message_id}: ")
                finally:
                    quit_quietly(client)
            except Exception as error:  # reported below, with the others
                problems.append(f"{message_id}: {type(error).__name__}: {error}")

        threads = [threading.Thread(target=run, args=(item,), daemon=True) for item in sent.items()]
        began = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.monotonic() - began
        check(not any(thread.is_alive() for thread in threads), "submissions still running after 30 s")
        check(not problems, f"{len(problems)} of 20 failed: {'; '.join(problems[:3])}")
        check_mailbox(server, "alice", sent, sender=ALICE)
        return f"{elapsed:.2f} s"


def submission_sender_allowances():
    """[smtp.sender_allowances] lets a login use extra senders (Postfix smtpd_sender_login_maps)."""
    config = f"""
[smtp.sender_allowances]
"{ALICE}" = ["sales@{DOMAIN}", "@alice-shop.test"]
"""
    with mail_server(extra_config=config) as server:
        client = smtp_client(server.ports["submission"], tls=True)
        try:
            code, reply = client.login(ALICE, PASSWORDS[ALICE])
            check(code == 235, f"AUTH answered {code} {reply!r}")
            for sender, expected in ((f"sales@{DOMAIN}", 250), ("anyone@alice-shop.test", 250),
                                     (f"support@{DOMAIN}", 553), ("anyone@other-shop.test", 553)):
                code, reply = client.mail(sender)
                check(code == expected, f"MAIL FROM:<{sender}> as alice answered {code} {reply!r}, expected {expected}")
                client.rset()
        finally:
            quit_quietly(client)
        client = smtp_client(server.ports["submission"], tls=True)
        try:
            client.login(BOB, PASSWORDS[BOB])
            code, reply = client.mail(f"sales@{DOMAIN}")
            check(code == 553, f"bob may not use alice's allowance: MAIL answered {code} {reply!r}")
        finally:
            quit_quietly(client)


def starttls_first_reply_at_once():
    """The first command after STARTTLS (SMTP on 587, IMAP on 143, POP3 on 110) is
    answered at once, not after the kernel's delayed ACK: a TLS 1.3 server has nothing
    to send after the client's Finished, and a client with Nagle's algorithm on (Python
    here) holds its next command until that Finished is acknowledged — 40 ms or more per
    connection (Linux's minimum delayed ACK) unless the server acknowledges at once.
    The median of seven connections per protocol must stay under 30 ms."""
    import imaplib
    import poplib
    import ssl
    import statistics
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with mail_server() as server:
        timings = {"smtp EHLO": [], "imap CAPABILITY": [], "pop3 CAPA": []}
        for _ in range(7):
            client = smtplib.SMTP(HOST, server.ports["submission"], local_hostname=CLIENT_NAME, timeout=IO_TIMEOUT)
            client.ehlo()
            client.starttls(context=context)
            started = time.monotonic()
            code, _ = client.ehlo()
            timings["smtp EHLO"].append(time.monotonic() - started)
            check(code == 250, f"EHLO after STARTTLS answered {code}")
            quit_quietly(client)

            imap = imaplib.IMAP4(HOST, server.ports["imap"], timeout=IO_TIMEOUT)
            imap.starttls(ssl_context=context)
            started = time.monotonic()
            typ, _ = imap.capability()
            timings["imap CAPABILITY"].append(time.monotonic() - started)
            check(typ == "OK", f"CAPABILITY after STARTTLS answered {typ}")
            imap.logout()

            pop = poplib.POP3(HOST, server.ports["pop3"], timeout=IO_TIMEOUT)
            pop.stls(context=context)
            started = time.monotonic()
            pop.capa()
            timings["pop3 CAPA"].append(time.monotonic() - started)
            pop.quit()
        medians = {name: statistics.median(values) * 1000 for name, values in timings.items()}
        slow = {name: f"{value:.1f} ms" for name, value in medians.items() if value >= 30}
        check(not slow, f"first reply after STARTTLS waited for a delayed ACK: {slow}")
        return ", ".join(f"{name} {value:.1f} ms" for name, value in medians.items())


SCENARIOS = [
    starttls_first_reply_at_once,
    smtp_mx_local_delivery,
    smtp_mx_refuses,
    smtp_pipelining,
    smtp_smuggling,
    submission_auth,
    submission_sender_allowances,
    submissions_implicit_tls,
    swaks_variety,
    smtp_limits,
    sigkill_durability,
    smtp_parallel_20,
]
