"""Outbound end-to-end scenarios (issue #6): the queue, DNS, the SMTP client, smarthost
relay, DSN bounces and `tsubame queue`, driven from outside.

The world of a scenario, all on loopback:

  * a DNS responder (dns_responder.py) serving the test zone; the Tsubame under test
    points `[dns] servers` at it, so no query leaves the machine;
  * the Tsubame under test ("local"): hostname mail.local.test, users alice@ and
    carol@local.test, submission on 587-like ports (STARTTLS + AUTH), the outbound
    configuration of `outbound_config` ([dns], [queue], [outbound], [relay], [routes]);
  * remote MTAs: a second Tsubame ("remote", a plain ServerProcess) with its own domain
    remote.test and users bob@ and dave@, its smtp listener on 127.0.0.2 and the port
    that the local one's `[outbound] mx_port` names. Every MX shares that port, so MX
    hosts differ by loopback address: mx.remote.test is 127.0.0.2 (the remote
    Tsubame), dead.remote.test is 127.0.0.3 (nothing listens: connection refused);
  * for the smarthost: Debian's Postfix as a private instance (own config_directory,
    queue_directory, high port; needs root) requiring STARTTLS + AUTH, its SASL through
    a third Tsubame's `[auth_socket]` (`smtpd_sasl_type = dovecot`), relaying everything
    to Debian's smtp-sink, which dumps each message to a file;
  * Debian's Postfix as an MX too (`outbound_mx_postfix`): mx.postfix.test is 127.0.0.4,
    a private Postfix on the shared MX port taking postfix.test (STARTTLS offered) and
    relaying it to smtp-sink; and the smarthost with SASL by the anchors' real Dovecot
    (`outbound_smarthost_dovecot_sasl`: its auth socket for Postfix, found with
    `doveconf -n`, user1@example.test / pass; SKIP when the anchors are not running).

Mail is read where it lands: `<data>/mail/<domain>/<local>/{new,cur}/` (a file is
Return-Path:, Received: fields, then the message as submitted), smtp-sink's dump files.
`tsubame queue list|show|flush|retry|delete|bounce --data DIR` is run against the
local server's data directory while it runs.

The scenarios fail with "the outbound feature (issue #6) is not in this binary: …"
until the binary knows the configuration and the `queue` command; `outbound_peers`
checks the peers alone (DNS responder, remote Tsubame, Postfix smarthost to smtp-sink)
and passes without the feature.

What the scenarios rely on (the contract of issue #6):
  * tsubame.toml: [dns] servers = ["127.0.0.1:PORT"], timeout = "1s", attempts = 2;
    [queue] minimal_backoff, maximal_backoff, maximal_lifetime, delay_warning (strings
    such as "1s", "10m", "5d"; delay_warning = 0, an integer, for no warning); [outbound]
    helo_name, mx_port (an integer), tls = "opportunistic"; [relay] host = "127.0.0.1:P",
    tls = "starttls", verify_certificate = false, username, password or password_file;
    [routes."domain"] (same keys as [relay]; not used yet).
  * `tsubame --help` lists a `queue` subcommand; `tsubame queue list --data DIR` prints
    "Mail queue is empty", or per message a line "<QUEUEID> <size> <arrival date> <sender
    or <>>" then per recipient "  <address> <state>[: <last error>]" (state: pending,
    deferred, delivered, bounced); a connection failure's error says "Connection refused"
    and names the MX address. `queue show ID` exits 0 and names sender, recipients, state,
    attempts and the last error (the smarthost's "535" or "authentication failed"); an
    unknown ID exits 1 with a message on stderr. `queue flush`, `retry ID`, `delete ID`
    (no DSN), `bounce ID` (a DSN now) exit 0 and act on the running server within seconds.
  * A message leaves `queue list` once every recipient is delivered or bounced.
  * DSNs: sent from <> (Return-Path: <>), multipart/report; report-type=delivery-status
    with text, message/delivery-status (Reporting-MTA, Final-Recipient, Action, Status,
    Diagnostic-Code carrying the remote reply) and text/rfc822-headers or message/rfc822
    with the original's headers; Subject "Undelivered Mail Returned to Sender" for a
    failure; none for a message from <>; into a local sender's INBOX.
  * The remote MX sees EHLO helo_name and STARTTLS (opportunistic, the MX offers it);
    the message arrives byte-exact after the trace fields (Return-Path:, Received:).
"""

import base64
import contextlib
import email
import email.policy
import imaplib
import os
import pwd
import random
import re
import shutil
import signal
import smtplib
import socket
import stat
import subprocess
import tempfile
import threading
import time
import uuid

import dns_responder
from auth_socket_scenarios import file_tail, postfix, postfix_missing, private_master_cf, swaks_raw, wait_for_socket
from dns_responder import DNSResponder
from harness import (
    HOST, IO_TIMEOUT, Failure, ServerProcess, Skip, check, describe, free_ports, run_cli, unverified_context)
from smtp_scenarios import first_difference, message_id_of, quit_quietly, send, smtp_client

LOCAL_DOMAIN = "local.test"
LOCAL_HOSTNAME = "mail.local.test"
ALICE = f"alice@{LOCAL_DOMAIN}"
CAROL = f"carol@{LOCAL_DOMAIN}"
LOCAL_PASSWORDS = {ALICE: "alice pw", CAROL: "carol pw"}
REMOTE_DOMAIN = "remote.test"
BOB = f"bob@{REMOTE_DOMAIN}"
DAVE = f"dave@{REMOTE_DOMAIN}"
REMOTE_USERS = (BOB, DAVE)
MX_ADDRESS = "127.0.0.2"      # mx.remote.test: the remote Tsubame
DEAD_ADDRESS = "127.0.0.3"    # dead.remote.test: nothing listens
RELAY_USER = "relay@relay.test"
RELAY_PASSWORD = "relay pw"
DSN_SUBJECT = "Undelivered Mail Returned to Sender"
STATES = ("pending", "deferred", "delivered", "bounced")


def standard_zone():
    return {
        REMOTE_DOMAIN: [("MX", 10, "mx.remote.test")],
        "mx.remote.test": [("A", MX_ADDRESS)],
        "dead.remote.test": [("A", DEAD_ADDRESS)],
        "null.test": [("MX", 0, ".")],
        LOCAL_DOMAIN: [("MX", 10, LOCAL_HOSTNAME)],
        LOCAL_HOSTNAME: [("A", "127.0.0.1")],
    }


# MARK: - Configuration of the Tsubame under test


def toml_string(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_duration(value):
    """A duration: "10m" as a string, a number of seconds ("0": off) as an integer."""
    return str(int(value)) if str(value).isdigit() else toml_string(value)


def outbound_config(dns_port, mx_port, minimal_backoff="1s", maximal_backoff="2s", maximal_lifetime="5d",
                    delay_warning="0", tls="opportunistic", relay=None, routes=None):
    """The outbound tables of tsubame.toml, as specified for issue #6. `relay`: a dict of
    [relay] keys; `routes`: {domain: dict of keys}."""
    lines = [
        "[dns]",
        f'servers = ["127.0.0.1:{dns_port}"]',
        'timeout = "1s"',
        "attempts = 2",
        "",
        "[queue]",
        f"minimal_backoff = {toml_duration(minimal_backoff)}",
        f"maximal_backoff = {toml_duration(maximal_backoff)}",
        f"maximal_lifetime = {toml_duration(maximal_lifetime)}",
        f"delay_warning = {toml_duration(delay_warning)}",
        "",
        "[outbound]",
        f"helo_name = {toml_string(LOCAL_HOSTNAME)}",
        f"mx_port = {mx_port}",
        f"tls = {toml_string(tls)}",
    ]

    def table(name, keys):
        lines.extend(["", name])
        for key, value in keys.items():
            if isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int):
                lines.append(f"{key} = {value}")
            else:
                lines.append(f"{key} = {toml_string(value)}")

    if relay:
        table("[relay]", relay)
    for domain, keys in (routes or {}).items():
        table(f"[routes.{toml_string(domain)}]", keys)
    return "\n".join(lines) + "\n"


def add_users(server, domain, passwords):
    for args in [("domain", "add", domain)] + [
            ("user", "add", address, "--password", password, "--scheme", "SHA512-CRYPT")
            for address, password in passwords.items()]:
        result = run_cli(*args, data=server.directory)
        check(result.returncode == 0, f"setup: `tsubame {' '.join(args)}` failed: {describe(result)}")


_help_cache = {}


def binary_has_queue_command():
    if "help" not in _help_cache:
        result = run_cli("--help")
        _help_cache["help"] = result.stdout + result.stderr
    return re.search(r"(?m)^\s+queue\s", _help_cache["help"]) is not None


