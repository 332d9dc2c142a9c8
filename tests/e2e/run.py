#!/usr/bin/env python3
"""End-to-end tests: the built `tsubame` binary driven by real clients.

Usage: python3 tests/e2e/run.py [PATH-TO-TSUBAME] [SCENARIO ...]
       (default binary .build/debug/tsubame; default: every scenario; a SCENARIO that is
       not a scenario's name selects every scenario whose name starts with it, e.g. `imap`)

Python 3 standard library only (plus `swaks` for some SMTP scenarios). The helpers
are in harness.py, the SMTP scenarios in smtp_scenarios.py, the auth-socket scenarios
(Dovecot's auth protocol, Postfix with `smtpd_sasl_type = dovecot`) in
auth_socket_scenarios.py, the external user databases (a private PostgreSQL for
`[auth.sql]`, a private slapd for `[auth.ldap]`) in directory_scenarios.py, POP3 with
poplib, curl and fetchmail (plus hostile input, `uidl_format`) in pop3_scenarios.py, IMAP
with imaplib, raw sockets (IDLE, literals, hostile input), curl and mbsync in
imap_scenarios.py, msmtp (587, 465) and getmail6 (POP3S) in client_scenarios.py, the
outbound path (queue, DNS through dns_responder.py, remote MTAs, a Postfix smarthost
relaying to smtp-sink, DSNs, `tsubame queue`) in outbound_scenarios.py. Each
scenario starts its own `tsubame serve` on a fresh data directory with free loopback
ports, prints `PASS name`, `FAIL name: why` or `SKIP name: why` (it cannot run here,
e.g. Postfix without root, or PostgreSQL or slapd not installed), and the run ends
with `N passed, M failed, K skipped` (read by CI); the exit status is non-zero when
anything failed.
"""

import imaplib
import os
import poplib
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

import auth_socket_scenarios
import directory_scenarios
import harness
import imap_scenarios
import client_scenarios
import outbound_scenarios
import pop3_scenarios
import smtp_scenarios
from harness import (
    HOST, HOSTNAME, IO_TIMEOUT, SERVICES, Failure, LineClient, ServerProcess, Skip, check, describe, run_cli,
    unverified_context)

# MARK: - Scenarios


def startup_time():
    server = ServerProcess()
    try:
        server.start()
        return f"{server.startup_seconds:.2f} s to listening"
    finally:
        server.cleanup()


def cli_sequence(data, label):
    """The directory admin commands on DATA; raises Failure with LABEL on a mismatch."""

    def ok(*args, stdin=None, expect=None):
        result = run_cli(*args, data=data, stdin=stdin)
        check(result.returncode == 0, f"{label}: `{' '.join(args)}` failed: {describe(result)}")
        if expect is not None:
            check(expect in result.stdout, f"{label}: `{' '.join(args)}` stdout lacks {expect!r}: {describe(result)}")
        return result

    def fails(*args, stdin=None):
        result = run_cli(*args, data=data, stdin=stdin)
        check(result.returncode != 0, f"{label}: `{' '.join(args)}` should fail: {describe(result)}")
        check(result.stderr.strip() != "", f"{label}: `{' '.join(args)}` failed without a message on stderr")
        return result

    ok("domain", "add", "example.test", expect="example.test")
    ok("user", "add", "alice@example.test", "--password", "pw", expect="alice@example.test")
    ok("user", "add", "bob@example.test", "--password-stdin", stdin="s3cret pass\n", expect="bob@example.test")
    users = ok("user", "list").stdout.split()
    check("alice@example.test" in users and "bob@example.test" in users,
          f"{label}: user list should show alice and bob, got {users}")
    ok("alias", "add", "postmaster@example.test", "alice@example.test")
    ok("alias", "add", "@example.test", "bob@example.test")
    aliases = [line.split() for line in ok("alias", "list").stdout.splitlines() if line.strip()]
    check(["postmaster@example.test", "alice@example.test"] in aliases,
          f"{label}: alias list lacks 'postmaster@example.test alice@example.test': {aliases}")
    check(["@example.test", "bob@example.test"] in aliases,
          f"{label}: alias list lacks '@example.test bob@example.test': {aliases}")
    ok("user", "passwd", "alice@example.test", "--password", "new")
    ok("user", "remove", "bob@example.test")
    users = ok("user", "list").stdout.split()
    check(users == ["alice@example.test"], f"{label}: after removing bob, user list is {users}")
    fails("domain", "remove", "example.test")
    fails("user", "add", "x@unknown.test", "--password", "pw")
    users = ok("user", "list").stdout.split()
    check("x@unknown.test" not in users, f"{label}: x@unknown.test was added anyway: {users}")
    domains = ok("domain", "list").stdout.split()
    check(domains == ["example.test"], f"{label}: domain list is {domains}, expected ['example.test']")


