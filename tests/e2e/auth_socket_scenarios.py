"""Auth-socket end-to-end scenarios: Dovecot's authentication protocol on Tsubame's
`[auth_socket]`, spoken by a raw Python client and by Debian's real Postfix.

Each scenario starts its own server (harness.ServerProcess) with the accounts of
smtp_scenarios.add_accounts. A scenario that cannot run here (Postfix needs root and
the `postfix` package) raises harness.Skip; run.py counts it as skipped, not passed.
"""

import base64
import os
import pty
import pwd
import re
import select
import shutil
import socket
import stat
import subprocess
import tempfile
import time

from harness import Failure, ServerProcess, Skip, check, free_ports
from smtp_scenarios import ALICE, PASSWORDS, add_accounts

RIGHT = PASSWORDS[ALICE]
WRONG = "not the password"
REMOTE_RECIPIENT = "someone@remote.test"


# MARK: - A Dovecot auth client


class AuthClient:
    """A raw client of the auth socket: LF-terminated, tab-separated lines."""

    def __init__(self, path, timeout=5.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.pending = b""

    def send(self, text):
        self.sock.sendall(text.encode())

    def line(self, what="a line"):
        while b"\n" not in self.pending:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Failure(f"nothing within {self.sock.gettimeout():.0f} s while waiting for {what} "
                              f"(pending {self.pending!r})")
            check(chunk != b"", f"connection closed while waiting for {what} (pending {self.pending!r})")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode("utf-8", "replace")

    def handshake(self):
        """The server's lines up to and including DONE."""
        lines = []
        while True:
            lines.append(self.line(f"the handshake (so far {lines})"))
            if lines[-1] == "DONE":
                return lines
            check(len(lines) < 50, f"no DONE in the first 50 handshake lines: {lines}")

    def expect_eof(self, limit=5.0):
        """(closed, bytes received before the close)."""
        data, self.pending = self.pending, b""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False, data
            except OSError:
                return True, data
            if not chunk:
                return True, data
            data += chunk
        return False, data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def plain_response(login, password):
    return base64.b64encode(f"\0{login}\0{password}".encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


def auth_line(request_id, mechanism, resp=None):
    line = f"AUTH\t{request_id}\t{mechanism}\tservice=smtp\tsecured\tlip=127.0.0.1\trip=127.0.0.1"
    if resp is not None:
        line += f"\tresp={resp}"
    return line + "\n"


def wait_for_socket(server, path, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if os.path.exists(path) and stat.S_ISSOCK(os.stat(path).st_mode):
            return
        check(server.alive(), f"server exited before creating {path}; log: {server.log_tail()}")
        time.sleep(0.02)
    raise Failure(f"no socket at {path} {limit:.0f} s after start; log: {server.log_tail()}")


def check_handshake(lines):
    check(lines[0] == "VERSION\t1\t2", f"handshake starts with {lines[0]!r}, expected 'VERSION\\t1\\t2': {lines}")
    for wanted in ("MECH\tPLAIN\tplaintext", "MECH\tLOGIN\tplaintext"):
        check(wanted in lines, f"handshake lacks {wanted!r}: {lines}")
    for key in ("SPID", "CUID"):
        found = [line for line in lines if line.startswith(key + "\t")]
        check(len(found) == 1 and re.fullmatch(key + r"\t\d+", found[0]),
              f"handshake has {found} for {key}, expected one '{key}\\t<number>': {lines}")
    cookies = [line for line in lines if line.startswith("COOKIE\t")]
    check(len(cookies) == 1 and re.fullmatch(r"COOKIE\t[0-9a-f]{32}", cookies[0]),
          f"handshake has {cookies} for COOKIE, expected one 'COOKIE\\t<32 hex digits>': {lines}")


def connect(path):
    """A client after the server's handshake and the client's VERSION and CPID."""
    client = AuthClient(path)
    try:
        check_handshake(client.handshake())
        client.send("VERSION\t1\t2\nCPID\t4242\n")
    except BaseException:
        client.close()
        raise
    return client


# MARK: - Scenarios


def auth_socket_protocol():
    server = ServerProcess()
    path = os.path.join(server.directory, "auth")
    server.extra_config = f'[auth_socket]\npath = "{path}"\nmode = "0660"\n'
    with server:
        add_accounts(server.directory)
        wait_for_socket(server, path)
        mode = stat.S_IMODE(os.stat(path).st_mode)
        check(mode == 0o660, f"the socket {path} has mode {mode:04o}, expected 0660")

        client = connect(path)
        try:
            # PLAIN, right password.
            client.send(auth_line(1, "PLAIN", plain_response(ALICE, RIGHT)))
            reply = client.line("the reply to AUTH 1 (PLAIN, right password)")
            check(reply.split("\t")[:3] == ["OK", "1", f"user={ALICE}"],
                  f"AUTH 1 (PLAIN, right password) answered {reply!r}, expected 'OK\\t1\\tuser={ALICE}'")
            # PLAIN, wrong password (answered after the throttling delay).
            client.send(auth_line(2, "PLAIN", plain_response(ALICE, WRONG)))
            reply = client.line("the reply to AUTH 2 (PLAIN, wrong password)")
            check(reply.startswith("FAIL\t2"), f"AUTH 2 (PLAIN, wrong password) answered {reply!r}, expected FAIL\\t2…")
            # LOGIN: CONT round trips for the user name and the password.
            client.send(auth_line(3, "LOGIN"))
            reply = client.line("the first CONT of AUTH 3 (LOGIN)")
            check(reply.startswith("CONT\t3\t"), f"AUTH 3 (LOGIN) answered {reply!r}, expected 'CONT\\t3\\t…'")
            client.send(f"CONT\t3\t{b64(ALICE)}\n")
            reply = client.line("the second CONT of AUTH 3 (LOGIN)")
            check(reply.startswith("CONT\t3\t"), f"LOGIN user name answered {reply!r}, expected 'CONT\\t3\\t…'")
            client.send(f"CONT\t3\t{b64(RIGHT)}\n")
            reply = client.line("the reply to the LOGIN password")
            check(reply.split("\t")[:3] == ["OK", "3", f"user={ALICE}"],
                  f"LOGIN password answered {reply!r}, expected 'OK\\t3\\tuser={ALICE}'")
            # Unknown mechanism.
            client.send(auth_line(4, "X-UNKNOWN", b64("x")))
            reply = client.line("the reply to AUTH 4 (unknown mechanism)")
            check(reply.startswith("FAIL\t4"), f"AUTH 4 (unknown mechanism) answered {reply!r}, expected FAIL\\t4…")
            # The connection is still usable.
            client.send(auth_line(5, "PLAIN", plain_response(ALICE, RIGHT)))
            reply = client.line("the reply to AUTH 5 (PLAIN after the failures)")
            check(reply.split("\t")[:3] == ["OK", "5", f"user={ALICE}"],
                  f"AUTH 5 (PLAIN, right password, after the failures) answered {reply!r}")
        finally:
            client.close()

        # AUTH before VERSION: the server closes the connection.
        client = AuthClient(path)
        try:
            check_handshake(client.handshake())
            client.send(auth_line(1, "PLAIN", plain_response(ALICE, RIGHT)))
            closed, data = client.expect_eof(5.0)
            check(closed, f"AUTH before VERSION: connection still open 5 s later (received {data!r})")
            check(b"OK" not in data, f"AUTH before VERSION was answered {data!r}")
        finally:
            client.close()

        # The log: logins with service=auth-socket/smtp, and never the password.
        check(server.wait_for_log("service=auth-socket/smtp", 3, limit=5.0),
              f"the log has fewer than 3 lines with service=auth-socket/smtp: {server.log_tail(12)}")
        lines = [line for line in server.log().splitlines() if "service=auth-socket/smtp" in line]
        failed = [line for line in lines if "login failed" in line]
        succeeded = [line for line in lines if re.search(r"\blogin\b(?! failed)", line)]
        check(failed, f"no 'login failed' line with service=auth-socket/smtp: {lines}")
        check(succeeded, f"no 'login' line with service=auth-socket/smtp: {lines}")
        log = server.log()
        for secret in (RIGHT, WRONG):
            check(secret not in log, f"the log contains the password {secret!r}: "
                  f"{[line for line in log.splitlines() if secret in line]}")
        for secret in (plain_response(ALICE, RIGHT), plain_response(ALICE, WRONG), b64(RIGHT)):
            check(secret not in log, f"the log contains the base64 credentials {secret!r}")
        return f"{len(succeeded)} login, {len(failed)} login failed logged"


# MARK: - Postfix


POSTFIX_SERVICES = {"smtpd", "pickup", "cleanup", "qmgr", "tlsmgr", "rewrite", "bounce", "defer", "trace",
                    "verify", "flush", "proxymap", "proxywrite", "smtp", "relay", "showq", "error", "retry",
                    "discard", "local", "virtual", "lmtp", "anvil", "scache", "postlog"}


def postfix_missing():
    """Why the Postfix scenario cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (Postfix's master runs as root)"
    if shutil.which("postfix") is None or master_cf_source() is None:
        return "Debian's postfix is not installed"
    if shutil.which("swaks") is None:
        return "swaks is not installed"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "there is no user 'postfix'"
    return None


def master_cf_source():
    """The system master.cf, or the package's pristine copy on a machine where Postfix
    was installed with "No configuration" (as .ci/run does)."""
    for path in ("/etc/postfix/master.cf", "/usr/share/postfix/master.cf.dist"):
        if os.path.exists(path):
            return path
    return None


def private_master_cf(port):
    """/etc/postfix/master.cf reduced to the services a local discard needs, chroot off,
    smtpd on 127.0.0.1:PORT only."""
    with open(master_cf_source()) as f:
        text = f.read()
    lines = [f"127.0.0.1:{port} inet n - n - - smtpd"]
    entry = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            entry = None
            continue
        if raw[0] in " \t":
            if entry is not None:
                lines.append(raw)  # an option (-o …) of a kept service
            continue
        fields = raw.split()
        entry = None
        if len(fields) < 8 or fields[1] not in ("unix", "unix-dgram") or fields[0] not in POSTFIX_SERVICES:
            continue  # inet services (smtp on port 25, submission…) and pipes (uucp, maildrop…)
        fields[4] = "n"  # chroot
        lines.append(" ".join(fields))
        entry = fields[0]
    return "\n".join(lines) + "\n"


def postfix(config, *args, timeout=30):
    """`postfix -c CONFIG ARGS`: (exit status, what it printed). Postfix logs its errors to
    standard error only when that is a terminal, so it gets a pseudo-terminal."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(["postfix", "-c", config, *args], stdin=subprocess.DEVNULL,
                                   stdout=follower, stderr=follower, close_fds=True)
        os.close(follower)
        follower = None
        output = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer closed the terminal
                    chunk = b""
                if chunk:
                    output += chunk
                    continue
                break
            if process.poll() is not None and not select.select([leader], [], [], 0)[0]:
                break
        try:
            code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
            output += f"\n<still running after {timeout} s: killed>".encode()
        return code, output.decode("utf-8", "replace").replace("\r\n", "\n").strip()
    finally:
        if follower is not None:
            os.close(follower)
        os.close(leader)


def file_tail(path, lines=15):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])
    except OSError as error:
        return f"<{error}>"