def preflight(server):
    """Fails with a clear message unless the binary knows the outbound configuration and
    `tsubame queue`; on a fresh data directory `queue list` must say the queue is empty."""
    server.write_config()
    result = run_cli("config", "check", data=server.directory)
    if result.returncode != 0:
        sections = [name for name in ("dns", "queue", "outbound", "relay", "routes")
                    if re.search(rf"(?m): \[?{name}\b[^:\n]*: unknown key", result.stderr)]
        if sections:
            raise Failure("the outbound feature (issue #6) is not in this binary: `tsubame config check` does not "
                          f"know [{'], ['.join(sections)}]: {result.stderr.strip()!r}")
        raise Failure(f"`tsubame config check` rejects the outbound configuration: {describe(result)}; "
                      f"configuration: {open(os.path.join(server.directory, 'tsubame.toml')).read()!r}")
    if not binary_has_queue_command():
        raise Failure("the outbound feature (issue #6) is not in this binary: `tsubame --help` lists no `queue` "
                      "subcommand (queue list/show/flush/retry/delete/bounce)")
    result = run_cli("queue", "list", data=server.directory)
    check(result.returncode == 0 and result.stdout.strip() == "Mail queue is empty",
          f"`tsubame queue list` on a fresh data directory: {describe(result)}, expected exit 0 and "
          "'Mail queue is empty'")


def local_server(dns, mx_port, services=("smtp", "submission", "submissions", "imaps"), **config):
    """The Tsubame under test, with alice and carol, not started; preflight() done."""
    server = ServerProcess(extra_config=outbound_config(dns.port, mx_port, **config), services=services,
                           hostname=LOCAL_HOSTNAME)
    try:
        add_users(server, LOCAL_DOMAIN, LOCAL_PASSWORDS)
        preflight(server)
    except BaseException:
        server.cleanup()
        raise
    return server


def remote_mx(port, host=MX_ADDRESS, domain=REMOTE_DOMAIN, users=REMOTE_USERS):
    """A second Tsubame as the remote MTA: smtp on HOST:PORT only, its own domain and
    users (added before it starts, so it never refuses them); not started."""
    server = ServerProcess(services=("smtp",), listen_overrides={"smtp": f"{host}:{port}"}, hostname=f"mx.{domain}")
    try:
        add_users(server, domain, {address: "remote pw" for address in users})
    except BaseException:
        server.cleanup()
        raise
    return server


def choose_mx_port(hosts=(MX_ADDRESS, "127.0.0.1", DEAD_ADDRESS)):
    """A port free on every address of HOSTS (by default 127.0.0.2, 127.0.0.1 and
    127.0.0.3): every MX host shares it."""
    for _ in range(50):
        probes = []
        try:
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            probes.append(first)
            first.bind((hosts[0], 0))
            port = first.getsockname()[1]
            for host in hosts[1:]:
                probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                probes.append(probe)
                probe.bind((host, port))
            return port
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise Failure(f"no port is free on {', '.join(hosts)} at once")


class World:
    """One scenario's DNS responder, remote MX and local Tsubame (see `world`)."""
    dns = None
    port = None
    remote = None
    local = None


@contextlib.contextmanager
def world(zone=None, remote_running=True, **config):
    """DNS responder, remote MX (started unless `remote_running` is False: start it
    with `w.remote.start()`), and the local Tsubame started with `config`."""
    with contextlib.ExitStack() as stack:
        w = World()
        w.dns = stack.enter_context(DNSResponder(zone or standard_zone()))
        w.port = choose_mx_port()
        w.remote = remote_mx(w.port)
        stack.callback(w.remote.cleanup)
        if remote_running:
            w.remote.start()
        w.local = local_server(w.dns, w.port, **config)
        stack.enter_context(w.local)
        yield w


# MARK: - Messages


def make_message(tag, sender=ALICE, to=BOB, filler_lines=0, attachment=0):
    """(Message-ID, bytes): CRLF lines, an 8-bit UTF-8 body, lines starting with dots;
    with `attachment`, that many random octets base64-encoded in a second part."""
    message_id = f"<{tag}.{uuid.uuid4().hex}@{LOCAL_DOMAIN}>"
    to_field = ", ".join(f"<{address.strip()}>" for address in to.split(","))
    head = (f"From: <{sender or 'MAILER-DAEMON@local.test'}>\r\nTo: {to_field}\r\nSubject: {tag}\r\n"
            f"Message-ID: {message_id}\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n")
    body = ("Grüße aus Tsubame — 燕が飛ぶ\r\n"
            ".a line that starts with a dot\r\n"
            ".\r\n"
            "..two dots\r\n"
            + "".join(f"{n:05d} " + "x" * 70 + "\r\n" for n in range(filler_lines))
            + f"last line of {tag}\r\n")
    if not attachment:
        text = head + "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
        return message_id, text.encode("utf-8")
    payload = base64.b64encode(random.Random(tag).randbytes(attachment))
    lines = b"\r\n".join(payload[i:i + 76] for i in range(0, len(payload), 76))
    text = (head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
            "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
            + "--b1\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="blob.bin"\r\n\r\n')
    return message_id, text.encode("utf-8") + lines + b"\r\n--b1--\r\n"


def submit(server, recipients, message, sender=ALICE, login=ALICE, service="submission"):
    """One submission: STARTTLS + AUTH on 587 (or implicit TLS on 465), one transaction."""
    if service == "submissions":
        client = smtplib.SMTP_SSL(HOST, server.ports["submissions"], local_hostname="client.local.test",
                                  timeout=IO_TIMEOUT * 4, context=unverified_context())
        client.ehlo()
    else:
        client = smtp_client(server.ports["submission"], tls=True)
        client.timeout = IO_TIMEOUT * 4
        client.sock.settimeout(IO_TIMEOUT * 4)
    try:
        code, reply = client.login(login, LOCAL_PASSWORDS[login])
        check(code == 235, f"AUTH as {login} answered {code} {reply!r}")
        return send(client, sender, recipients, message, what=f"submission of {message_id_of(message)}: ")
    finally:
        quit_quietly(client)


# MARK: - Reading what arrived


def split_trace(raw):
    """([trace fields], rest): the leading Return-Path: and Received: fields (folded
    lines included) and what follows them."""
    fields, position = [], 0
    while True:
        end = raw.find(b"\n", position)
        if end < 0 or not raw[position:end].lower().startswith((b"return-path:", b"received:")):
            return fields, raw[position:]
        field, position = raw[position:end + 1], end + 1
        while raw[position:position + 1] in (b" ", b"\t"):
            end = raw.find(b"\n", position)
            end = len(raw) - 1 if end < 0 else end
            field, position = field + raw[position:end + 1], end + 1
        fields.append(field)


def mailbox(server, address):
    """[(path, bytes)] of the files in new/ and cur/ of ADDRESS's INBOX on SERVER."""
    local, domain = address.split("@")
    base = os.path.join(server.directory, "mail", domain, local)
    found = []
    for sub in ("new", "cur"):
        path = os.path.join(base, sub)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                try:
                    with open(os.path.join(path, name), "rb") as f:
                        found.append((f"{address}/{sub}/{name}", f.read()))
                except FileNotFoundError:  # moved from new/ to cur/ meanwhile
                    pass
    return found


def by_message_id(server, address):
    """{Message-ID: [(path, trace fields, message after them)]} of ADDRESS's INBOX."""
    result = {}
    for path, raw in mailbox(server, address):
        trace, rest = split_trace(raw)
        result.setdefault(message_id_of(rest), []).append((path, trace, rest))
    return result


def wait_for(predicate, limit, interval=0.1):
    """Polls `predicate` until it returns something true or `limit` seconds pass;
    returns its last value."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def wait_for_delivery(w_local, server, address, message_ids, limit=15.0):
    """Waits until every Message-ID is in ADDRESS's INBOX on SERVER; Failure (with the
    local queue and log) otherwise. Returns by_message_id()."""
    wanted = set(message_ids)
    found = wait_for(lambda: wanted <= set(by_message_id(server, address)) and by_message_id(server, address),
                     limit)
    if not found:
        present = set(by_message_id(server, address))
        raise Failure(f"{address} lacks {sorted(wanted - present)} {limit:.0f} s after submission; "
                      f"local queue: {queue_text(w_local)}; local log: {w_local.log_tail(6)}")
    return found


def check_exactly_once(server, address, expected, sender=None, only=True):
    """ADDRESS's INBOX holds each message of `expected` ({Message-ID: bytes}) exactly once,
    byte-exact after the trace fields; with `only`, nothing else."""
    found = by_message_id(server, address)
    for message_id, message in expected.items():
        copies = found.get(message_id, [])
        check(len(copies) == 1, f"{address}: {message_id} arrived {len(copies)} times, expected once "
              f"({[path for path, _, _ in copies]})")
        path, trace, rest = copies[0]
        check(rest == message, f"{path} ({message_id}) is not byte-exact after its trace fields: "
              f"{first_difference(rest, message)}")
        if sender is not None:
            wanted = f"Return-Path: <{sender}>".encode()
            check(trace and trace[0].rstrip(b"\r\n") == wanted, f"{path}: first trace field {trace[:1]!r}, "
                  f"expected {wanted!r}")
    if only:
        unexpected = sorted(set(found) - set(expected), key=str)
        check(not unexpected, f"{address}: unexpected messages {unexpected}")
    return found


# MARK: - DSNs


def dsns(server, address=ALICE):
    """[(path, raw, parsed)] of the multipart/report messages in ADDRESS's INBOX."""
    found = []
    for path, raw in mailbox(server, address):
        parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
        if parsed.get_content_type() == "multipart/report":
            found.append((path, raw, parsed))
    return found


