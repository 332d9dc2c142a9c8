"""External user-database end-to-end scenarios: Tsubame's `[auth.sql]` against a
private PostgreSQL cluster and its `[auth.ldap]` against a private OpenLDAP slapd.

Each scenario starts its own database server in a temporary directory on free
loopback ports (never the system's cluster or slapd), loads a small Postfix/Dovecot
style user table or tree, starts `tsubame serve` (harness.ServerProcess) with
`[auth] sources = ["sql"]` or `["ldap"]`, and checks `tsubame auth test`,
`tsubame auth users`, SMTP AUTH on submission and RCPT on port 25, injection
attempts through the login, and what happens when the database goes away.

Needs Debian's postgresql (PostgreSQL refuses to run as root: as root, its programs
run as the user `postgres`) and slapd (plus openssl); a scenario whose programs are
missing raises harness.Skip. Python 3 standard library only.

Run this file directly (`python3 tests/e2e/directory_scenarios.py`) to check the
PostgreSQL and slapd helpers alone, without tsubame.
"""

import base64
import glob
import hashlib
import json
import os
import pwd
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time

from harness import (
    HOST, IO_TIMEOUT, Failure, ServerProcess, Skip, check, describe, free_ports, run_cli, unverified_context)
from smtp_scenarios import CLIENT_NAME, REMOTE_SENDER, delivered, make_message, quit_quietly, send, smtp_client

DOMAIN = "example.test"
ALICE = f"alice@{DOMAIN}"
BOB = f"bob@{DOMAIN}"
CAROL = f"carol@{DOMAIN}"
WRONG = "not the password"

# Throttling off (see [auth] failure_delay): the scenarios fail logins on purpose.
AUTH_SECTION = "\n".join([
    "[auth]",
    "sources = [{source}]",
    "allow_plaintext = true",
    'failure_delay = "1ms"',
    'max_failure_delay = "1ms"',
    "max_failures_per_ip = 1000",
    "max_failures_per_account = 1000",
])


def toml_string(text):
    """A TOML basic string (JSON's escapes are TOML's, for text without astral characters)."""
    return json.dumps(text, ensure_ascii=False)


def auth_config(source, section):
    return AUTH_SECTION.format(source=toml_string(source)) + "\n\n" + section.strip() + "\n"


# MARK: - Password hashes (Dovecot / OpenLDAP formats)


SALTED = {"SSHA": "sha1", "SSHA256": "sha256", "SSHA512": "sha512"}


def password_hash(scheme, password, salt=None):
    """`{SCHEME}…` as Dovecot and slapd store it: salted digests are base64(digest(pw + salt) + salt)."""
    if scheme == "PLAIN":
        return "{PLAIN}" + password
    salt = os.urandom(8) if salt is None else salt
    digest = hashlib.new(SALTED[scheme], password.encode() + salt).digest()
    return "{%s}%s" % (scheme, base64.b64encode(digest + salt).decode())


def plain_response(login, password):
    return base64.b64encode(f"\0{login}\0{password}".encode()).decode()


# MARK: - Child processes


def clean_environment(home=None):
    """The environment minus PG*/LDAP* variables (they would redirect psql, ldapsearch…)."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PG", "LDAP")) and key not in ("LANG", "LANGUAGE") and not key.startswith("LC_")}
    env["LC_ALL"] = "C"
    if home is not None:
        env["HOME"] = home
    return env


def stop_process(process, first=signal.SIGTERM, grace=10.0, second=None):
    """Signals `process` (our child, leader of its own session), waits `grace` seconds,
    optionally sends `second` and waits 5 s more, then kills its whole process group."""
    if process is None or process.poll() is not None:
        return
    steps = [(first, grace)] + ([(second, 5.0)] if second is not None else [])
    for number, wait in steps:
        try:
            process.send_signal(number)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # its own group: start_new_session=True
    except (ProcessLookupError, PermissionError):
        process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def tail(path, lines=12):
    try:
        with open(path, errors="replace") as f:
            return " | ".join(f.read().strip().splitlines()[-lines:])
    except OSError as error:
        return f"<{error}>"


def port_accepts(port, timeout=0.5):
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


# MARK: - A private PostgreSQL cluster


def postgres_bin():
    """The directory of Debian's PostgreSQL programs (15 preferred), or None."""
    candidates = ["/usr/lib/postgresql/15/bin"] + sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda path: int(re.sub(r"\D", "", path) or 0), reverse=True)
    for directory in candidates:
        programs = ("initdb", "postgres", "psql", "pg_isready")
        if all(os.access(os.path.join(directory, name), os.X_OK) for name in programs):
            return directory
    return None


def postgres_missing():
    """Why a private PostgreSQL cannot run here, or None."""
    if postgres_bin() is None:
        return "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, postgres, psql, pg_isready)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no user 'postgres' (PostgreSQL refuses to run as root)"
    return None