def cli_directory():
    # 1. on a data directory with no server.
    offline = tempfile.mkdtemp(prefix="tsubame-e2e-cli-")
    try:
        cli_sequence(offline, "offline")
    finally:
        shutil.rmtree(offline, ignore_errors=True)
    # 2. on the data directory of a running server, which must keep serving.
    with ServerProcess() as server:
        cli_sequence(server.directory, "with server running")
        check(server.alive(), f"server exited during the admin commands; log: {server.log_tail()}")
        client = LineClient(server.ports["smtp"])
        try:
            greeting = client.line("the greeting")
            check(greeting.startswith("220 "), f"after the admin commands the greeting is {greeting!r}")
        finally:
            client.close()
        check(server.alive(), f"server exited after the admin commands; log: {server.log_tail()}")


def config_check():
    directory = tempfile.mkdtemp(prefix="tsubame-e2e-config-")
    path = os.path.join(directory, "tsubame.toml")
    try:
        bad = "\n".join([
            f'hostname = "{HOSTNAME}"',          # 1
            "",                                  # 2
            "[listen]",                          # 3
            'smtp = "127.0.0.1:2525"',           # 4
            "bogus = 1",                         # 5
            "",                                  # 6
            "[limits]",                          # 7
            "# a comment",                       # 8
            'max_connections = "many"',          # 9
        ]) + "\n"
        with open(path, "w") as f:
            f.write(bad)
        result = run_cli("config", "check", data=directory)
        check(result.returncode != 0, f"invalid config accepted: {describe(result)}")
        check("tsubame.toml:5: [listen] bogus: unknown key" in result.stderr,
              f"stderr lacks 'tsubame.toml:5: [listen] bogus: unknown key': {result.stderr.strip()!r}")
        check("tsubame.toml:9: [limits] max_connections:" in result.stderr,
              f"stderr lacks 'tsubame.toml:9: [limits] max_connections: …': {result.stderr.strip()!r}")

        good = "\n".join([
            f'hostname = "{HOSTNAME}"',
            "",
            "[listen]",
            'smtp = "127.0.0.1:2525"',
            'imap = ""',
            "",
            "[limits]",
            "max_connections_per_ip = 7",
        ]) + "\n"
        with open(path, "w") as f:
            f.write(good)
        result = run_cli("config", "check", data=directory)
        check(result.returncode == 0, f"valid config rejected: {describe(result)}")
        out = result.stdout
        check("[listen]" in out, f"effective configuration lacks [listen]: {out!r}")
        check('smtp = "127.0.0.1:2525"' in out, f"effective configuration lacks the smtp address: {out!r}")
        check(f'hostname = "{HOSTNAME}"' in out, f"effective configuration lacks the hostname: {out!r}")
        check("max_connections_per_ip = 7" in out, f"effective configuration lacks max_connections_per_ip = 7: {out!r}")

        result = run_cli("config", "check", "--config", "/nonexistent/tsubame.toml", data=directory)
        check(result.returncode != 0, f"--config /nonexistent accepted: {describe(result)}")
        check("/nonexistent" in result.stderr, f"--config /nonexistent: stderr does not name the file: {result.stderr!r}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def smtp_starttls_on(port, name):
    client = smtplib.SMTP(HOST, port, timeout=IO_TIMEOUT)
    try:
        code, _ = client.ehlo("client.example.test")
        check(code == 250, f"{name}: EHLO answered {code}")
        check(client.has_extn("starttls"), f"{name}: EHLO does not offer STARTTLS: {client.esmtp_features}")
        code, message = client.starttls(context=unverified_context())
        check(code == 220, f"{name}: STARTTLS answered {code} {message!r}")
        check(isinstance(client.sock, ssl.SSLSocket), f"{name}: no TLS after STARTTLS")
        code, _ = client.ehlo("client.example.test")
        check(code == 250, f"{name}: EHLO after TLS answered {code}")
        check(not client.has_extn("starttls"), f"{name}: STARTTLS still offered after TLS: {client.esmtp_features}")
        code, _ = client.noop()
        check(code == 250, f"{name}: NOOP after TLS answered {code}")
        code, _ = client.quit()
        check(code == 221, f"{name}: QUIT answered {code}")
    finally:
        client.close()


def smtp_starttls():
    with ServerProcess() as server:
        smtp_starttls_on(server.ports["smtp"], "smtp")
        smtp_starttls_on(server.ports["submission"], "submission")


def smtps_implicit():
    with ServerProcess() as server:
        smtp = smtplib.SMTP_SSL(HOST, server.ports["submissions"], timeout=IO_TIMEOUT, context=unverified_context())
        try:
            code, _ = smtp.ehlo("client.example.test")
            check(code == 250, f"submissions: EHLO answered {code}")
            check(not smtp.has_extn("starttls"), f"submissions: STARTTLS offered on implicit TLS: {smtp.esmtp_features}")
            code, _ = smtp.quit()
            check(code == 221, f"submissions: QUIT answered {code}")
        finally:
            smtp.close()

        imap = imaplib.IMAP4_SSL(HOST, server.ports["imaps"], ssl_context=unverified_context(), timeout=IO_TIMEOUT)
        try:
            typ, data = imap.capability()
            check(typ == "OK", f"imaps: CAPABILITY answered {typ} {data}")
            capabilities = data[0].decode().upper().split()
            check("IMAP4REV1" in capabilities, f"imaps: no IMAP4rev1 in {capabilities}")
            check("STARTTLS" not in capabilities, f"imaps: STARTTLS offered on implicit TLS: {capabilities}")
            typ, data = imap.logout()
            check(typ == "BYE", f"imaps: LOGOUT answered {typ} {data}")
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass

        pop = poplib.POP3_SSL(HOST, server.ports["pop3s"], context=unverified_context(), timeout=IO_TIMEOUT)
        try:
            check(pop.getwelcome().startswith(b"+OK"), f"pop3s: greeting {pop.getwelcome()!r}")
            capabilities = pop.capa()
            check("STLS" not in capabilities, f"pop3s: STLS offered on implicit TLS: {capabilities}")
            reply = pop.quit()
            check(reply.startswith(b"+OK"), f"pop3s: QUIT answered {reply!r}")
        finally:
            pop.close()


def imap_starttls():
    with ServerProcess() as server:
        imap = imaplib.IMAP4(HOST, server.ports["imap"], timeout=IO_TIMEOUT)
        try:
            before = [c.upper() for c in imap.capabilities]
            check("STARTTLS" in before, f"CAPABILITY before TLS lacks STARTTLS: {before}")
            check("LOGINDISABLED" in before, f"CAPABILITY before TLS lacks LOGINDISABLED: {before}")
            typ, data = imap.starttls(ssl_context=unverified_context())
            check(typ == "OK", f"STARTTLS answered {typ} {data}")
            check(isinstance(imap.sock, ssl.SSLSocket), "no TLS after STARTTLS")
            typ, data = imap.capability()
            check(typ == "OK", f"CAPABILITY after TLS answered {typ} {data}")
            after = data[0].decode().upper().split()
            check("STARTTLS" not in after, f"CAPABILITY after TLS still has STARTTLS: {after}")
            check("LOGINDISABLED" not in after, f"CAPABILITY after TLS still has LOGINDISABLED: {after}")
            typ, data = imap.noop()
            check(typ == "OK", f"NOOP after TLS answered {typ} {data}")
            typ, data = imap.logout()
            check(typ == "BYE", f"LOGOUT answered {typ} {data}")
        finally:
            try:
                imap.shutdown()
            except OSError:
                pass


def pop3_stls():
    with ServerProcess() as server:
        pop = poplib.POP3(HOST, server.ports["pop3"], timeout=IO_TIMEOUT)
        try:
            check(pop.getwelcome().startswith(b"+OK"), f"greeting {pop.getwelcome()!r}")
            before = pop.capa()
            check("STLS" in before, f"CAPA before TLS lacks STLS: {before}")
            reply = pop.stls(context=unverified_context())
            check(reply.startswith(b"+OK"), f"STLS answered {reply!r}")
            check(isinstance(pop.sock, ssl.SSLSocket), "no TLS after STLS")
            after = pop.capa()
            check("STLS" not in after, f"CAPA after TLS still has STLS: {after}")
            # USER is refused on plaintext (no allow_plaintext), accepted once TLS is up.
            reply = pop.user("alice@example.test")
            check(reply.startswith(b"+OK"), f"USER after TLS answered {reply!r}")
            reply = pop.quit()
            check(reply.startswith(b"+OK"), f"QUIT answered {reply!r}")
        finally:
            pop.close()


def injection_smtp(port):
    client = LineClient(port)
    try:
        greeting = client.line("the greeting")
        check(greeting.startswith("220 "), f"smtp: greeting {greeting!r}")
        client.send("EHLO x\r\n")
        ehlo = client.smtp_reply()
        check(ehlo[-1].startswith("250 "), f"smtp: EHLO answered {ehlo}")
        client.send("STARTTLS\r\nNOOP\r\n")
        reply = client.smtp_reply()
        check(reply[0].startswith("220"), f"smtp: STARTTLS answered {reply}")
        client.start_tls()
        client.send("EHLO y\r\n")
        first = client.line("the EHLO reply after TLS")
        check(first.startswith("250-") or first.startswith("250 "),
              f"smtp: first reply after TLS is {first!r}, not the EHLO reply")
        check("2.0.0 OK" not in first, f"smtp: the injected NOOP was executed: first reply after TLS is {first!r}")
        lines = [first]
        while lines[-1][3:4] == "-":
            lines.append(client.line("the rest of the EHLO reply"))
        check(lines[0] == f"250-{HOSTNAME}" or lines[0] == f"250 {HOSTNAME}",
              f"smtp: first reply after TLS is not the EHLO reply: {lines}")
        check(not any("STARTTLS" in line for line in lines), f"smtp: EHLO after TLS offers STARTTLS: {lines}")
    finally:
        client.close()


def injection_imap(port):
    client = LineClient(port)
    try:
        greeting = client.line("the greeting")
        check(greeting.startswith("* OK"), f"imap: greeting {greeting!r}")
        client.send("a STARTTLS\r\nb NOOP\r\n")
        reply = client.line("the STARTTLS reply")
        check(reply.startswith("a OK"), f"imap: STARTTLS answered {reply!r}")
        client.start_tls()
        client.send("c NOOP\r\n")
        while True:
            line = client.line("the NOOP reply after TLS")
            if line.startswith("* "):
                continue
            check(not line.startswith("b "), f"imap: the injected 'b NOOP' was executed: {line!r}")
            check(line.startswith("c OK"), f"imap: first tagged reply after TLS is {line!r}, expected 'c OK'")
            break
    finally:
        client.close()


def injection_pop3(port):
    client = LineClient(port)
    try:
        greeting = client.line("the greeting")
        check(greeting.startswith("+OK"), f"pop3: greeting {greeting!r}")
        client.send("STLS\r\nNOOP\r\n")
        reply = client.line("the STLS reply")
        check(reply.startswith("+OK"), f"pop3: STLS answered {reply!r}")
        client.start_tls()
        client.send("CAPA\r\n")
        first = client.line("the CAPA reply after TLS")
        # The injected NOOP would answer a bare "+OK" before the CAPA reply.
        check(first.startswith("+OK Capability"),
              f"pop3: first reply after TLS is {first!r}, not the CAPA reply (injected NOOP executed?)")
        lines = []
        while True:
            line = client.line("the CAPA list")
            if line == ".":
                break
            lines.append(line)
        check("STLS" not in lines, f"pop3: CAPA after TLS offers STLS: {lines}")
    finally:
        client.close()


def starttls_injection():
    with ServerProcess() as server:
        injection_smtp(server.ports["smtp"])
        injection_smtp(server.ports["submission"])
        injection_imap(server.ports["imap"])
        injection_pop3(server.ports["pop3"])


def sigterm_with_open_connection():
    server = ServerProcess()  # default shutdown_grace (30 s): sessions must close at once
    try:
        server.start()
        # Ports accept (and greet) as soon as they are bound, but SIGTERM is only
        # handled once the service group runs, which logs "listening" per service.
        # Signalling earlier kills the process outright: see sigterm_during_startup.
        check(server.wait_for_log("listening", len(SERVICES)),
              f"the server never logged 'listening' for all services; log: {server.log_tail()}")
        client = LineClient(server.ports["smtp"], timeout=10)
        try:
            greeting = client.line("the greeting")
            check(greeting.startswith("220 "), f"greeting {greeting!r}")
            started = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                line = client.readline().decode("utf-8", "replace")
            except (socket.timeout, OSError) as error:
                line = f"<{error!r}>"
            if not line.startswith("421"):
                try:
                    code = server.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    code = "nothing (still running 10 s later)"
                raise Failure(f"after SIGTERM the client got {line!r}, expected a 421 line; "
                              f"the server exited with {code}; log: {server.log_tail()}")
            check(client.expect_eof(5.0), "connection not closed within 5 s of the 421")
        finally:
            client.close()
        try:
            code = server.process.wait(timeout=max(0.1, 10 - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            raise Failure(f"server still running 10 s after SIGTERM; log: {server.log_tail()}")
        elapsed = time.monotonic() - started
        check(code == 0, f"server exited with {code} after SIGTERM; log: {server.log_tail()}")
        return f"exit 0 after {elapsed:.2f} s"
    finally:
        server.cleanup()


def sigterm_during_startup():
    """Opt-in (not in the default run): SIGTERM right after the first port greets.

    A client that has been greeted is entitled to the graceful path (421, exit 0);
    a server that binds and serves before trapping SIGTERM dies of the signal.
    """
    server = ServerProcess()
    try:
        server.write_config()
        server.spawn()
        deadline = time.monotonic() + 10
        client = None
        while client is None and time.monotonic() < deadline:
            check(server.alive(), f"serve exited with {server.process.returncode}; log: {server.log_tail()}")
            try:
                client = LineClient(server.ports["smtp"], timeout=10)
            except OSError:
                time.sleep(0.002)
        check(client is not None, "smtp port never accepted")
        try:
            greeting = client.line("the greeting")
            check(greeting.startswith("220 "), f"greeting {greeting!r}")
            server.process.send_signal(signal.SIGTERM)
            try:
                line = client.readline().decode("utf-8", "replace")
            except OSError as error:
                line = f"<{error!r}>"
        finally:
            client.close()
        try:
            code = server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure("server still running 10 s after SIGTERM")
        check(code == 0 and line.startswith("421"),
              f"SIGTERM after the greeting: the client got {line!r} (expected a 421 line) and the server exited "
              f"with {code} (expected 0; -15 means killed by the signal, not trapped); log: {server.log_tail(4)}")
    finally:
        server.cleanup()


def connection_limit():
    with ServerProcess(extra_config="[limits]\nmax_connections_per_ip = 3") as server:
        port = server.ports["smtp"]
        time.sleep(0.3)  # let the server see the readiness probes close
        clients = []
        try:
            for index in range(3):
                client = LineClient(port)
                clients.append(client)
                greeting = client.line(f"greeting {index + 1}")
                check(greeting.startswith("220 "), f"connection {index + 1} greeted with {greeting!r}")
            fourth = LineClient(port)
            try:
                line = fourth.readline().decode("utf-8", "replace")
                check(line.startswith("421 4.7.0"), f"4th connection got {line!r}, expected '421 4.7.0 …'")
                check(fourth.expect_eof(5.0), "4th connection not closed after its 421")
            finally:
                fourth.close()
            for index, client in enumerate(clients):
                client.send("NOOP\r\n")
                reply = client.smtp_reply()
                check(reply[-1].startswith("250"), f"connection {index + 1} NOOP answered {reply}")
            first = clients.pop(0)
            first.send("QUIT\r\n")
            reply = first.smtp_reply()
            check(reply[-1].startswith("221"), f"QUIT answered {reply}")
            check(first.expect_eof(5.0), "connection not closed after QUIT")
            first.close()
            time.sleep(0.2)
            replacement = LineClient(port)
            clients.append(replacement)
            greeting = replacement.readline().decode("utf-8", "replace")
            check(greeting.startswith("220 "), f"after one closed, a new connection got {greeting!r}, expected 220")
        finally:
            for client in clients:
                client.close()


def idle_timeout():
    config = "[limits]\nsmtp_idle_timeout = 1\npop3_idle_timeout = 1"
    with ServerProcess(extra_config=config) as server:
        smtp = LineClient(server.ports["smtp"], timeout=5)
        pop = LineClient(server.ports["pop3"], timeout=5)
        try:
            check(smtp.line("the SMTP greeting").startswith("220 "), "no SMTP greeting")
            check(pop.line("the POP3 greeting").startswith("+OK"), "no POP3 greeting")
            started = time.monotonic()
            try:
                line = smtp.readline().decode("utf-8", "replace")
            except socket.timeout:
                raise Failure("SMTP: nothing within 5 s of idling (smtp_idle_timeout = 1)")
            check(line.startswith("421 4.4.2"), f"SMTP: idle connection got {line!r}, expected '421 4.4.2 …'")
            check(smtp.expect_eof(max(0.1, 5 - (time.monotonic() - started))), "SMTP: not closed after 421 4.4.2")
            try:
                line = pop.readline().decode("utf-8", "replace")
            except socket.timeout:
                raise Failure("POP3: nothing within 5 s of idling (pop3_idle_timeout = 1)")
            check(line.startswith("-ERR"), f"POP3: idle connection got {line!r}, expected '-ERR …'")
            check(pop.expect_eof(max(0.1, 5 - (time.monotonic() - started))), "POP3: not closed after -ERR")
        finally:
            smtp.close()
            pop.close()


def long_line():
    with ServerProcess(extra_config="[limits]\nmax_line_length = 1024") as server:
        client = LineClient(server.ports["smtp"])
        try:
            check(client.line("the greeting").startswith("220 "), "no greeting")
            client.send(b"X" * 5000 + b"\r\n")
            reply = client.smtp_reply()
            check(reply[0].startswith("500 5.5.2"), f"5000-byte line answered {reply}, expected '500 5.5.2 …'")
            client.send("NOOP\r\n")
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"NOOP after the long line answered {reply}")
            client.send(b"NOOP " + b"y" * 1000 + b"\r\n")  # under the limit: an ordinary command
            reply = client.smtp_reply()
            check(reply[-1].startswith("250"), f"a 1005-byte NOOP line answered {reply}")
        finally:
            client.close()


def bind_failure():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server = ServerProcess()
    try:
        blocker.bind((HOST, 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server.listen_overrides = {"smtp": f"{HOST}:{port}"}
        server.write_config()
        started = time.monotonic()
        server.spawn()
        try:
            code = server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            raise Failure("serve still running 10 s after starting on a taken port")
        elapsed = time.monotonic() - started
        log = server.log()
        check(code != 0, f"serve exited 0 on a taken port; log: {server.log_tail()}")
        check(elapsed < 5, f"serve took {elapsed:.1f} s to fail")
        lines = [line for line in log.splitlines() if "smtp" in line and f"{HOST}:{port}" in line]
        check(lines, f"stderr does not name smtp and {HOST}:{port}: {log.strip()!r}")
        return f"exit {code} after {elapsed:.2f} s: {lines[0].strip()}"
    finally:
        blocker.close()
        server.cleanup()


SCENARIOS = [
    startup_time,
    cli_directory,
    config_check,
    smtp_starttls,
    smtps_implicit,
    imap_starttls,
    pop3_stls,
    starttls_injection,
    sigterm_with_open_connection,
    connection_limit,
    idle_timeout,
    long_line,
    bind_failure,
] + (smtp_scenarios.SCENARIOS + auth_socket_scenarios.SCENARIOS + directory_scenarios.SCENARIOS
     + pop3_scenarios.SCENARIOS + imap_scenarios.SCENARIOS
     + client_scenarios.SCENARIOS + outbound_scenarios.SCENARIOS)

# Run only when named on the command line (known server bugs, stress checks).
EXTRA_SCENARIOS = [
    sigterm_during_startup,
]


def main():
    arguments = sys.argv[1:]
    known = {scenario.__name__: scenario for scenario in SCENARIOS + EXTRA_SCENARIOS}
    # The binary is optional: a first argument that names no file but selects scenarios.
    binary = ".build/debug/tsubame"
    if arguments and (os.sep in arguments[0] or os.path.exists(arguments[0])
                      or not any(name.startswith(arguments[0]) for name in known)):
        binary = arguments.pop(0)
    harness.BINARY = os.path.abspath(binary)
    if not os.access(harness.BINARY, os.X_OK):
        print(f"FAIL setup: {harness.BINARY} is not an executable")
        print("0 passed, 1 failed, 0 skipped")
        return 1
    chosen = SCENARIOS
    if arguments:
        chosen = []
        unknown = []
        for argument in arguments:
            if argument in known:
                selected = [known[argument]]
            else:  # a prefix: the default scenarios whose names start with it
                selected = [scenario for scenario in SCENARIOS if scenario.__name__.startswith(argument)]
            if not selected:
                unknown.append(argument)
            chosen += [scenario for scenario in selected if scenario not in chosen]
        if unknown:
            print(f"FAIL setup: unknown scenario(s) {', '.join(unknown)}; known: {', '.join(known)}")
            print("0 passed, 1 failed, 0 skipped")
            return 1
    passed = failed = skipped = 0
    began = time.monotonic()
    for scenario in chosen:
        name = scenario.__name__
        try:
            note = scenario()
        except Skip as reason:
            skipped += 1
            print(f"SKIP {name}: {reason}", flush=True)
            continue
        except Failure as failure:
            failed += 1
            print(f"FAIL {name}: {failure}", flush=True)
            continue
        except Exception as error:  # a client library error is a failure too
            failed += 1
            here = os.path.dirname(os.path.abspath(__file__))
            frames = traceback.extract_tb(error.__traceback__)
            ours = [frame for frame in frames if os.path.dirname(os.path.abspath(frame.filename)) == here]
            where = (ours or frames)[-1]
            print(f"FAIL {name}: {type(error).__name__}: {error} "
                  f"({os.path.basename(where.filename)} line {where.lineno})", flush=True)
            continue
        passed += 1
        print(f"PASS {name}" + (f" ({note})" if note else ""), flush=True)
    print(f"# {time.monotonic() - began:.1f} s", file=sys.stderr)
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