def dsn_parts(path, parsed):
    """(human-readable text, delivery-status text, returned headers text) of a DSN;
    Failure when its structure is not RFC 3464's."""
    report_type = (parsed.get_param("report-type") or "").lower()
    check(report_type == "delivery-status",
          f"{path}: Content-Type {parsed.get('Content-Type')!r}, expected multipart/report; "
          "report-type=delivery-status")
    parts = parsed.get_payload()
    kinds = [part.get_content_type() for part in parts]
    check(len(parts) >= 2 and kinds[1] == "message/delivery-status",
          f"{path}: the parts of the report are {kinds}, expected [text/plain, message/delivery-status, "
          "text/rfc822-headers or message/rfc822]")
    human = parts[0].get_payload(decode=True) or b""
    status_blocks = parts[1].get_payload()
    if isinstance(status_blocks, list):
        status = "\n".join(block.as_string() for block in status_blocks)
    else:
        status = str(status_blocks)
    returned = ""
    if len(parts) > 2:
        check(kinds[2] in ("text/rfc822-headers", "message/rfc822"),
              f"{path}: the third part is {kinds[2]}, expected text/rfc822-headers or message/rfc822")
        returned = parts[2].as_string()
    return human.decode("utf-8", "replace"), status, returned


def check_dsn(path, raw, parsed, recipient, status_code, original_id=None, original_subject=None,
              action="failed"):
    """An RFC 3464 report for RECIPIENT with Status STATUS_CODE and Action ACTION, sent
    from <>, returning the original's headers. Returns the delivery-status text."""
    trace, _ = split_trace(raw)
    check(trace and trace[0].rstrip(b"\r\n") == b"Return-Path: <>",
          f"{path}: a DSN must be sent from <> (RFC 5321 §4.5.5); its first trace field is {trace[:1]!r}")
    human, status, returned = dsn_parts(path, parsed)
    fields = {}
    for line in re.sub(r"\r?\n[ \t]+", " ", status).splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), []).append(value.strip())
    check(fields.get("reporting-mta"), f"{path}: the delivery-status lacks Reporting-MTA: {status!r}")
    finals = [value.lower() for value in fields.get("final-recipient", [])]
    check(any(recipient.lower() in value for value in finals),
          f"{path}: Final-Recipient {fields.get('final-recipient')}, expected rfc822; {recipient}: {status!r}")
    check(status_code in fields.get("status", []),
          f"{path}: Status {fields.get('status')}, expected {status_code}: {status!r}")
    check(action in [value.lower() for value in fields.get("action", [])],
          f"{path}: Action {fields.get('action')}, expected {action}: {status!r}")
    if original_id is not None:
        check(original_id in returned, f"{path}: the returned headers lack the original Message-ID "
              f"{original_id}: {returned[:400]!r}")
    if original_subject is not None:
        check(original_subject in returned, f"{path}: the returned headers lack the original Subject "
              f"{original_subject!r}: {returned[:400]!r}")
    check(recipient.lower() in human.lower() or recipient.lower() in status.lower(),
          f"{path}: the report does not name {recipient}")
    return status


def wait_for_dsns(server, count, w_local, address=ALICE, limit=15.0, what="a DSN"):
    found = wait_for(lambda: len(dsns(server, address)) >= count and dsns(server, address), limit)
    if not found:
        raise Failure(f"{what} did not reach {address}'s INBOX within {limit:.0f} s (it holds "
                      f"{[p for p, _ in mailbox(server, address)]}); local queue: {queue_text(w_local)}; "
                      f"local log: {w_local.log_tail(6)}")
    return found


# MARK: - tsubame queue


def queue_cli(server, *args, timeout=30):
    return run_cli("queue", *args, data=server.directory, timeout=timeout)


def queue_text(server):
    result = queue_cli(server, "list")
    return (result.stdout.strip() or result.stderr.strip())[:1500]


QUEUE_HEADER = re.compile(r"^(?P<id>\S+)\s+(?P<size>\d+)\s+(?P<date>.*\S)\s+(?P<sender><>|<?[^<>\s]*>?)$")
QUEUE_RECIPIENT = re.compile(r"^\s+(?P<address>\S+)\s+(?P<state>" + "|".join(STATES) + r")(?::\s*(?P<error>.*))?$")


def queue_list(server):
    """[{id, size, date, sender ('' for <>), recipients: [{address, state, error}]}] from
    `tsubame queue list`; [] for 'Mail queue is empty'."""
    result = queue_cli(server, "list")
    check(result.returncode == 0, f"`tsubame queue list` failed: {describe(result)}")
    if result.stdout.strip() == "Mail queue is empty":
        return []
    messages = []
    for line in result.stdout.splitlines():
        if not line.strip() or line.startswith("-"):
            continue  # a blank line, or a summary like mailq's "-- 5 Kbytes in 1 Request."
        if line[:1] in (" ", "\t"):
            match = QUEUE_RECIPIENT.match(line)
            check(match is not None and messages, f"`queue list`: {line!r} is not '  <address> <state>[: <error>]' "
                  f"under a message line: {result.stdout[:800]!r}")
            messages[-1]["recipients"].append({"address": match["address"], "state": match["state"],
                                               "error": match["error"] or ""})
        else:
            match = QUEUE_HEADER.match(line)
            check(match is not None, f"`queue list`: {line!r} is not '<QUEUEID> <size> <arrival date> "
                  f"<sender or <>>': {result.stdout[:800]!r}")
            sender = match["sender"]
            messages.append({"id": match["id"], "size": int(match["size"]), "date": match["date"],
                             "sender": "" if sender == "<>" else sender.strip("<>"), "recipients": []})
    for message in messages:
        check(message["recipients"], f"`queue list`: message {message['id']} has no recipient lines: "
              f"{result.stdout[:800]!r}")
    return messages


def wait_for_queue(server, predicate, limit, what):
    """Polls `queue list` until predicate(listing) holds; returns the listing."""
    last = []

    def probe():
        nonlocal last
        last = queue_list(server)
        return predicate(last)

    if not wait_for(probe, limit, interval=0.2):
        raise Failure(f"{what}: not so within {limit:.0f} s; `queue list`: {queue_text(server)!r}; "
                      f"log: {server.log_tail(6)}")
    return last


def wait_until_empty(server, limit=10.0, what="the queue"):
    wait_for_queue(server, lambda listing: listing == [], limit, f"{what} should be empty ('Mail queue is empty')")


def recipient_states(listing):
    return {r["address"].lower(): (r["state"], r["error"]) for m in listing for r in m["recipients"]}


def queue_id_of(listing, recipient):
    for message in listing:
        if any(r["address"].lower() == recipient.lower() for r in message["recipients"]):
            return message["id"]
    raise Failure(f"no queued message for {recipient} in {listing}")


def queue_ok(server, *args):
    result = queue_cli(server, *args)
    check(result.returncode == 0, f"`tsubame queue {' '.join(args)}` failed: {describe(result)}")
    return result.stdout


# MARK: - Scenarios: the Tsubame MX path


def outbound_mx_delivery():
    with world(minimal_backoff="10m", maximal_backoff="20m") as w:
        message_id, message = make_message("mx-delivery")
        submit(w.local, [BOB], message)
        wait_for_delivery(w.local, w.remote, BOB, [message_id])
        found = check_exactly_once(w.remote, BOB, {message_id: message}, sender=ALICE)
        path, trace, _ = found[message_id][0]
        received = trace[1].decode("utf-8", "replace") if len(trace) > 1 else ""
        check(f"from {LOCAL_HOSTNAME} " in received,
              f"{path}: the remote's Received field does not name the EHLO {LOCAL_HOSTNAME} "
              f"([outbound] helo_name): {received!r}")
        check(" with ESMTPS " in received or " with ESMTPSA " in received,
              f"{path}: the hop to the MX was not encrypted although the MX offers STARTTLS ([outbound] tls = "
              f"\"opportunistic\"): {received!r}")
        check(w.dns.queried(REMOTE_DOMAIN, "MX"), f"no MX query for {REMOTE_DOMAIN} reached the DNS responder "
              f"([dns] servers): {w.dns.queried()}")
        wait_until_empty(w.local, what="after the delivery, the queue")
        check_exactly_once(w.remote, BOB, {message_id: message}, sender=ALICE)
        return f"DNS queries: {sorted(set((q[1], q[2]) for q in w.dns.queried()))}"