def swaks_raw(*args, timeout=30):
    """swaks whose failure is an outcome, not a Failure: (exit status, transcript)."""
    result = subprocess.run(["swaks", *args], capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    return result.returncode, result.stdout + result.stderr


def postfix_with_tsubame_auth():
    reason = postfix_missing()
    if reason:
        raise Skip(reason)
    base = tempfile.mkdtemp(prefix="tsubame-e2e-postfix-")
    os.chmod(base, 0o755)
    config = os.path.join(base, "etc")
    queue = os.path.join(base, "queue")
    data = os.path.join(base, "data")
    maillog = os.path.join(base, "postfix.log")
    for path in (config, queue, data):
        os.mkdir(path, 0o755)
    private = os.path.join(queue, "private")
    os.mkdir(private, 0o700)
    entry = pwd.getpwnam("postfix")
    os.chown(private, entry.pw_uid, 0)
    os.chown(data, entry.pw_uid, 0)
    socket_path = os.path.join(private, "auth")
    started = False
    server = ServerProcess(extra_config=(
        f'[auth_socket]\npath = "{socket_path}"\nmode = "0660"\nuser = "postfix"\n'))
    try:
        with server:
            add_accounts(server.directory)
            wait_for_socket(server, socket_path)
            owner = os.stat(socket_path).st_uid
            check(owner == entry.pw_uid, f"the socket {socket_path} belongs to uid {owner}, expected postfix "
                  f"({entry.pw_uid})")

            (port,) = free_ports(1)
            with open(os.path.join(config, "master.cf"), "w") as f:
                f.write(private_master_cf(port))
            with open(os.path.join(config, "main.cf"), "w") as f:
                f.write("\n".join([
                    "compatibility_level = 3.6",
                    f"queue_directory = {queue}",
                    f"data_directory = {data}",
                    "mail_owner = postfix",
                    "setgid_group = postdrop",
                    "myhostname = postfix.example.test",
                    "mydomain = example.test",
                    "myorigin = $myhostname",
                    "mydestination =",
                    "local_recipient_maps =",
                    "relay_domains =",
                    "relayhost =",
                    "mynetworks = 127.0.0.1/32",
                    "inet_interfaces = 127.0.0.1",
                    "inet_protocols = ipv4",
                    "default_transport = discard",
                    "relay_transport = discard",
                    "alias_maps =",
                    "alias_database =",
                    "smtpd_tls_security_level = none",
                    "smtpd_sasl_auth_enable = yes",
                    "smtpd_sasl_type = dovecot",
                    f"smtpd_sasl_path = {socket_path}",
                    "smtpd_recipient_restrictions = permit_sasl_authenticated, reject",
                    "smtpd_relay_restrictions = permit_sasl_authenticated, reject",
                    f"maillog_file = {maillog}",
                    f"maillog_file_prefixes = {base}",
                    "maillog_file_permissions = 0644",
                    "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C",
                    "smtpd_banner = $myhostname ESMTP",
                    "biff = no",
                    "",
                ]))
            code, output = postfix(config, "check")
            check(code == 0, f"`postfix -c {config} check` exited {code}: {output[-800:]!r}; "
                  f"log: {file_tail(maillog)}")
            code, output = postfix(config, "start")
            started = True
            check(code == 0, f"`postfix -c {config} start` exited {code}: {output[-800:]!r}; "
                  f"log: {file_tail(maillog)}")
            deadline = time.monotonic() + 15
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise Failure(f"Postfix's smtpd is not listening on 127.0.0.1:{port} 15 s after "
                                      f"start; log: {file_tail(maillog)}")
                    time.sleep(0.1)

            common = ["--server", f"127.0.0.1:{port}", "--auth", "PLAIN", "--auth-user", ALICE,
                      "--from", ALICE, "--to", REMOTE_RECIPIENT, "--helo", "client.remote.test"]
            code, transcript = swaks_raw(*common, "--auth-password", RIGHT)
            check(re.search(r"^<- +235", transcript, re.M),
                  f"AUTH PLAIN with the right password through Postfix did not get 235 (swaks exit {code}): "
                  f"{' | '.join(transcript.strip().splitlines()[-8:])}; Postfix log: {file_tail(maillog, 8)}; "
                  f"Tsubame log: {server.log_tail(4)}")
            check(code == 0 and re.search(r"^<- +250 .*queued", transcript, re.M),
                  f"the message after AUTH was not accepted (swaks exit {code}): "
                  f"{' | '.join(transcript.strip().splitlines()[-8:])}; Postfix log: {file_tail(maillog, 8)}")
            code, transcript = swaks_raw(*common, "--auth-password", WRONG)
            check(re.search(r"^<\S* +535", transcript, re.M),
                  f"AUTH PLAIN with a wrong password through Postfix did not get 535 (swaks exit {code}): "
                  f"{' | '.join(transcript.strip().splitlines()[-8:])}; Postfix log: {file_tail(maillog, 8)}")
            check(server.wait_for_log("login failed", 1, limit=5.0),
                  f"Tsubame did not log the failed login: {server.log_tail(6)}")
            lines = [line for line in server.log().splitlines() if "service=auth-socket/smtp" in line]
            check(any(re.search(r"\blogin\b(?! failed)", line) for line in lines),
                  f"Tsubame's log has no 'login' line with service=auth-socket/smtp: {lines or server.log_tail(6)}")
            check(any("login failed" in line for line in lines),
                  f"Tsubame's log has no 'login failed' line with service=auth-socket/smtp: {lines}")
            check(RIGHT not in server.log() and WRONG not in server.log(), "Tsubame's log contains a password")
            return f"Postfix smtpd on 127.0.0.1:{port}: 235 and 250, then 535"
    finally:
        try:
            if started:
                postfix(config, "stop")
        finally:
            shutil.rmtree(base, ignore_errors=True)


SCENARIOS = [
    auth_socket_protocol,
    postfix_with_tsubame_auth,
]