class PostgresCluster:
    """A throwaway cluster: initdb in a temporary directory, `postgres` in the
    foreground (our child) on 127.0.0.1:PORT and a UNIX socket in that directory.
    Superuser `postgres` over the socket (trust); TCP clients need SCRAM-SHA-256.
    Use as a context manager; `cleanup()` stops it and removes everything."""

    def __init__(self):
        reason = postgres_missing()
        if reason:
            raise Skip(reason)
        self.bin = postgres_bin()
        self.account = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.base = None
        self.data = None
        self.port = None
        self.process = None
        self.log_path = None
        self.log_file = None

    # Programs run as `postgres` when we are root, as ourselves otherwise.
    def _identity(self):
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def run(self, program, *args, stdin=None, env=None, timeout=60):
        """A PostgreSQL program of self.bin; returns CompletedProcess (text)."""
        return subprocess.run(
            [os.path.join(self.bin, program), *args], input=stdin, capture_output=True, text=True,
            timeout=timeout, cwd=self.base, env=env or clean_environment(self.base),
            stdin=None if stdin is not None else subprocess.DEVNULL, **self._identity())

    def psql(self, sql, database="postgres", user="postgres", password=None, tcp=False, timeout=30):
        """psql -f - (stop at the first error); over the socket, or over TCP (with `password`)."""
        env = clean_environment(self.base)
        if password is not None:
            env["PGPASSWORD"] = password
        host = HOST if tcp else self.base
        return self.run("psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", str(self.port),
                        "-U", user, "-d", database, "-f", "-", stdin=sql, env=env, timeout=timeout)

    def sql(self, sql, database="postgres"):
        """Runs `sql` as the superuser; a failure is a Failure. Returns stdout."""
        result = self.psql(sql, database=database)
        check(result.returncode == 0, f"PostgreSQL setup: psql failed: {describe(result)}")
        return result.stdout

    def start(self):
        try:
            self.base = tempfile.mkdtemp(prefix="tsubame-e2e-pg-")
            if self.account is not None:
                os.chown(self.base, self.account.pw_uid, self.account.pw_gid)
            self.data = os.path.join(self.base, "data")
            self.log_path = os.path.join(self.base, "postgres.log")
            result = self.run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                              "--no-locale", "-N", timeout=120)
            check(result.returncode == 0, f"initdb failed: {describe(result)}")
            with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
                f.write("\n".join([
                    "", "# tsubame e2e: a private, disposable cluster",
                    "listen_addresses = '127.0.0.1'",
                    f"unix_socket_directories = '{self.base}'",
                    "password_encryption = 'scram-sha-256'",
                    "fsync = off", "synchronous_commit = off", "full_page_writes = off",
                    "shared_buffers = 16MB", "max_connections = 40",
                    "log_connections = on", "logging_collector = off", "log_min_error_statement = error", "",
                ]))
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
            self._spawn()
            return self
        except BaseException:
            self.cleanup()
            raise

    def _spawn(self, attempts=3):
        last = ""
        for _ in range(attempts):
            (self.port,) = free_ports(1)
            if self.log_file is not None:
                self.log_file.close()
            self.log_file = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [os.path.join(self.bin, "postgres"), "-D", self.data, "-p", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file, cwd=self.base,
                env=clean_environment(self.base), start_new_session=True, **self._identity())
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    last = f"postgres exited with {self.process.returncode}"
                    break
                ready = self.run("pg_isready", "-q", "-h", HOST, "-p", str(self.port), "-t", "1", timeout=10)
                if ready.returncode == 0 and os.path.exists(os.path.join(self.base, f".s.PGSQL.{self.port}")):
                    return
                time.sleep(0.1)
            else:
                last = "not accepting connections 30 s after start"
            stop_process(self.process, signal.SIGINT, 10, signal.SIGQUIT)
            if "could not bind" not in tail(self.log_path, 40) and "already in use" not in tail(self.log_path, 40):
                break  # not a port race: do not retry
        raise Failure(f"PostgreSQL did not start: {last}; log: {tail(self.log_path)}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """Fast shutdown (SIGINT: sessions end at once), then immediate (SIGQUIT), then SIGKILL."""
        stop_process(self.process, signal.SIGINT, 15, signal.SIGQUIT)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.log_file is not None:
                self.log_file.close()
                self.log_file = None
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, error, trace):
        self.cleanup()
        return False


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


# MARK: - A private slapd


SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
LDAP_MODULES = "/usr/lib/ldap"
LDAP_SCHEMAS = [f"/etc/ldap/schema/{name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")]


def slapd_missing():
    """Why a private slapd cannot run here, or None."""
    if not os.access(SLAPD, os.X_OK) or not os.access(SLAPADD, os.X_OK):
        return "OpenLDAP's slapd is not installed (Debian package slapd)"
    if not os.path.exists(os.path.join(LDAP_MODULES, "back_mdb.so")):
        return f"no back_mdb module in {LDAP_MODULES}"
    missing = [path for path in LDAP_SCHEMAS if not os.path.exists(path)]
    if missing:
        return f"missing schema files {missing}"
    if shutil.which("openssl") is None:
        return "openssl is not installed (needed for the server certificate)"
    return None


class Slapd:
    """A throwaway slapd: slapd.conf, an mdb database loaded with slapadd, a self-signed
    certificate for 127.0.0.1 (`cert`, also the CA file clients should trust), in the
    foreground (our child) on ldap://127.0.0.1:`port` and ldaps://127.0.0.1:`tls_port`.
    Use as a context manager; `cleanup()` stops it and removes everything."""

    def __init__(self, suffix, rootdn, rootpw, ldif, access):
        reason = slapd_missing()
        if reason:
            raise Skip(reason)
        self.suffix, self.rootdn, self.rootpw = suffix, rootdn, rootpw
        self.ldif = ldif
        self.access = access
        self.base = None
        self.process = None
        self.port = self.tls_port = None
        self.log_path = None
        self.log_file = None

    @property
    def uri(self):
        return f"ldap://{HOST}:{self.port}"

    @property
    def tls_uri(self):
        return f"ldaps://{HOST}:{self.tls_port}"

    @property
    def cert(self):
        return os.path.join(self.base, "cert.pem")

    def start(self):
        try:
            self.base = tempfile.mkdtemp(prefix="tsubame-e2e-ldap-")
            self.log_path = os.path.join(self.base, "slapd.log")
            key = os.path.join(self.base, "key.pem")
            result = subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-days", "2", "-subj", f"/CN={HOST}", "-addext", f"subjectAltName=IP:{HOST}",
                 "-keyout", key, "-out", self.cert],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=clean_environment())
            check(result.returncode == 0, f"openssl req (slapd certificate) failed: {describe(result)}")
            database = os.path.join(self.base, "db")
            os.mkdir(database, 0o700)
            config = os.path.join(self.base, "slapd.conf")
            with open(config, "w") as f:
                f.write("\n".join(
                    [f"include {path}" for path in LDAP_SCHEMAS] + [
                        f"pidfile {self.base}/slapd.pid",
                        f"argsfile {self.base}/slapd.args",
                        f"modulepath {LDAP_MODULES}",
                        "moduleload back_mdb",
                        # A DN with an empty password is an "unauthenticated" bind (RFC 4513
                        # §5.1.2); allowed here, slapd answers it with success: the trap a
                        # client doing auth_bind must avoid itself.
                        "allow bind_anon_dn",
                        f"TLSCertificateFile {self.cert}",
                        f"TLSCertificateKeyFile {key}",
                        "",
                        "database mdb",
                        "maxsize 67108864",
                        f'suffix "{self.suffix}"',
                        f'rootdn "{self.rootdn}"',
                        f"rootpw {self.rootpw}",
                        f"directory {database}",
                        "index objectClass eq",
                        "index mail eq",
                    ] + list(self.access) + [""]))
            self.config = config
            ldif = os.path.join(self.base, "tree.ldif")
            with open(ldif, "w") as f:
                f.write(self.ldif)
            result = subprocess.run([SLAPADD, "-f", config, "-l", ldif], capture_output=True, text=True,
                                    timeout=60, stdin=subprocess.DEVNULL, env=clean_environment(self.base))
            check(result.returncode == 0, f"slapadd failed: {describe(result)}")
            self._spawn()
            return self
        except BaseException:
            self.cleanup()
            raise

    def _spawn(self, attempts=3):
        last = ""
        for _ in range(attempts):
            self.port, self.tls_port = free_ports(2)
            if self.log_file is not None:
                self.log_file.close()
            self.log_file = open(self.log_path, "ab")
            # -d: stay in the foreground (our child); 256 = "stats", one line per operation.
            self.process = subprocess.Popen(
                [SLAPD, "-f", self.config, "-h", f"{self.uri}/ {self.tls_uri}/", "-d", "256"],
                stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file, cwd=self.base,
                env=clean_environment(self.base), start_new_session=True)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    last = f"slapd exited with {self.process.returncode}"
                    break
                if port_accepts(self.port) and port_accepts(self.tls_port):
                    return
                time.sleep(0.05)
            else:
                last = "not accepting connections 15 s after start"
            stop_process(self.process, signal.SIGTERM, 5)
            if "already in use" not in tail(self.log_path, 40) and "bind(" not in tail(self.log_path, 40):
                break  # not a port race: do not retry
        raise Failure(f"slapd did not start: {last}; log: {tail(self.log_path)}")

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        stop_process(self.process, signal.SIGTERM, 10)

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.log_file is not None:
                self.log_file.close()
                self.log_file = None
            if self.base is not None:
                shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, error, trace):
        self.cleanup()
        return False


# MARK: - Tsubame clients


def smtp_auth(port, login, password, timeout=IO_TIMEOUT):
    """(code, text) of AUTH PLAIN on a fresh submission session after STARTTLS."""
    client = smtplib.SMTP(HOST, port, local_hostname=CLIENT_NAME, timeout=timeout)
    try:
        client.ehlo()
        code, reply = client.starttls(context=unverified_context())
        check(code == 220, f"STARTTLS on {port} answered {code} {reply!r}")
        client.ehlo()
        code, reply = client.docmd("AUTH", "PLAIN " + plain_response(login, password))
        return code, reply.decode("utf-8", "replace")
    finally:
        quit_quietly(client)


def expect_auth(server, login, password, wanted, what, timeout=IO_TIMEOUT):
    """AUTH PLAIN must answer `wanted` (a code, or a tuple of acceptable codes)."""
    wanted = wanted if isinstance(wanted, tuple) else (wanted,)
    started = time.monotonic()
    code, reply = smtp_auth(server.ports["submission"], login, password, timeout=timeout)
    check(code in wanted, f"{what}: AUTH PLAIN as {login!r} answered {code} {reply!r} after "
          f"{time.monotonic() - started:.1f} s, expected {' or '.join(map(str, wanted))}; log: {server.log_tail(4)}")


def auth_test(data, login, password):
    return run_cli("auth", "test", login, "--password", password, data=data)


def expect_auth_test(data, login, password, code, *mentions, what="", scheme=None):
    """`tsubame auth test` exits `code`, its stdout mentions each of `mentions` and its
    `source: …, scheme …` line mentions `scheme` (case-insensitive)."""
    result = auth_test(data, login, password)
    check(result.returncode == code,
          f"{what}`tsubame auth test {login} --password …` exited {result.returncode}, expected {code}: "
          f"{describe(result)}")
    if code != 0:
        check("auth succeeded" not in result.stdout, f"{what}`tsubame auth test {login}`: {describe(result)}")
    for mention in mentions:
        check(mention.lower() in result.stdout.lower(),
              f"{what}`tsubame auth test {login}` does not mention {mention!r}: {describe(result)}")
    if scheme is not None:
        lines = [line for line in result.stdout.splitlines() if "scheme" in line.lower()]
        check(any(scheme.lower() in line.lower() for line in lines),
              f"{what}`tsubame auth test {login}`: no scheme line mentioning {scheme!r}: {describe(result)}")
    return result


def listed_users(data, what=""):
    """The logins `tsubame auth users` prints (header lines starting with # dropped)."""
    result = run_cli("auth", "users", data=data)
    check(result.returncode == 0, f"{what}`tsubame auth users` failed: {describe(result)}")
    return [line.strip() for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")]


def cli_data(parent, name, config):
    """A data directory for CLI-only runs: `parent/name/tsubame.toml` holding `config`."""
    directory = os.path.join(parent, name)
    os.mkdir(directory, 0o700)
    with open(os.path.join(directory, "tsubame.toml"), "w") as f:
        f.write('hostname = "mail.example.test"\n\n' + config)
    return directory


def check_rcpt_and_delivery(server, local_recipients, unknown, relay):
    """Port 25, unauthenticated: each of `local_recipients` ({address: mailbox}) gets 250
    and its message lands in that mailbox's new/; `unknown` gets 550; `relay` gets 5xx."""
    client = smtp_client(server.ports["smtp"])
    try:
        expected = {}
        for recipient, mailbox in local_recipients.items():
            message_id, message = make_message(recipient.split("@")[0].replace("+", "-"), to=recipient)
            send(client, REMOTE_SENDER, [recipient], message, what=f"to {recipient}: ")
            expected.setdefault(mailbox, []).append((recipient, message_id))
        code, reply = client.mail(REMOTE_SENDER)
        check(code == 250, f"MAIL FROM:<{REMOTE_SENDER}> answered {code} {reply!r}")
        code, reply = client.rcpt(unknown)
        check(code == 550, f"RCPT TO:<{unknown}> (no such user) answered {code} {reply!r}, expected 550; "
              f"log: {server.log_tail(4)}")
        code, reply = client.rcpt(relay)
        check(code // 100 == 5, f"RCPT TO:<{relay}> (not a local domain, no AUTH) answered {code} {reply!r}, "
              f"expected a 5xx relay refusal")
        client.rset()
    finally:
        quit_quietly(client)
    for mailbox, messages in expected.items():
        found = delivered(server, mailbox)
        for recipient, message_id in messages:
            check(len(found.get(message_id, [])) == 1,
                  f"the message to {recipient} is not in {server.directory}/mail/{DOMAIN}/{mailbox}/new/ "
                  f"exactly once (found there: {sorted(found, key=str)})")


# MARK: - PostgreSQL scenario


SQL_ROLE = "tsubame"
SQL_PASSWORD = "db pw-42 (tsubame)"
SQL_USERS = {  # address: (password, scheme)
    ALICE: ("al'ice pw ü", "SSHA256"),
    BOB: ("bob pw", "SSHA512"),
    CAROL: ("carol pw", "PLAIN"),
}
SQL_ALIAS = f"alias@{DOMAIN}"
SQL_QUERIES = {
    "domain_query": "SELECT 1 FROM domains WHERE name = '%d'",
    "password_query": ("SELECT username || '@' || domain AS user, password FROM users "
                       "WHERE username = '%n' AND domain = '%d'"),
    "user_query": ("SELECT target AS user FROM aliases WHERE address = '%u' UNION ALL "
                   "SELECT username || '@' || domain FROM users WHERE username = '%n' AND domain = '%d'"),
    "iterate_query": "SELECT username || '@' || domain AS user FROM users",
}


def load_mail_database(cluster):
    """Role `tsubame` (SCRAM password), database `mail` with users, aliases, domains."""
    rows = []
    for address, (password, scheme) in SQL_USERS.items():
        local, domain = address.split("@")
        rows.append(f"({sql_literal(local)}, {sql_literal(domain)}, {sql_literal(password_hash(scheme, password))})")
    cluster.sql(f"CREATE ROLE {SQL_ROLE} LOGIN PASSWORD {sql_literal(SQL_PASSWORD)};\nCREATE DATABASE mail;\n")
    cluster.sql("\n".join([
        "CREATE TABLE users (username text NOT NULL, domain text NOT NULL, password text NOT NULL);",
        "CREATE TABLE aliases (address text NOT NULL, target text NOT NULL);",
        "CREATE TABLE domains (name text NOT NULL);",
        f"INSERT INTO domains VALUES ({sql_literal(DOMAIN)});",
        f"INSERT INTO users VALUES {', '.join(rows)};",
        f"INSERT INTO aliases VALUES ({sql_literal(SQL_ALIAS)}, {sql_literal(ALICE)});",
        f"GRANT SELECT ON users, aliases, domains TO {SQL_ROLE};",
        "",
    ]), database="mail")


def sql_section(cluster, password_file=None, password=None, queries=SQL_QUERIES, timeout="2s"):
    lines = ["[auth.sql]", f"host = {toml_string(HOST)}", f"port = {cluster.port}", 'database = "mail"',
             f"user = {toml_string(SQL_ROLE)}"]
    if password_file is not None:
        lines.append(f"password_file = {toml_string(password_file)}")
    if password is not None:
        lines.append(f"password = {toml_string(password)}")
    lines += ['tls = "disable"', f"timeout = {toml_string(timeout)}"]
    lines += [f"{key} = {toml_string(value)}" for key, value in queries.items()]
    return "\n".join(lines)


def sql_user_database():
    with PostgresCluster() as cluster:
        load_mail_database(cluster)
        password_file = os.path.join(cluster.base, "pgpass")
        with open(password_file, "w") as f:
            f.write(SQL_PASSWORD + "\n")
        os.chmod(password_file, 0o600)
        work = tempfile.mkdtemp(prefix="tsubame-e2e-sqlcli-")
        try:
            with ServerProcess(extra_config=auth_config("sql", sql_section(cluster, password_file))) as server:
                data = server.directory
                # tsubame auth test: each scheme, canonical (lower-cased) lookups, failures.
                for address, (password, scheme) in SQL_USERS.items():
                    expect_auth_test(data, address, password, 0, "auth succeeded", "sql", what=f"{scheme}: ",
                                     scheme=scheme)
                expect_auth_test(data, "ALICE@Example.TEST", SQL_USERS[ALICE][0], 0, "auth succeeded",
                                 what="upper-case login: ")
                expect_auth_test(data, ALICE, WRONG, 1, "password mismatch", what="wrong password: ")
                expect_auth_test(data, f"nobody@{DOMAIN}", "x", 1, what="unknown user: ")

                users = listed_users(data)
                check(set(SQL_USERS) <= set(users), f"`tsubame auth users` lists {users}, expected {sorted(SQL_USERS)}")

                # SMTP AUTH on submission.
                expect_auth(server, ALICE, SQL_USERS[ALICE][0], 235, "right password")
                expect_auth(server, BOB, SQL_USERS[BOB][0], 235, "right password (SSHA512)")
                expect_auth(server, ALICE, WRONG, 535, "wrong password")
                expect_auth(server, f"nobody@{DOMAIN}", WRONG, 535, "unknown user")
                # SQL injection through the login: bound parameters find nothing.
                # (A quoted local part is a valid address; interpolated into '%n', the second
                # one would make the WHERE clause true for every row.)
                injections = [f"\"x' OR '1'='1\"@{DOMAIN}", f"\"x' OR 'a'='a' OR 'b'='\"@{DOMAIN}",
                              f"alice'--@{DOMAIN}", f"\"x'; DROP TABLE users; --\"@{DOMAIN}"]
                for login in injections:
                    expect_auth(server, login, SQL_USERS[ALICE][0], 535, "SQL injection attempt")
                    expect_auth(server, login, WRONG, 535, "SQL injection attempt")
                expect_auth(server, ALICE, SQL_USERS[ALICE][0], 235, "after the injection attempts (table intact)")
                log = server.log()
                suspicious = [line for line in log.splitlines()
                              if re.search(r"syntax error|unterminated|PostgreSQL (password|user|domain)_query", line,
                                           re.I)]
                check(not suspicious, f"Tsubame logged query errors for the injection attempts: {suspicious[:4]}")
                errors = [line for line in cluster.log().splitlines() if re.search(r"\b(ERROR|FATAL):", line)]
                check(not errors, f"PostgreSQL logged errors (a query did not run as a bound statement?): {errors[:4]}")
                check(re.search(rf'identity="{SQL_ROLE}" method=scram-sha-256', cluster.log()),
                      f"PostgreSQL's log shows no SCRAM-SHA-256 login of {SQL_ROLE}: {tail(cluster.log_path, 6)}")
                for secret in [SQL_PASSWORD] + [password for password, _ in SQL_USERS.values()]:
                    check(secret not in log, f"Tsubame's log contains the password {secret!r}")

                # Port 25: local users, an alias from the aliases table, +detail, unknown, relay.
                check_rcpt_and_delivery(
                    server, {ALICE: "alice", SQL_ALIAS: "alice", f"alice+tag@{DOMAIN}": "alice", BOB: "bob"},
                    unknown=f"nobody@{DOMAIN}", relay="someone@other.test")

                # `password = "…"` inline (and never printed back by config check); a wrong one.
                inline = cli_data(work, "inline", auth_config("sql", sql_section(cluster, password=SQL_PASSWORD)))
                expect_auth_test(inline, ALICE, SQL_USERS[ALICE][0], 0, "auth succeeded", what="password = …: ")
                result = run_cli("config", "check", data=inline)
                check(result.returncode == 0, f"`config check` with [auth.sql] failed: {describe(result)}")
                check(SQL_PASSWORD not in result.stdout + result.stderr,
                      f"`config check` prints the database password: {result.stdout!r}")
                bad = cli_data(work, "badpw", auth_config("sql", sql_section(cluster, password="wrong db password")))
                result = auth_test(bad, ALICE, SQL_USERS[ALICE][0])
                check(result.returncode not in (0, 1) and "auth succeeded" not in result.stdout,
                      f"a wrong database password: `auth test` should fail as 'database unavailable' "
                      f"(not 0, not 1): {describe(result)}")
                check("postgresql" in (result.stdout + result.stderr).lower(),
                      f"a wrong database password: `auth test` does not mention PostgreSQL: {describe(result)}")

                # The database goes away: temporary failures, not 'wrong password'.
                cluster.stop()
                expect_auth(server, ALICE, SQL_USERS[ALICE][0], 454, "PostgreSQL stopped", timeout=20)
                expect_auth(server, ALICE, WRONG, 454, "PostgreSQL stopped, wrong password", timeout=20)
                result = auth_test(data, ALICE, SQL_USERS[ALICE][0])
                check(result.returncode not in (0, 1) and "auth succeeded" not in result.stdout,
                      f"PostgreSQL stopped: `auth test` should fail as 'database unavailable' (not 0, not 1): "
                      f"{describe(result)}")
                check("postgresql" in (result.stdout + result.stderr).lower(),
                      f"PostgreSQL stopped: `auth test` does not mention PostgreSQL: {describe(result)}")
                check(server.alive(), f"serve exited after PostgreSQL stopped; log: {server.log_tail()}")

            # A variable inside a longer quoted string is a configuration error.
            queries = dict(SQL_QUERIES, password_query="SELECT password FROM users WHERE username = '%n@x'")
            broken = cli_data(work, "broken", auth_config("sql", sql_section(cluster, password_file, queries=queries)))
            result = run_cli("config", "check", data=broken)
            check(result.returncode != 0, f"`config check` accepted '%n@x' in a quoted string: {describe(result)}")
            check("[auth.sql] password_query" in result.stderr,
                  f"`config check` stderr does not name [auth.sql] password_query: {describe(result)}")
        finally:
            shutil.rmtree(work, ignore_errors=True)


# MARK: - LDAP scenario


LDAP_SUFFIX = "dc=example,dc=test"
LDAP_ROOT = f"cn=admin,{LDAP_SUFFIX}"
LDAP_ROOT_PASSWORD = "root-secret"  # slapd.conf: no spaces
LDAP_SERVICE = f"cn=tsubame,{LDAP_SUFFIX}"
LDAP_SERVICE_PASSWORD = "service pw 7"
LDAP_PEOPLE = f"ou=people,{LDAP_SUFFIX}"
LDAP_USERS = {ALICE: "alice ldap pw", BOB: "bob ldap pw"}
LDAP_ACCESS = [
    "access to attrs=userPassword",
    "    by self read",
    f'    by dn.exact="{LDAP_SERVICE}" read',
    "    by anonymous auth",
    "    by * none",
    "access to *",
    "    by * read",
]


def ldap_tree():
    entries = [
        [f"dn: {LDAP_SUFFIX}", "objectClass: dcObject", "objectClass: organization", "dc: example", "o: Example"],
        [f"dn: {LDAP_SERVICE}", "objectClass: organizationalRole", "objectClass: simpleSecurityObject",
         "cn: tsubame", f"userPassword: {password_hash('SSHA', LDAP_SERVICE_PASSWORD)}"],
        [f"dn: {LDAP_PEOPLE}", "objectClass: organizationalUnit", "ou: people"],
    ]
    for address, password in LDAP_USERS.items():
        uid = address.split("@")[0]
        entries.append([f"dn: uid={uid},{LDAP_PEOPLE}", "objectClass: inetOrgPerson", f"uid: {uid}",
                        f"cn: {uid.capitalize()}", "sn: Example", f"mail: {address}",
                        f"userPassword: {password_hash('SSHA', password)}"])
    return "\n\n".join("\n".join(entry) for entry in entries) + "\n"


def start_slapd():
    return Slapd(LDAP_SUFFIX, LDAP_ROOT, LDAP_ROOT_PASSWORD, ldap_tree(), LDAP_ACCESS).start()


def ldap_section(uri, auth_bind=True, bind_password_file=None, bind_password=None, starttls=None, ca_file=None):
    lines = ["[auth.ldap]", f"uri = {toml_string(uri)}"]
    if starttls is not None:
        lines.append(f"starttls = {'true' if starttls else 'false'}")
    if ca_file is not None:
        lines.append(f"ca_file = {toml_string(ca_file)}")
    lines.append(f"bind_dn = {toml_string(LDAP_SERVICE)}")
    if bind_password_file is not None:
        lines.append(f"bind_password_file = {toml_string(bind_password_file)}")
    if bind_password is not None:
        lines.append(f"bind_password = {toml_string(bind_password)}")
    lines += [
        f"base = {toml_string(LDAP_PEOPLE)}",
        'user_filter = "(&(objectClass=inetOrgPerson)(mail=%u))"',
        'iterate_filter = "(objectClass=inetOrgPerson)"',
        f"domains = [{toml_string(DOMAIN)}]",
        f"auth_bind = {'true' if auth_bind else 'false'}",
        'timeout = "2s"',
    ]
    return "\n".join(lines)


def ldap_checks(server, auth_bind):
    mode = f"auth_bind = {str(auth_bind).lower()}: "
    data = server.directory
    alice_pw = LDAP_USERS[ALICE]
    scheme = "bind" if auth_bind else "SSHA"  # auth_bind = false: slapd's {SSHA} hash, verified by Tsubame
    expect_auth_test(data, ALICE, alice_pw, 0, "auth succeeded", "ldap", what=mode, scheme=scheme)
    expect_auth_test(data, BOB, LDAP_USERS[BOB], 0, "auth succeeded", what=mode)
    expect_auth_test(data, ALICE, WRONG, 1, what=f"{mode}wrong password: ")
    expect_auth_test(data, f"nobody@{DOMAIN}", WRONG, 1, what=f"{mode}unknown user: ")
    # RFC 4513 §5.1.2: a DN with an empty password is an "unauthenticated" bind that this
    # slapd (allow bind_anon_dn) answers with success; it must not log alice in. SASL
    # PLAIN refuses an empty password itself (RFC 4616: passwd = 1*SAFE), so the CLI is
    # the path that brings one to the LDAP directory.
    expect_auth_test(data, ALICE, "", 1, what=f"{mode}empty password: ")

    expect_auth(server, ALICE, alice_pw, 235, f"{mode}right password")
    expect_auth(server, ALICE, WRONG, 535, f"{mode}wrong password")
    expect_auth(server, f"nobody@{DOMAIN}", alice_pw, 535, f"{mode}unknown user")
    # Filter injection (valid addresses: a quoted local part, and * is atext): escaped,
    # the filters match nothing. Unescaped, *@example.test would match both entries
    # (454, ambiguous) or one (235).
    for login in (f'"*)(mail=*"@{DOMAIN}', f"*@{DOMAIN}"):
        expect_auth(server, login, alice_pw, 535, f"{mode}LDAP filter injection")
    # An empty password over SMTP: 535, or 501 from the PLAIN parser (RFC 4616 §2); never 235.
    expect_auth(server, ALICE, "", (535, 501), f"{mode}empty password")
    expect_auth(server, ALICE, alice_pw, 235, f"{mode}right password after the failures")

    check_rcpt_and_delivery(server, {ALICE: "alice"}, unknown=f"nobody@{DOMAIN}", relay="someone@other.test")
    users = listed_users(data, what=mode)
    check(set(LDAP_USERS) <= set(users), f"{mode}`tsubame auth users` lists {users}, expected {sorted(LDAP_USERS)}")
    log = server.log()
    for secret in [LDAP_SERVICE_PASSWORD, alice_pw]:
        check(secret not in log, f"{mode}Tsubame's log contains the password {secret!r}")


def ldap_user_database():
    reason = slapd_missing()
    if reason:
        raise Skip(reason)
    work = tempfile.mkdtemp(prefix="tsubame-e2e-ldapcli-")
    slapd = None
    try:
        slapd = start_slapd()
        password_file = os.path.join(work, "ldappass")
        with open(password_file, "w") as f:
            f.write(LDAP_SERVICE_PASSWORD + "\n")
        os.chmod(password_file, 0o600)

        config = auth_config("ldap", ldap_section(slapd.uri, auth_bind=True, bind_password_file=password_file))
        with ServerProcess(extra_config=config) as server:
            ldap_checks(server, auth_bind=True)

        config = auth_config("ldap", ldap_section(slapd.uri, auth_bind=False, bind_password=LDAP_SERVICE_PASSWORD))
        with ServerProcess(extra_config=config) as server:
            ldap_checks(server, auth_bind=False)

            # TLS: ldaps:// and StartTLS verify the certificate against ca_file.
            for name, section in [
                ("ldaps", ldap_section(slapd.tls_uri, bind_password_file=password_file, ca_file=slapd.cert)),
                ("starttls", ldap_section(slapd.uri, bind_password_file=password_file, starttls=True,
                                          ca_file=slapd.cert)),
            ]:
                data = cli_data(work, name, auth_config("ldap", section))
                expect_auth_test(data, ALICE, LDAP_USERS[ALICE], 0, "auth succeeded", what=f"{name}: ")
                expect_auth_test(data, ALICE, WRONG, 1, what=f"{name}, wrong password: ")
            untrusted = cli_data(work, "untrusted", auth_config(
                "ldap", ldap_section(slapd.tls_uri, bind_password_file=password_file)))
            result = auth_test(untrusted, ALICE, LDAP_USERS[ALICE])
            check(result.returncode != 0 and "auth succeeded" not in result.stdout,
                  f"ldaps with an untrusted self-signed certificate (no ca_file): {describe(result)}")
            check("ldap" in (result.stdout + result.stderr).lower(),
                  f"ldaps with an untrusted certificate: the output does not mention LDAP: {describe(result)}")

            # slapd goes away: temporary failures, not 'wrong password'.
            slapd.stop()
            expect_auth(server, ALICE, LDAP_USERS[ALICE], 454, "slapd stopped", timeout=20)
            expect_auth(server, ALICE, WRONG, 454, "slapd stopped, wrong password", timeout=20)
            result = auth_test(server.directory, ALICE, LDAP_USERS[ALICE])
            check(result.returncode not in (0, 1) and "auth succeeded" not in result.stdout,
                  f"slapd stopped: `auth test` should fail as 'database unavailable' (not 0, not 1): "
                  f"{describe(result)}")
            check(server.alive(), f"serve exited after slapd stopped; log: {server.log_tail()}")
    finally:
        try:
            if slapd is not None:
                slapd.cleanup()
        finally:
            shutil.rmtree(work, ignore_errors=True)


def doveadm_hash(password, scheme="SHA512-CRYPT"):
    """A `{SCHEME}hash` from Dovecot's own `doveadm pw`, or a Python {SSHA256} without it."""
    if shutil.which("doveadm"):
        result = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password], capture_output=True, text=True,
                                timeout=30)
        if result.returncode == 0 and result.stdout.startswith("{"):
            return result.stdout.strip()
    salt = os.urandom(8)
    return "{SSHA256}" + base64.b64encode(hashlib.sha256(password.encode() + salt).digest() + salt).decode()


def passwd_file_user_database():
    """A Dovecot passwd-file as it is (hashes from doveadm), chained before the embedded
    database; an edit is picked up without a restart."""
    directory = tempfile.mkdtemp(prefix="tsubame-e2e-passwd-")
    users = os.path.join(directory, "users")
    try:
        with open(users, "w") as f:
            f.write("# Dovecot passwd-file\n")
            f.write(f"{ALICE}:{doveadm_hash('alice-pw')}:5000:5000::/var/vmail/{DOMAIN}/alice::\n")
            f.write(f"{BOB}:{doveadm_hash('bob-pw', 'SSHA512')}:5000:5000::/var/vmail/{DOMAIN}/bob::userdb_quota_rule=*:storage=1G\n")
        config = AUTH_SECTION.format(source=f'{toml_string("passwd-file:" + users)}, "sqlite"')
        with ServerProcess(extra_config=config) as server:
            expect_auth_test(server.directory, ALICE, "alice-pw", 0, "passwd-file", what="passwd-file: ")
            expect_auth_test(server.directory, BOB, "bob-pw", 0, "passwd-file", what="passwd-file: ")
            expect_auth_test(server.directory, ALICE, WRONG, 1, "password mismatch", what="passwd-file: ")
            expect_auth(server, ALICE, "alice-pw", 235, "passwd-file")
            expect_auth(server, ALICE, WRONG, 535, "passwd-file, wrong password")
            # The embedded database, second in the chain, answers for its own users.
            for args in (("domain", "add", "other.test"), ("user", "add", "dave@other.test", "--password", "dave-pw")):
                result = run_cli(*args, data=server.directory)
                check(result.returncode == 0, f"`tsubame {' '.join(args)}` failed: {describe(result)}")
            expect_auth(server, "dave@other.test", "dave-pw", 235, "sqlite after passwd-file")
            # An edit of the file (a new user, carol) works without a restart.
            expect_auth(server, CAROL, "carol-pw", 535, "passwd-file before carol was added")
            with open(users, "a") as f:
                f.write(f"{CAROL}:{doveadm_hash('carol-pw')}:5000:5000::/var/vmail/{DOMAIN}/carol::\n")
            deadline = time.monotonic() + 5
            while True:
                code, reply = smtp_auth(server.ports["submission"], CAROL, "carol-pw")
                if code == 235:
                    break
                check(time.monotonic() < deadline, f"carol added to the passwd-file still gets {code} {reply!r} after 5 s")
                time.sleep(0.3)
            # Mail for a passwd-file user is delivered (its domain is local).
            client = smtp_client(server.ports["smtp"])
            try:
                message_id, message = make_message("passwd-file")
                send(client, REMOTE_SENDER, [BOB], message)
            finally:
                quit_quietly(client)
            check(message_id in delivered(server, "bob"), f"{message_id} is not in bob's Maildir")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


SCENARIOS = [
    sql_user_database,
    ldap_user_database,
    passwd_file_user_database,
]


# MARK: - Self-check of the helpers (no tsubame needed)


def bound_statement(query):
    """A Dovecot query with '%u'/'%n'/'%d' as $1, $2… (what Tsubame sends), and the variables in order."""
    names = []

    def placeholder(match):
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"'%([und])'", placeholder, query), names