def outbound_retry():
    with world(remote_running=False, minimal_backoff="10m", maximal_backoff="20m") as w:
        message_id, message = make_message("retry")
        submit(w.local, [BOB], message)
        listing = wait_for_queue(w.local, lambda l: recipient_states(l).get(BOB, ("",))[0] == "deferred", 15,
                                 f"with the MX down, {BOB} should be 'deferred'")
        check(len(listing) == 1 and listing[0]["sender"] == ALICE and listing[0]["size"] > 0,
              f"`queue list` with one deferred message: {listing}")
        error = recipient_states(listing)[BOB][1]
        check("connection refused" in error.lower(), f"`queue list` gives the error {error!r} for {BOB}, expected "
              f"one saying 'Connection refused' in plain words")
        check(MX_ADDRESS in error, f"`queue list`'s error {error!r} does not name the MX address {MX_ADDRESS}")
        queue_id = listing[0]["id"]
        shown = queue_ok(w.local, "show", queue_id)
        for needle in (ALICE, BOB, "deferred", "refused"):
            check(needle.lower() in shown.lower(), f"`queue show {queue_id}` lacks {needle!r}: {shown!r}")
        check("attempt" in shown.lower(), f"`queue show {queue_id}` says nothing of attempts: {shown!r}")
        unknown = queue_cli(w.local, "show", "NOSUCHID0")
        check(unknown.returncode == 1 and unknown.stderr.strip(),
              f"`queue show NOSUCHID0`: {describe(unknown)}, expected exit 1 and a message on stderr")

        w.remote.start()
        time.sleep(1.5)
        check(not by_message_id(w.remote, BOB),
              "delivered before `queue flush` although minimal_backoff is 10m and nothing asked for a retry")
        started = time.monotonic()
        queue_ok(w.local, "flush")
        wait_for_delivery(w.local, w.remote, BOB, [message_id], limit=10)
        elapsed = time.monotonic() - started
        wait_until_empty(w.local, what="after the flushed delivery, the queue")
        time.sleep(1.0)
        check_exactly_once(w.remote, BOB, {message_id: message}, sender=ALICE)
        return f"delivered {elapsed:.2f} s after `queue flush`"


def outbound_queue_cli():
    """`queue retry ID` (that message only), `queue delete ID` (gone, no DSN),
    `queue bounce ID` (a DSN now), with the MX down and then up."""
    with world(remote_running=False, minimal_backoff="10m", maximal_backoff="20m") as w:
        messages = {}
        for tag, recipient in (("retried", BOB), ("deleted", DAVE), ("bounced", f"carl@{REMOTE_DOMAIN}"),
                               ("flushed", f"dave+later@{REMOTE_DOMAIN}")):
            messages[tag] = (recipient,) + make_message(f"cli-{tag}", to=recipient)
            submit(w.local, [recipient], messages[tag][2])
        listing = wait_for_queue(
            w.local, lambda l: sum(r["state"] == "deferred" for m in l for r in m["recipients"]) == 4, 15,
            "four messages should be deferred with the MX down")
        ids = {tag: queue_id_of(listing, recipient) for tag, (recipient, _, _) in messages.items()}
        check(len(set(ids.values())) == 4, f"four messages share queue IDs: {ids}")

        queue_ok(w.local, "delete", ids["deleted"])
        listing = queue_list(w.local)
        check(ids["deleted"] not in [m["id"] for m in listing],
              f"`queue delete {ids['deleted']}`: still listed: {listing}")
        check(queue_cli(w.local, "show", ids["deleted"]).returncode == 1,
              f"`queue show {ids['deleted']}` after delete should exit 1")

        queue_ok(w.local, "bounce", ids["bounced"])
        found = wait_for_dsns(w.local, 1, w.local, what="the DSN of `queue bounce`")
        check(len(found) == 1, f"one `queue bounce` gave {len(found)} DSNs")
        path, raw, parsed = found[0]
        check_dsn(path, raw, parsed, messages["bounced"][0], _status_of(parsed), original_id=messages["bounced"][1])

        w.remote.start()
        queue_ok(w.local, "retry", ids["retried"])
        wait_for_delivery(w.local, w.remote, BOB, [messages["retried"][1]], limit=10)
        time.sleep(1.5)
        listing = queue_list(w.local)
        check([m["id"] for m in listing] == [ids["flushed"]],
              f"after `queue retry {ids['retried']}` only {ids['flushed']} should be left: {listing}")
        queue_ok(w.local, "flush")
        wait_for_delivery(w.local, w.remote, DAVE, [messages["flushed"][1]], limit=10)
        wait_until_empty(w.local)
        check_exactly_once(w.remote, BOB, {messages["retried"][1]: messages["retried"][2]}, sender=ALICE)
        check_exactly_once(w.remote, DAVE, {messages["flushed"][1]: messages["flushed"][2]}, sender=ALICE)
        check(len(dsns(w.local)) == 1, f"alice got {len(dsns(w.local))} DSNs, expected only the bounce's "
              "(delete sends none)")


def _status_of(parsed):
    """The Status of a DSN's first recipient block (any code: `queue bounce` picks its own)."""
    match = re.search(r"(?mi)^Status:\s*([245]\.\d{1,3}\.\d{1,3})", parsed.as_string())
    check(match is not None, f"the DSN has no Status field: {parsed.as_string()[:600]!r}")
    check(match.group(1).startswith("5."), f"the DSN of `queue bounce` has Status {match.group(1)}, expected 5.x.x")
    return match.group(1)


def outbound_bounce():
    with world(minimal_backoff="10m", maximal_backoff="20m") as w:
        unknown = f"nobody@{REMOTE_DOMAIN}"
        message_id, message = make_message("bounce-me", to=unknown)
        submit(w.local, [unknown], message)
        found = wait_for_dsns(w.local, 1, w.local, what=f"the DSN for {unknown} (the MX answers 550 5.1.1)")
        check(len(found) == 1, f"alice got {len(found)} DSNs, expected 1")
        path, raw, parsed = found[0]
        check((parsed.get("Subject") or "").strip() == DSN_SUBJECT,
              f"{path}: Subject {parsed.get('Subject')!r}, expected {DSN_SUBJECT!r}")
        status = check_dsn(path, raw, parsed, unknown, "5.1.1", original_id=message_id,
                           original_subject="Subject: bounce-me")
        check("550" in status, f"{path}: the Diagnostic-Code does not carry the MX's 550 reply: {status!r}")
        wait_until_empty(w.local, what="after the bounce, the queue")

        # A message from <> that bounces: no DSN at all (RFC 5321 §4.5.5, §6.1).
        null_id, null_message = make_message("from-null-sender", sender="", to=f"nobody2@{REMOTE_DOMAIN}")
        submit(w.local, [f"nobody2@{REMOTE_DOMAIN}"], null_message, sender="")
        time.sleep(1.0)
        wait_until_empty(w.local, limit=10, what="after the MX refused the message from <>, the queue")
        time.sleep(1.0)
        check(len(dsns(w.local)) == 1, f"alice has {len(dsns(w.local))} DSNs after the message from <> bounced, "
              "expected still 1")
        for address in LOCAL_PASSWORDS:
            for path, raw in mailbox(w.local, address):
                check(null_id.encode() not in raw, f"{path}: a DSN for the message from <> ({null_id})")
        check(not by_message_id(w.remote, BOB) and not by_message_id(w.remote, DAVE),
              "the remote's users received mail in the bounce scenario")
        return None


def outbound_next_mx():
    zone = standard_zone()
    zone[REMOTE_DOMAIN] = [("MX", 20, "mx.remote.test"), ("MX", 10, "dead.remote.test")]
    with world(zone=zone, minimal_backoff="10m", maximal_backoff="20m") as w:
        message_id, message = make_message("next-mx")
        submit(w.local, [BOB], message)
        wait_for_delivery(w.local, w.remote, BOB, [message_id], limit=15)
        check_exactly_once(w.remote, BOB, {message_id: message}, sender=ALICE)
        wait_until_empty(w.local)
        tried_dead = w.dns.queried("dead.remote.test")
        return f"MX 10 {DEAD_ADDRESS} refused, MX 20 took it; dead.remote.test queried {len(tried_dead)} times"


def outbound_null_mx():
    with world(minimal_backoff="10m", maximal_backoff="20m") as w:
        recipient = "someone@null.test"
        message_id, message = make_message("null-mx", to=recipient)
        started = time.monotonic()
        submit(w.local, [recipient], message)
        found = wait_for_dsns(w.local, 1, w.local, limit=10, what=f"the DSN for {recipient} (null MX, RFC 7505)")
        elapsed = time.monotonic() - started
        path, raw, parsed = found[0]
        check_dsn(path, raw, parsed, recipient, "5.1.10", original_id=message_id)
        wait_until_empty(w.local)
        return f"bounced {elapsed:.2f} s after submission"


def outbound_expiry():
    """MX down: a delay warning (Action: delayed) after delay_warning, a failure DSN
    after maximal_lifetime, then the queue is empty."""
    with world(remote_running=False, minimal_backoff="1s", maximal_backoff="1s", maximal_lifetime="4s",
               delay_warning="2s") as w:
        message_id, message = make_message("expiry")
        submit(w.local, [BOB], message)
        found = wait_for_dsns(w.local, 2, w.local, limit=20, what="a delay warning and the expiry DSN")
        actions = []
        for path, raw, parsed in found:
            _, status, _ = dsn_parts(path, parsed)
            actions += re.findall(r"(?mi)^Action:\s*(\S+)", status)
        check("delayed" in [a.lower() for a in actions] and "failed" in [a.lower() for a in actions],
              f"the DSNs say Action {actions}, expected a 'delayed' (delay_warning) and a 'failed' "
              "(maximal_lifetime)")
        failed = [(p, r, m) for p, r, m in found if re.search(r"(?mi)^Action:\s*failed", m.as_string())]
        path, raw, parsed = failed[0]
        status = check_dsn(path, raw, parsed, BOB, _any_status(parsed), original_id=message_id)
        check("refused" in status.lower(), f"{path}: the expiry DSN does not give the last error (connection "
              f"refused): {status!r}")
        wait_until_empty(w.local)


