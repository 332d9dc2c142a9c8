"""Shared helpers of the end-to-end suite: the server process, a raw line client, checks.

Python 3 standard library only. `run.py` sets `BINARY` before any scenario runs.
"""

import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

SERVICES = ("smtp", "submission", "submissions", "imap", "imaps", "pop3", "pop3s")
HOST = "127.0.0.1"
HOSTNAME = "mail.example.test"
IO_TIMEOUT = 5.0

BINARY = "tsubame"


class Failure(Exception):
    """A scenario's check did not hold; the message says why."""


class Skip(Exception):
    """A scenario cannot run on this machine (e.g. needs root); the message says why.
    run.py prints `SKIP name: why` and counts it as skipped, neither passed nor failed."""


def check(condition, message):
    if not condition:
        raise Failure(message)


def unverified_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def free_ports(count):
    """Distinct ports the kernel considers free right now (bind 0, read, close)."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def run_cli(*args, data=None, stdin=None, timeout=30):
    """Runs `tsubame ARGS [--data DATA]`; returns CompletedProcess (text)."""
    command = [BINARY, *args]
    if data is not None:
        command += ["--data", data]
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout,
        stdin=None if stdin is not None else subprocess.DEVNULL)


def describe(result):
    return (f"exit {result.returncode}, stdout {result.stdout.strip()!r}, "
            f"stderr {result.stderr.strip()!r}")


# MARK: - Server process


class ServerProcess:
    """One `tsubame serve --data DIR` with a generated tsubame.toml."""

    def __init__(self, extra_config="", services=SERVICES, listen_overrides=None, hostname=HOSTNAME):
        self.directory = tempfile.mkdtemp(prefix="tsubame-e2e-")
        self.extra_config = extra_config
        self.services = services
        self.listen_overrides = listen_overrides or {}
        self.hostname = hostname
        self.ports = {}
        # service → (host, port) where it listens: HOST and a free port, or what
        # listen_overrides says (e.g. "127.0.0.2:2525": a second loopback address).
        self.addresses = {}
        self.process = None
        self.log_path = os.path.join(self.directory, "serve.log")
        self.log_file = None
        self.startup_seconds = None

    def write_config(self):
        numbers = free_ports(len(self.services))
        self.ports = dict(zip(self.services, numbers))
        self.addresses = {service: (HOST, port) for service, port in self.ports.items()}
        lines = [f'hostname = "{self.hostname}"', "", "[listen]"]
        for service in SERVICES:
            if service in self.listen_overrides:
                lines.append(f'{service} = "{self.listen_overrides[service]}"')
                if service in self.ports:
                    host, _, port = self.listen_overrides[service].rpartition(":")
                    if host and port.isdigit():
                        self.ports[service] = int(port)
                        self.addresses[service] = (host.strip("[]"), int(port))
            elif service in self.ports:
                lines.append(f'{service} = "{HOST}:{self.ports[service]}"')
            else:
                lines.append(f'{service} = ""')
        text = "\n".join(lines) + "\n"
        if self.extra_config:
            text += "\n" + self.extra_config.strip() + "\n"
        if "[dns]" not in self.extra_config:
            # Mail queued for other domains must not make the queue runner ask the
            # machine's resolver (traffic stays on loopback): a port where nothing
            # listens, so lookups fail at once and the mail stays deferred in the queue.
            text += f'\n[dns]\nservers = ["127.0.0.1:{free_ports(1)[0]}"]\ntimeout = "1s"\nattempts = 1\n'
        with open(os.path.join(self.directory, "tsubame.toml"), "w") as f:
            f.write(text)

    def spawn(self):
        if self.log_file is not None:
            self.log_file.close()
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--data", self.directory],
            stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=self.log_file)

    def start(self, attempts=3):
        """Writes the config, spawns, waits until every port accepts (10 s)."""
        last = ""
        for _ in range(attempts):
            self.write_config()
            started = time.monotonic()
            self.spawn()
            ready, last = self.wait_until_listening(10.0)
            if ready:
                self.startup_seconds = time.monotonic() - started
                return self
            # A port taken between free_ports() and bind: try other ports.
            if self.process.poll() is not None and "cannot listen" in self.log():
                continue
            break
        self.stop()
        raise Failure(f"server did not start: {last}; log: {self.log_tail()}")

    def wait_until_listening(self, limit):
        deadline = time.monotonic() + limit
        waiting = dict(self.addresses or {service: (HOST, port) for service, port in self.ports.items()})
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return False, f"serve exited with {code}"
            for service, address in list(waiting.items()):
                try:
                    with socket.create_connection(address, timeout=0.5):
                        pass
                    del waiting[service]
                except OSError:
                    pass
            if not waiting:
                return True, ""
            time.sleep(0.02)
        return False, f"ports not accepting after {limit:.0f} s: {sorted(waiting)}"

    def wait_for_log(self, text, count, limit=10.0):
        """Waits until `text` appears `count` times in the server's log."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.log().count(text) >= count:
                return True
            if not self.alive():
                return False
            time.sleep(0.02)
        return False

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=8):
        return " | ".join(self.log().strip().splitlines()[-lines:])

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def cleanup(self):
        try:
            self.stop()
        finally:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
            if self.log_file is not None:
                self.log_file.close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, kind, error, trace):
        # A server that died during the scenario explains most failures: say so.
        died = self.process is not None and self.process.poll() is not None
        code = self.process.returncode if died else None
        log = self.log_tail() if died else ""
        self.cleanup()
        if died and (kind is None or issubclass(kind, (Failure, OSError, EOFError))):
            detail = f"server exited with {code} during the scenario; log: {log}"
            raise Failure(f"{error}; {detail}" if error is not None else detail) from error
        return False


# MARK: - Raw line client


class LineClient:
    """A raw socket with CRLF line reading, optionally upgraded to TLS."""

    def __init__(self, port, timeout=IO_TIMEOUT):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.timeout = timeout
        self.pending = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        """One line without CRLF; b'' only at EOF with nothing pending."""
        while b"\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                line, self.pending = self.pending, b""
                return line
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.rstrip(b"\r")

    def line(self, what="a line"):
        line = self.readline()
        check(line != b"", f"connection closed while waiting for {what}")
        return line.decode("utf-8", "replace")

    def smtp_reply(self):
        """Reads a (multi-line) SMTP reply; returns its lines."""
        lines = []
        while True:
            line = self.line("an SMTP reply")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines

    def expect_eof(self, limit=5.0):
        """True when the peer closes within `limit` seconds (data before EOF is drained)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except (ConnectionResetError, ssl.SSLError, OSError):
                return True
            if not chunk:
                return True
        return False

    def drain(self, wait=0.3):
        """Whatever is pending plus what arrives within `wait` seconds (b'' if nothing)."""
        data, self.pending = self.pending, b""
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, OSError):
            pass
        finally:
            self.sock.settimeout(self.timeout)
        return data

    def start_tls(self):
        check(self.pending == b"", f"server sent bytes before the TLS handshake: {self.pending!r}")
        self.sock = unverified_context().wrap_socket(self.sock, server_hostname=HOSTNAME)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def require_curl(*protocols):
    """Skips the scenario unless curl is installed with every one of `protocols`."""
    if shutil.which("curl") is None:
        raise Skip("curl is not installed")
    version = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout
    available = next((line.split(":", 1)[1].split() for line in version.splitlines()
                      if line.startswith("Protocols:")), [])
    missing = [name for name in protocols if name not in available]
    if missing:
        raise Skip(f"this curl lacks {'/'.join(missing)}: {available}")