def self_check_postgres():
    began = time.monotonic()
    with PostgresCluster() as cluster:
        base, pid = cluster.base, cluster.process.pid
        load_mail_database(cluster)
        print(f"postgres: {cluster.bin}, 127.0.0.1:{cluster.port}, {base}, pid {pid}, ready after "
              f"{time.monotonic() - began:.1f} s")
        values = {"u": ALICE, "n": "alice", "d": DOMAIN}
        statements = []
        for index, (name, query) in enumerate(SQL_QUERIES.items()):
            sql, names = bound_statement(query)
            arguments = ", ".join(sql_literal(values[n]) for n in names)
            statements.append(f"PREPARE q{index} AS {sql};\nEXECUTE q{index}{f'({arguments})' if names else ''};")
        # As the tsubame role, over TCP with SCRAM: the queries as Tsubame binds them.
        result = cluster.psql("\n".join(statements) + "\n", database="mail", user=SQL_ROLE, password=SQL_PASSWORD,
                              tcp=True)
        check(result.returncode == 0, f"tsubame's queries over TCP failed: {describe(result)}")
        out = result.stdout.split()
        print("queries as tsubame over TCP:", out)
        check(out[0] == "1", f"domain_query: {out}")
        check(out[1].startswith(f"{ALICE}|{{SSHA256}}"), f"password_query: {out}")
        check(out.count(ALICE) >= 2 and f"{BOB}" in out and f"{CAROL}" in out, f"user/iterate: {out}")
        # An injection value bound as a parameter: no row, no error.
        sql, names = bound_statement(SQL_QUERIES["password_query"])
        injection = sql_literal("\"x' OR '1'='1\"")
        result = cluster.psql(f"PREPARE p AS {sql};\nEXECUTE p({injection}, {sql_literal(DOMAIN)});\n",
                              database="mail", user=SQL_ROLE, password=SQL_PASSWORD, tcp=True)
        check(result.returncode == 0 and result.stdout.strip() == "", f"bound injection: {describe(result)}")
        result = cluster.psql("SELECT 1;\n", database="mail", user=SQL_ROLE, password="wrong", tcp=True)
        check(result.returncode != 0 and "password authentication failed" in result.stderr,
              f"a wrong password over TCP should fail: {describe(result)}")
        print("wrong password over TCP:", result.stderr.strip().splitlines()[-1])
        check(re.search(rf'identity="{SQL_ROLE}" method=scram-sha-256', cluster.log()),
              f"no SCRAM login in the log: {tail(cluster.log_path)}")
        # Hashes as Dovecot reads them.
        if shutil.which("doveadm"):
            for address, (password, scheme) in SQL_USERS.items():
                stored = cluster.sql(f"SELECT password FROM users WHERE username || '@' || domain = "
                                     f"{sql_literal(address)};\n", database="mail").strip()
                verify = subprocess.run(["doveadm", "pw", "-t", stored, "-p", password], capture_output=True,
                                        text=True, timeout=30)
                check(verify.returncode == 0, f"doveadm rejects {stored} for {address}: {describe(verify)}")
                print(f"doveadm pw -t {scheme}: {verify.stdout.strip()}")
        cluster.stop()
        check(not cluster.alive(), "postgres still running after stop()")
        check(not port_accepts(cluster.port), f"port {cluster.port} still accepts after stop()")
        result = cluster.psql("SELECT 1;\n", database="mail", user=SQL_ROLE, password=SQL_PASSWORD, tcp=True)
        check(result.returncode != 0, f"psql succeeded after stop(): {describe(result)}")
        print("after stop:", result.stderr.strip().splitlines()[-1])
    check(not os.path.exists(base), f"{base} not removed")
    leftovers = subprocess.run(["pgrep", "-f", base], capture_output=True, text=True).stdout.split()
    check(not leftovers, f"processes left running for {base}: {leftovers}")
    print(f"postgres: OK in {time.monotonic() - began:.1f} s, {base} removed")