def _any_status(parsed):
    match = re.search(r"(?mi)^Status:\s*([245]\.\d{1,3}\.\d{1,3})", parsed.as_string())
    check(match is not None, f"the DSN has no Status field: {parsed.as_string()[:600]!r}")
    return match.group(1)


def outbound_restart():
    with world(remote_running=False, minimal_backoff="10m", maximal_backoff="20m") as w:
        sent = {}

        def submit_batch(tag, count):
            for index in range(count):
                message_id, message = make_message(f"restart-{tag}{index}")
                submit(w.local, [BOB], message)
                sent[message_id] = message
            wait_for_queue(w.local, lambda l: len(l) == len(sent) and all(
                r["state"] == "deferred" for m in l for r in m["recipients"]), 15,
                f"{len(sent)} messages should be deferred with the MX down")

        def restart(sig):
            w.local.process.send_signal(sig)
            try:
                code = w.local.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                raise Failure(f"the server was still running 10 s after {sig.name}")
            if sig == signal.SIGTERM:
                check(code == 0, f"the server exited with {code} after SIGTERM; log: {w.local.log_tail()}")
            w.local.spawn()
            ready, why = w.local.wait_until_listening(10.0)
            check(ready, f"restart after {sig.name} failed: {why}; log: {w.local.log_tail()}")
            listing = queue_list(w.local)
            check(len(listing) == len(sent), f"after {sig.name} and a restart `queue list` shows {len(listing)} "
                  f"messages, expected {len(sent)}: {queue_text(w.local)!r}")

        submit_batch("a", 3)
        restart(signal.SIGTERM)
        submit_batch("b", 2)
        restart(signal.SIGKILL)
        w.remote.start()
        queue_ok(w.local, "flush")
        wait_for_delivery(w.local, w.remote, BOB, list(sent), limit=20)
        wait_until_empty(w.local)
        time.sleep(1.0)
        check_exactly_once(w.remote, BOB, sent, sender=ALICE)
        return f"{len(sent)} messages across SIGTERM and SIGKILL, each delivered once"


def outbound_parallel():
    with world(minimal_backoff="1s", maximal_backoff="2s") as w:
        plans = []  # (Message-ID, bytes, recipients)
        for index in range(20):
            recipients = [[BOB, CAROL], [BOB, DAVE], [BOB, CAROL, DAVE]][index % 3]
            message_id, message = make_message(f"parallel{index:02d}", to=", ".join(recipients),
                                               attachment=3_750_000 if index == 6 else 0,
                                               filler_lines=index * 10)
            plans.append((message_id, message, recipients))
        expected = {address: {} for address in (BOB, CAROL, DAVE)}
        for message_id, message, recipients in plans:
            for address in recipients:
                expected[address][message_id] = message
        problems = []
        start = threading.Barrier(len(plans) + 1)
        stop = threading.Event()
        imap_state = {"seen": set(), "rounds": 0}

        def run(index, plan):
            message_id, message, recipients = plan
            try:
                start.wait()
                submit(w.local, recipients, message, service="submissions" if index % 4 == 3 else "submission")
            except Exception as error:  # reported below, with the others
                problems.append(f"{message_id}: {type(error).__name__}: {error}")

        def sync():
            try:
                imap = imaplib.IMAP4_SSL(HOST, w.local.ports["imaps"], ssl_context=unverified_context(),
                                         timeout=IO_TIMEOUT * 4)
                try:
                    typ, data = imap.login(CAROL, LOCAL_PASSWORDS[CAROL])
                    check(typ == "OK", f"IMAP LOGIN as carol answered {typ} {data}")
                    start.wait()
                    while not stop.is_set():
                        typ, data = imap.select("INBOX")
                        check(typ == "OK", f"IMAP SELECT INBOX answered {typ} {data}")
                        if int(data[0]) > 0:
                            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
                            check(typ == "OK", f"IMAP UID FETCH answered {typ}")
                            for item in data:
                                if isinstance(item, tuple):
                                    found = message_id_of(item[1])
                                    if found:
                                        imap_state["seen"].add(found)
                        imap.noop()
                        imap_state["rounds"] += 1
                        time.sleep(0.1)
                finally:
                    try:
                        imap.logout()
                    except (OSError, imaplib.IMAP4.error):
                        pass
            except Exception as error:  # reported below
                problems.append(f"IMAP sync: {type(error).__name__}: {error}")
                with contextlib.suppress(threading.BrokenBarrierError):
                    start.abort()

        syncer = threading.Thread(target=sync, daemon=True)
        syncer.start()
        threads = [threading.Thread(target=run, args=item, daemon=True) for item in enumerate(plans)]
        for thread in threads:
            thread.start()
        began = time.monotonic()
        for thread in threads:
            thread.join(timeout=60)
        check(not any(thread.is_alive() for thread in threads), "submissions still running after 60 s")
        check(not problems, f"{len(problems)} problems: {'; '.join(problems[:3])}")
        for address in (BOB, DAVE):
            wait_for_delivery(w.local, w.remote, address, list(expected[address]), limit=60)
        wait_for_delivery(w.local, w.local, CAROL, list(expected[CAROL]), limit=30)
        elapsed = time.monotonic() - began
        wait_for(lambda: expected[CAROL].keys() <= imap_state["seen"], 10)
        stop.set()
        syncer.join(timeout=15)
        check(not problems, f"{len(problems)} problems: {'; '.join(problems[:3])}")
        missing = sorted(set(expected[CAROL]) - imap_state["seen"])
        check(not missing, f"the IMAP client syncing carol's INBOX never saw {missing[:3]} "
              f"({imap_state['rounds']} rounds)")
        wait_until_empty(w.local, limit=20)
        time.sleep(1.0)
        for address, server in ((BOB, w.remote), (DAVE, w.remote), (CAROL, w.local)):
            check_exactly_once(server, address, expected[address])
        return f"{elapsed:.2f} s for 20 submissions and their deliveries; {imap_state['rounds']} IMAP rounds"


# MARK: - Postfix smarthost and smtp-sink


def sbin(name):
    return shutil.which(name) or f"/usr/sbin/{name}"


class SmtpSink:
    """Debian's smtp-sink on 127.0.0.1 and a free port, dumping every message to a file
    below DIRECTORY/sink (-d): smtp-sink's X-… lines, its Received:, then the message with
    LF line ends, then an empty line."""

    def __init__(self, directory):
        self.dump = os.path.join(directory, "sink")
        self.log_path = os.path.join(directory, "smtp-sink.log")
        self.process = None
        self.port = None
        self.log_file = None

    def start(self):
        os.makedirs(self.dump, exist_ok=True)
        as_root = os.geteuid() == 0
        if as_root:
            os.chown(self.dump, pwd.getpwnam("postfix").pw_uid, -1)
        self.log_file = open(self.log_path, "ab")
        for _ in range(3):
            (self.port,) = free_ports(1)
            command = [sbin("smtp-sink"), *(["-u", "postfix"] if as_root else []), "-h", "sink.test",
                       "-d", os.path.join(self.dump, "%Y%m%d%H/%M."), f"127.0.0.1:{self.port}", "100"]
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                            stderr=self.log_file)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise Failure(f"smtp-sink did not listen: {file_tail(self.log_path)}")

    def dumps(self):
        found = []
        for root, _, names in os.walk(self.dump):
            for name in names:
                with open(os.path.join(root, name), "rb") as f:
                    found.append(f.read())
        return found

    def find(self, message):
        """The complete dumps holding MESSAGE (compared with LF line ends)."""
        wanted = message.replace(b"\r\n", b"\n")
        return [dump for dump in self.dumps() if dump.endswith(wanted + b"\n") or wanted + b"\n\n" in dump]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.log_file is not None:
            self.log_file.close()
            self.log_file = None


class PostfixSmarthost:
    """A private Postfix (own config_directory, queue_directory and data_directory under
    BASE, smtpd on HOST (127.0.0.1) and PORT (a free one when None)), passing everything
    it accepts to [127.0.0.1]:RELAY_PORT. Three roles:

      * a smarthost (SASL_SOCKET given): requires STARTTLS and AUTH, SASL through
        SASL_SOCKET with `smtpd_sasl_type = dovecot` (a Tsubame `[auth_socket]` or the
        anchors' real Dovecot), relays for authenticated clients only;
      * an MX (RELAY_DOMAINS given, e.g. "postfix.test"): accepts mail for those domains
        only, from anyone, without AUTH; offers STARTTLS and logs each TLS session
        (`smtpd_tls_loglevel = 1`) and its TLS in the Received field it adds;
      * neither: no TLS, no AUTH, relays for 127.0.0.1 (mynetworks), as the benchmark's
        Postfix."""

    def __init__(self, base, relay_port, sasl_socket=None, host="127.0.0.1", port=None, relay_domains=None,
                 hostname="smarthost.relay.test"):
        self.base = base
        self.config = os.path.join(base, "etc")
        self.queue = os.path.join(base, "queue")
        self.data = os.path.join(base, "data")
        self.maillog = os.path.join(base, "postfix.log")
        self.relay_port = relay_port
        self.sasl_socket = sasl_socket
        self.host = host
        self.fixed_port = port
        self.relay_domains = relay_domains
        self.hostname = hostname
        self.port = port
        self.started = False

    @staticmethod
    def private_directory(base):
        """BASE/queue/private, owned by postfix: where the auth socket goes (create the
        Tsubame auth socket there before start())."""
        private = os.path.join(base, "queue", "private")
        os.makedirs(private, exist_ok=True)
        os.chmod(os.path.join(base, "queue"), 0o755)
        os.chmod(private, 0o700)
        os.chown(private, pwd.getpwnam("postfix").pw_uid, 0)
        return private

    def certificate(self):
        """A self-signed certificate for `hostname`: the smtpd_tls_* settings using it."""
        cert, key = os.path.join(self.config, "cert.pem"), os.path.join(self.config, "key.pem")
        result = subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
             "-days", "2", "-subj", f"/CN={self.hostname}"], capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, f"openssl could not make {self.hostname}'s certificate: {describe(result)}")
        os.chmod(key, 0o600)
        return [f"smtpd_tls_cert_file = {cert}", f"smtpd_tls_key_file = {key}", "smtpd_tls_loglevel = 1"]

    def start(self):
        for path in (self.config, self.queue, self.data):
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o755)
        os.chmod(self.base, 0o755)
        os.chown(self.data, pwd.getpwnam("postfix").pw_uid, 0)
        domain = self.hostname.partition(".")[2] or self.hostname
        settings = [
            "compatibility_level = 3.6",
            f"queue_directory = {self.queue}",
            f"data_directory = {self.data}",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            f"myhostname = {self.hostname}",
            f"mydomain = {domain}",
            "myorigin = $myhostname",
            "mydestination =",
            "local_recipient_maps =",
            f"relay_domains = {self.relay_domains or ''}".rstrip(),
            f"relayhost = [127.0.0.1]:{self.relay_port}",
            "smtp_dns_support_level = disabled",
            "smtp_tls_security_level = none",
            "mynetworks = 127.0.0.1/32",
            "inet_interfaces = 127.0.0.1",  # master.cf binds smtpd to HOST itself
            "inet_protocols = ipv4",
            "alias_maps =",
            "alias_database =",
            f"maillog_file = {self.maillog}",
            f"maillog_file_prefixes = {self.base}",
            "maillog_file_permissions = 0644",
            "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
            "smtpd_banner = $myhostname ESMTP",
            "message_size_limit = 52428800",
            "biff = no",
        ]
        if self.sasl_socket is not None:
            settings += self.certificate() + [
                "smtpd_tls_security_level = encrypt",
                "smtpd_tls_auth_only = yes",
                "smtpd_sasl_auth_enable = yes",
                "smtpd_sasl_type = dovecot",
                f"smtpd_sasl_path = {self.sasl_socket}",
                "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
                "smtpd_recipient_restrictions = permit_sasl_authenticated, reject",
            ]
        elif self.relay_domains:
            settings += self.certificate() + [
                "smtpd_tls_security_level = may",
                "smtpd_tls_received_header = yes",
                "smtpd_relay_restrictions = reject_unauth_destination",
            ]
        else:
            settings += [
                "smtpd_tls_security_level = none",
                "smtpd_relay_restrictions = permit_mynetworks, reject",
            ]
        last = ""
        for _ in range(3):
            if self.fixed_port is None:
                (self.port,) = free_ports(1)
            master_cf = private_master_cf(self.port)
            master_cf = master_cf.replace(f"127.0.0.1:{self.port} inet ", f"{self.host}:{self.port} inet ", 1)
            with open(os.path.join(self.config, "master.cf"), "w") as f:
                f.write(master_cf)
            with open(os.path.join(self.config, "main.cf"), "w") as f:
                f.write("\n".join(settings) + "\n")
            code, output = postfix(self.config, "check")
            check(code == 0, f"`postfix -c {self.config} check` exited {code}: {output[-800:]!r}; "
                  f"log: {file_tail(self.maillog)}")
            code, output = postfix(self.config, "start")
            self.started = True
            check(code == 0, f"`postfix -c {self.config} start` exited {code}: {output[-800:]!r}; "
                  f"log: {file_tail(self.maillog)}")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection((self.host, self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.1)
            last = file_tail(self.maillog)
            self.stop()
        raise Failure(f"Postfix's smtpd did not listen on {self.host}:{self.port}; log: {last}")

    def log(self):
        try:
            with open(self.maillog, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.started:
            postfix(self.config, "stop")
            self.started = False


def smarthost_missing():
    reason = postfix_missing()
    if reason is None and not os.access(sbin("smtp-sink"), os.X_OK):
        reason = "smtp-sink (package postfix) is not installed"
    if reason is None and shutil.which("openssl") is None:
        reason = "openssl is not installed"
    return reason


@contextlib.contextmanager
def smarthost_chain(sasl_socket=None):
    """(auth Tsubame, Postfix smarthost, smtp-sink): Postfix on a high port requiring
    STARTTLS + AUTH against the auth Tsubame's socket, relaying to smtp-sink. With
    SASL_SOCKET (an existing Dovecot auth socket), Postfix uses that and there is no
    auth Tsubame (None)."""
    base = tempfile.mkdtemp(prefix="tsubame-e2e-smarthost-")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, True)
        sink = SmtpSink(base)
        stack.callback(sink.stop)
        sink.start()
        if sasl_socket is not None:
            smarthost = PostfixSmarthost(base, sink.port, sasl_socket=sasl_socket)
            stack.callback(smarthost.stop)
            smarthost.start()
            yield None, smarthost, sink
            return
        socket_path = os.path.join(PostfixSmarthost.private_directory(base), "auth")
        auth = ServerProcess(services=("smtp",), hostname="auth.relay.test", extra_config=(
            f'[auth_socket]\npath = "{socket_path}"\nmode = "0660"\nuser = "postfix"\n'
            '[auth]\nfailure_delay = "100ms"\n'))
        stack.callback(auth.cleanup)
        add_users(auth, "relay.test", {RELAY_USER: RELAY_PASSWORD})
        auth.start()
        wait_for_socket(auth, socket_path)
        smarthost = PostfixSmarthost(base, sink.port, sasl_socket=socket_path)
        stack.callback(smarthost.stop)
        smarthost.start()
        yield auth, smarthost, sink


def swaks_through(smarthost, password, message_id, recipient="someone@elsewhere.test", auth=True):
    args = ["--server", f"127.0.0.1:{smarthost.port}", "--tls", "--from", RELAY_USER, "--to", recipient,
            "--helo", "client.relay.test", "--header", f"Message-Id: {message_id}", "--body", "via the smarthost"]
    if auth:
        args += ["--auth", "PLAIN", "--auth-user", RELAY_USER, "--auth-password", password]
    return swaks_raw(*args)


def verify_smarthost(auth, smarthost, sink):
    """The peers alone: swaks with STARTTLS + AUTH through Postfix reaches smtp-sink;
    without AUTH and with a wrong password Postfix refuses."""
    message_id = f"<peer.{uuid.uuid4().hex}@relay.test>"
    code, transcript = swaks_through(smarthost, RELAY_PASSWORD, message_id)
    check(code == 0 and re.search(r"^<~? +235", transcript, re.M) and re.search(r"^<~? +250 .*queued", transcript, re.M),
          f"swaks with STARTTLS + AUTH through the Postfix smarthost failed (exit {code}): "
          f"{' | '.join(transcript.strip().splitlines()[-8:])}; Postfix log: {file_tail(smarthost.maillog, 8)}; "
          f"auth Tsubame log: {auth.log_tail(4)}")
    arrived = wait_for(lambda: [d for d in sink.dumps() if message_id.encode() in d and b"via the smarthost" in d], 15)
    check(arrived, f"Postfix accepted {message_id} but smtp-sink has no dump of it 15 s later; "
          f"Postfix log: {file_tail(smarthost.maillog, 8)}; sink log: {file_tail(sink.log_path)}")
    code, transcript = swaks_through(smarthost, RELAY_PASSWORD, f"<noauth.{uuid.uuid4().hex}@relay.test>", auth=False)
    check(code != 0 and re.search(r"^<~?\*? +5\d\d", transcript, re.M),
          f"the smarthost relayed without AUTH (swaks exit {code}): {' | '.join(transcript.strip().splitlines()[-6:])}")
    code, transcript = swaks_through(smarthost, "wrong password", f"<wrong.{uuid.uuid4().hex}@relay.test>")
    check(re.search(r"^<~?\*? +535", transcript, re.M),
          f"a wrong password through the smarthost did not get 535 (swaks exit {code}): "
          f"{' | '.join(transcript.strip().splitlines()[-6:])}")
    return len(sink.dumps())


def outbound_smarthost_postfix():
    reason = smarthost_missing()
    if reason:
        raise Skip(reason)
    dns = DNSResponder(standard_zone()).start()
    try:
        with smarthost_chain() as (auth, smarthost, sink):
            relay = {"host": f"127.0.0.1:{smarthost.port}", "tls": "starttls", "verify_certificate": False,
                     "username": RELAY_USER, "password": RELAY_PASSWORD}
            recipient = "someone@elsewhere.test"
            with local_server(dns, choose_mx_port(), relay=relay) as local:
                message_id, message = make_message("smarthost", to=recipient)
                submit(local, [recipient], message)
                arrived = wait_for(lambda: sink.find(message), 20)
                check(arrived, f"{message_id} did not reach smtp-sink through the Postfix smarthost within 20 s; "
                      f"local queue: {queue_text(local)!r}; local log: {local.log_tail(6)}; "
                      f"Postfix log: {file_tail(smarthost.maillog, 8)}")
                dump = arrived[0].decode("utf-8", "replace")
                check(f"X-Mail-Args: <{ALICE}>" in dump, f"the sink's envelope sender is not <{ALICE}>: {dump[:400]!r}")
                check(f"X-Rcpt-Args: <{recipient}>" in dump, f"the sink's recipient is not <{recipient}>: {dump[:400]!r}")
                check(not queries_under(dns, "elsewhere.test"),
                      f"Tsubame looked up elsewhere.test although [relay] routes all mail: {dns.queried()}")
                check(re.search(rf"sasl_username={re.escape(RELAY_USER)}", smarthost.log()),
                      f"Postfix did not log an authenticated client (sasl_username={RELAY_USER}): "
                      f"{file_tail(smarthost.maillog, 8)}")
                wait_until_empty(local)
            # The same with a wrong password (from password_file): deferred, saying why.
            secret = os.path.join(smarthost.base, "relay-password")
            with open(secret, "w") as f:
                f.write("not the password\n")
            relay = dict(relay)
            del relay["password"]
            relay["password_file"] = secret
            with local_server(dns, choose_mx_port(), relay=relay) as local:
                message_id, message = make_message("smarthost-wrong-password", to=recipient)
                submit(local, [recipient], message)
                listing = wait_for_queue(local, lambda l: recipient_states(l).get(recipient, ("",))[0] == "deferred",
                                         20, f"with a wrong relay password, {recipient} should be 'deferred'")
                shown = queue_ok(local, "show", listing[0]["id"])
                check("deferred" in shown and ("535" in shown or "authentication failed" in shown.lower()),
                      f"`queue show` does not give the smarthost's 535 / 'authentication failed': {shown!r}")
                check(not sink.find(message), "the message sent with a wrong password reached smtp-sink")
            return f"Postfix smarthost on 127.0.0.1:{smarthost.port} → smtp-sink on 127.0.0.1:{sink.port}"
    finally:
        dns.stop()


# MARK: - Debian's Postfix as the MX, the anchors' Dovecot as the smarthost's SASL


POSTFIX_DOMAIN = "postfix.test"
POSTFIX_MX_ADDRESS = "127.0.0.4"   # mx.postfix.test: a private Debian Postfix


def outbound_mx_postfix():
    """Debian's Postfix as the remote MTA found through MX: postfix.test MX 10
    mx.postfix.test, A 127.0.0.4, where a private Postfix listens on the `[outbound]
    mx_port`, offering STARTTLS (self-signed), relaying postfix.test to smtp-sink. The
    message arrives byte-exact, over TLS (Postfix's log and Received field), and the
    queue empties."""
    reason = smarthost_missing()
    if reason:
        raise Skip(reason)
    zone = standard_zone()
    zone[POSTFIX_DOMAIN] = [("MX", 10, f"mx.{POSTFIX_DOMAIN}")]
    zone[f"mx.{POSTFIX_DOMAIN}"] = [("A", POSTFIX_MX_ADDRESS)]
    recipient = f"someone@{POSTFIX_DOMAIN}"
    base = tempfile.mkdtemp(prefix="tsubame-e2e-mx-postfix-")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, base, True)
        dns = stack.enter_context(DNSResponder(zone))
        sink = SmtpSink(base)
        stack.callback(sink.stop)
        sink.start()
        port = choose_mx_port((POSTFIX_MX_ADDRESS, "127.0.0.1"))
        mx = PostfixSmarthost(base, sink.port, host=POSTFIX_MX_ADDRESS, port=port, relay_domains=POSTFIX_DOMAIN,
                              hostname=f"mx.{POSTFIX_DOMAIN}")
        stack.callback(mx.stop)
        mx.start()
        local = stack.enter_context(local_server(dns, port, minimal_backoff="10m", maximal_backoff="20m"))
        message_id, message = make_message("mx-postfix", to=recipient)
        submit(local, [recipient], message)
        arrived = wait_for(lambda: sink.find(message), 15)
        check(arrived, f"{message_id} did not reach smtp-sink through the Postfix MX {POSTFIX_MX_ADDRESS}:{port} "
              f"within 15 s; local queue: {queue_text(local)!r}; local log: {local.log_tail(6)}; "
              f"Postfix log: {file_tail(mx.maillog, 8)}")
        check(len(arrived) == 1, f"smtp-sink holds {len(arrived)} copies of {message_id}, expected 1")
        dump = arrived[0].decode("utf-8", "replace")
        check(f"X-Mail-Args: <{ALICE}>" in dump, f"the sink's envelope sender is not <{ALICE}>: {dump[:400]!r}")
        check(f"X-Rcpt-Args: <{recipient}>" in dump, f"the sink's recipient is not <{recipient}>: {dump[:400]!r}")
        check(dns.queried(POSTFIX_DOMAIN, "MX") and dns.queried(f"mx.{POSTFIX_DOMAIN}", "A"),
              f"Tsubame did not look up {POSTFIX_DOMAIN} MX and mx.{POSTFIX_DOMAIN} A: {dns.queried()}")
        log = mx.log()
        queued = re.search(rf"smtpd\[(\d+)\]: (\w+): client=.*\n(?:.*\n)*?.*cleanup\[\d+\]: \2: "
                           rf"message-id={re.escape(message_id)}", log)
        check(queued, f"Postfix's log does not show its smtpd receiving {message_id}: {file_tail(mx.maillog, 10)}")
        tls = re.search(rf"smtpd\[{queued.group(1)}\]: \S+ TLS connection established from \S+: (TLSv[\d.]+) "
                        r"with cipher (\S+)", log)
        check(tls, f"Postfix's log shows no TLS session in the smtpd that received {message_id} although the MX "
              f"offers STARTTLS ([outbound] tls = \"opportunistic\"): {file_tail(mx.maillog, 10)}")
        received = re.search(rf"(?ms)^Received: from {re.escape(LOCAL_HOSTNAME)} .*?(?=^\S)", dump)
        check(received and "using TLS" in received.group(0),
              f"Postfix's Received field does not name the EHLO {LOCAL_HOSTNAME} and TLS: "
              f"{received.group(0) if received else dump[:600]!r}")
        check(re.search(rf"to=<{re.escape(recipient)}>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}.*status=sent",
                        log), f"Postfix did not log its relay of {recipient} to smtp-sink: {file_tail(mx.maillog, 6)}")
        wait_until_empty(local, what="after the delivery to the Postfix MX, the queue")
        return (f"MX mx.{POSTFIX_DOMAIN} {POSTFIX_MX_ADDRESS}:{port} (Postfix, {tls.group(1)} {tls.group(2)}) → "
                f"smtp-sink 127.0.0.1:{sink.port}")