def self_check_slapd():
    began = time.monotonic()
    slapd = start_slapd()
    base = slapd.base
    try:
        print(f"slapd: {slapd.uri} {slapd.tls_uri} {base} pid {slapd.process.pid}, ready after "
              f"{time.monotonic() - began:.1f} s")
        if shutil.which("ldapsearch"):
            def ldapsearch(*args, env=None):
                return subprocess.run(["ldapsearch", "-LLL", "-o", "nettimeout=5", "-o", "ldif-wrap=no", *args],
                                      capture_output=True, text=True, timeout=30,
                                      env=env or clean_environment(base), stdin=subprocess.DEVNULL)

            tls_env = dict(clean_environment(base), LDAPTLS_CACERT=slapd.cert, LDAPTLS_REQCERT="demand")
            for what, args, env in [
                ("service DN, ldap://", ["-H", slapd.uri], None),
                ("service DN, ldaps:// + CA", ["-H", slapd.tls_uri], tls_env),
                ("service DN, StartTLS + CA", ["-H", slapd.uri, "-ZZ"], tls_env),
            ]:
                result = ldapsearch(*args, "-x", "-D", LDAP_SERVICE, "-w", LDAP_SERVICE_PASSWORD, "-b", LDAP_PEOPLE,
                                    "(&(objectClass=inetOrgPerson)(mail=alice@example.test))", "mail",
                                    "userPassword", env=env)
                check(result.returncode == 0 and "userPassword:" in result.stdout,
                      f"{what}: {describe(result)}")
                print(f"{what}: OK (reads userPassword)")
            result = ldapsearch("-H", slapd.uri, "-x", "-b", LDAP_PEOPLE, "(mail=*)", "mail", "userPassword")
            check(result.returncode == 0 and "mail: alice@example.test" in result.stdout
                  and "userPassword" not in result.stdout, f"anonymous search: {describe(result)}")
            print("anonymous: sees mail, not userPassword")
            result = ldapsearch("-H", slapd.uri, "-x", "-D", f"uid=alice,{LDAP_PEOPLE}", "-w", LDAP_USERS[ALICE],
                                "-b", LDAP_PEOPLE, "(uid=alice)", "mail")
            check(result.returncode == 0, f"bind as alice with her password ({{SSHA}} by Python): {describe(result)}")
            result = ldapsearch("-H", slapd.uri, "-x", "-D", f"uid=alice,{LDAP_PEOPLE}", "-w", WRONG,
                                "-b", LDAP_PEOPLE, "(uid=alice)", "mail")
            check(result.returncode == 49, f"bind as alice with a wrong password: {describe(result)}")
            print("bind as alice: right password OK, wrong password 49")
            result = ldapsearch("-H", slapd.uri, "-x", "-D", f"uid=alice,{LDAP_PEOPLE}", "-w", "",
                                "-b", LDAP_PEOPLE, "(uid=alice)", "mail")
            check(result.returncode == 0, f"bind as alice with an empty password (the trap) should succeed: "
                  f"{describe(result)}")
            print("bind as alice with an empty password: success (unauthenticated bind allowed: the trap is armed)")
            untrusted = dict(clean_environment(base), LDAPTLS_REQCERT="demand")
            result = ldapsearch("-H", slapd.tls_uri, "-x", "-b", LDAP_PEOPLE, "(uid=alice)", "mail", env=untrusted)
            check(result.returncode != 0, f"ldaps without the CA should fail: {describe(result)}")
            print("ldaps without the CA:", (result.stderr.strip().splitlines() or ["?"])[0])
        else:
            print("ldapsearch missing: only the TCP ports checked")
        slapd.stop()
        check(not slapd.alive(), "slapd still running after stop()")
        check(not port_accepts(slapd.port) and not port_accepts(slapd.tls_port), "ports still accept after stop()")
    finally:
        slapd.cleanup()
    check(not os.path.exists(base), f"{base} not removed")
    print(f"slapd: OK in {time.monotonic() - began:.1f} s, {base} removed")


if __name__ == "__main__":
    import sys

    failed = False
    for name, function in [("postgres", self_check_postgres), ("slapd", self_check_slapd)]:
        if len(sys.argv) > 1 and name not in sys.argv[1:]:
            continue
        try:
            function()
        except Skip as reason:
            print(f"SKIP {name}: {reason}")
        except Failure as failure:
            failed = True
            print(f"FAIL {name}: {failure}")
    sys.exit(1 if failed else 0)