ANCHORS_USER = "user1@example.test"
ANCHORS_PASSWORD = "pass"
ANCHORS_AUTH_SOCKET = "/var/spool/postfix/private/auth"  # what setup-anchors.sh configures

def handshake_as_postfix(path):
    """(True, handshake lines) when user postfix (as Postfix's smtpd runs) can connect to
    the auth socket PATH and read the server's handshake up to DONE; (False, why) else."""
    entry = pwd.getpwnam("postfix")
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # the child: drop to postfix, connect, pass on what the server says
        code = 1
        try:
            os.close(reader)
            os.setgroups([])
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(3)
            client.connect(path)
            data = b""
            while b"\nDONE\n" not in data:
                chunk = client.recv(4096)
                if not chunk:
                    break
                data += chunk
            client.close()
            os.write(writer, data)
            code = 0
        except BaseException as error:  # reported through the pipe
            with contextlib.suppress(BaseException):
                os.write(writer, f"{type(error).__name__}: {error}".encode())
        finally:
            os._exit(code)
    os.close(writer)
    output = b""
    with os.fdopen(reader, "rb") as pipe:
        output = pipe.read()
    _, status = os.waitpid(child, 0)
    text = output.decode("utf-8", "replace")
    if os.waitstatus_to_exitcode(status) != 0:
        return False, text
    return True, text.splitlines()


def anchors_auth_socket():
    """(path, None): the anchors' running Dovecot's auth socket for Postfix, which user
    postfix can connect to and which answers with Dovecot's auth handshake offering
    PLAIN; or (None, why not). Only reads: the anchors' configuration stays as it is."""
    doveconf = shutil.which("doveconf")
    if doveconf is None:
        return None, ("Dovecot is not installed (no doveconf): the anchors are not set up "
                      "(../shared/anchors/setup-anchors.sh)")
    result = subprocess.run([doveconf, "-n"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return None, f"`doveconf -n` failed: {describe(result)}"
    candidates = []
    block = re.search(r"(?ms)^service auth \{\n(.*?)^\}", result.stdout)
    if block:
        candidates = [path for path in re.findall(r"(?m)^\s*unix_listener (\S+) \{", block.group(1))
                      if path.startswith("/")]
    candidates.sort(key=lambda path: "postfix" not in path)
    if ANCHORS_AUTH_SOCKET not in candidates:
        candidates.append(ANCHORS_AUTH_SOCKET)
    base_dir = subprocess.run([doveconf, "-h", "base_dir"], capture_output=True, text=True, timeout=30).stdout.strip()
    pid_file = os.path.join(base_dir or "/run/dovecot", "master.pid")
    try:
        with open(pid_file) as f:
            os.kill(int(f.read().split()[0]), 0)
    except (OSError, ValueError, IndexError) as error:
        return None, (f"the anchors' Dovecot is not running ({pid_file}: {error}); start it with "
                      "../shared/anchors/setup-anchors.sh")
    problems = []
    for path in candidates:
        try:
            if not stat.S_ISSOCK(os.stat(path).st_mode):
                problems.append(f"{path} is not a socket")
                continue
        except OSError as error:
            problems.append(f"{path}: {error.strerror}")
            continue
        answered, lines = handshake_as_postfix(path)
        if not answered or not lines or not lines[0].startswith("VERSION\t1\t") or "DONE" not in lines:
            problems.append(f"{path} does not answer user postfix with Dovecot's auth handshake: "
                            f"{str(lines)[:200]!r}")
            continue
        if not any(line.startswith("MECH\tPLAIN") for line in lines):
            problems.append(f"{path} does not offer PLAIN: {lines}")
            continue
        return path, None
    return None, "the anchors' Dovecot auth socket is not reachable: " + "; ".join(problems)


def outbound_smarthost_dovecot_sasl():
    """The Postfix smarthost with SASL by the anchors' real Dovecot (its Postfix auth
    socket, read from `doveconf -n`, used as an absolute smtpd_sasl_path; nothing of the
    anchors changes): Tsubame's [relay] as user1@example.test. A wrong password first
    (one attempt: deferred with Dovecot's 535), then the right one (delivered to
    smtp-sink; this success also clears the penalty Dovecot keeps for 127.0.0.1)."""
    reason = smarthost_missing()
    if reason:
        raise Skip(reason)
    socket_path, reason = anchors_auth_socket()
    if socket_path is None:
        raise Skip(reason)
    recipient = "someone@elsewhere.test"
    with contextlib.ExitStack() as stack:
        dns = stack.enter_context(DNSResponder(standard_zone()))
        _, smarthost, sink = stack.enter_context(smarthost_chain(sasl_socket=socket_path))
        relay = {"host": f"127.0.0.1:{smarthost.port}", "tls": "starttls", "verify_certificate": False,
                 "username": ANCHORS_USER, "password": "not the password"}
        # minimal_backoff 10m: a single attempt with the wrong password, not a stream of them.
        with local_server(dns, choose_mx_port(), relay=relay, minimal_backoff="10m", maximal_backoff="20m") as local:
            message_id, message = make_message("dovecot-sasl-wrong-password", to=recipient)
            submit(local, [recipient], message)
            listing = wait_for_queue(local, lambda l: recipient_states(l).get(recipient, ("",))[0] == "deferred",
                                     15, f"with a wrong relay password, {recipient} should be 'deferred'")
            shown = queue_ok(local, "show", listing[0]["id"])
            check("deferred" in shown and "535" in shown,
                  f"`queue show` does not give the smarthost's 535 (Dovecot refused the password): {shown!r}; "
                  f"Postfix log: {file_tail(smarthost.maillog, 6)}")
            check(re.search(r"SASL PLAIN authentication failed|SASL LOGIN authentication failed", smarthost.log()),
                  f"Postfix did not log a SASL failure: {file_tail(smarthost.maillog, 6)}")
            check(not sink.find(message), "the message sent with a wrong password reached smtp-sink")
        relay["password"] = ANCHORS_PASSWORD
        with local_server(dns, choose_mx_port(), relay=relay) as local:
            message_id, message = make_message("dovecot-sasl", to=recipient)
            submit(local, [recipient], message)
            arrived = wait_for(lambda: sink.find(message), 15)
            check(arrived, f"{message_id} did not reach smtp-sink through the Postfix smarthost (SASL by Dovecot) "
                  f"within 15 s; local queue: {queue_text(local)!r}; local log: {local.log_tail(6)}; "
                  f"Postfix log: {file_tail(smarthost.maillog, 8)}")
            dump = arrived[0].decode("utf-8", "replace")
            check(f"X-Mail-Args: <{ALICE}>" in dump, f"the sink's envelope sender is not <{ALICE}>: {dump[:400]!r}")
            check(f"X-Rcpt-Args: <{recipient}>" in dump, f"the sink's recipient is not <{recipient}>: {dump[:400]!r}")
            check(re.search(rf"sasl_username={re.escape(ANCHORS_USER)}", smarthost.log()),
                  f"Postfix did not log a client authenticated by Dovecot (sasl_username={ANCHORS_USER}): "
                  f"{file_tail(smarthost.maillog, 8)}")
            wait_until_empty(local)
        return (f"Postfix smarthost 127.0.0.1:{smarthost.port}, smtpd_sasl_path = {socket_path} (the anchors' "
                f"Dovecot) → smtp-sink 127.0.0.1:{sink.port}")


def queries_under(dns, domain):
    return [q for q in dns.queried() if q[1] == domain or q[1].endswith("." + domain)]


# MARK: - The peers alone


def outbound_peers():
    """The peers work without the outbound feature: the DNS responder answers the test
    zone (UDP and TCP), the remote Tsubame takes mail for bob@remote.test on 127.0.0.2
    and refuses unknown users with 550 5.1.1, nothing listens on 127.0.0.3, and (as
    root, with Postfix) the smarthost chain relays AUTHenticated mail to smtp-sink."""
    notes = []
    with DNSResponder(standard_zone()) as dns:
        for tcp in (False, True):
            reply = dns_responder.query(REMOTE_DOMAIN, "MX", dns.port, tcp=tcp)
            check(dns_responder.answers_of(reply, "MX") == [(10, "mx.remote.test")],
                  f"DNS ({'tcp' if tcp else 'udp'}): remote.test MX → {dns_responder.answers_of(reply)}")
            reply = dns_responder.query("mx.remote.test", "A", dns.port, tcp=tcp)
            check(dns_responder.answers_of(reply, "A") == [MX_ADDRESS], f"DNS: mx.remote.test A → {reply}")
            reply = dns_responder.query("null.test", "MX", dns.port, tcp=tcp)
            check(dns_responder.answers_of(reply, "MX") == [(0, ".")], f"DNS: null.test MX → {reply}")
            reply = dns_responder.query("nowhere.test", "MX", dns.port, tcp=tcp)
            check(reply["rcode"] == dns_responder.NXDOMAIN, f"DNS: nowhere.test → rcode {reply['rcode']}")
            reply = dns_responder.query("mx.remote.test", "AAAA", dns.port, tcp=tcp)
            check(reply["rcode"] == 0 and not reply["answers"], f"DNS: mx.remote.test AAAA → {reply} (NODATA)")
        notes.append(f"DNS on 127.0.0.1:{dns.port}")

    port = choose_mx_port()
    remote = remote_mx(port)
    with remote:
        client = smtplib.SMTP(MX_ADDRESS, port, local_hostname=LOCAL_HOSTNAME, timeout=IO_TIMEOUT)
        try:
            client.ehlo()
            check(client.has_extn("starttls"), f"the remote MX does not offer STARTTLS: {client.esmtp_features}")
            client.starttls(context=unverified_context())
            client.ehlo()
            message_id, message = make_message("peer-direct")
            send(client, ALICE, [BOB], message)
            code, reply = client.mail(ALICE)
            check(code == 250, f"MAIL answered {code} {reply!r}")
            code, reply = client.rcpt(f"nobody@{REMOTE_DOMAIN}")
            check(code == 550 and reply.startswith(b"5.1.1"), f"the remote MX answered RCPT nobody@ with {code} "
                  f"{reply!r}, expected 550 5.1.1")
            client.rset()
        finally:
            quit_quietly(client)
        check_exactly_once(remote, BOB, {message_id: message}, sender=ALICE)
        try:
            socket.create_connection((DEAD_ADDRESS, port), timeout=2).close()
            raise Failure(f"something listens on {DEAD_ADDRESS}:{port} (the dead MX)")
        except ConnectionRefusedError:
            pass
        notes.append(f"remote MX on {MX_ADDRESS}:{port}")

    reason = smarthost_missing()
    if reason:
        notes.append(f"smarthost chain not checked: {reason}")
    else:
        with smarthost_chain() as (auth, smarthost, sink):
            verify_smarthost(auth, smarthost, sink)
            notes.append(f"Postfix smarthost 127.0.0.1:{smarthost.port} (STARTTLS, AUTH via Tsubame's auth socket) "
                         f"→ smtp-sink 127.0.0.1:{sink.port}")
    return "; ".join(notes)


SCENARIOS = [
    outbound_peers,
    outbound_mx_delivery,
    outbound_retry,
    outbound_queue_cli,
    outbound_bounce,
    outbound_next_mx,
    outbound_null_mx,
    outbound_expiry,
    outbound_smarthost_postfix,
    outbound_mx_postfix,
    outbound_smarthost_dovecot_sasl,
    outbound_restart,
    outbound_parallel,
]
