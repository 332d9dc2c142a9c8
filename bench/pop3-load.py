#!/usr/bin/env python3
"""POP3 load for bench/pop3.sh: the same client against Dovecot and Tsubame.

  pop3-load.py retr HOST PORT USER PASSWORD        RETR every message of one maildrop,
                                                   100 commands pipelined at a time
  pop3-load.py login HOST PORT PATTERN PASSWORD N C   N logins (USER, PASS, STAT, QUIT)
                                                   over C threads; PATTERN has {n}
Prints one line: `messages=… bytes=… seconds=…` or `logins=… seconds=…`.
Standard library only; no TLS (loopback, plaintext allowed on both servers).
"""
import socket
import sys
import threading
import time


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.buffer = b""
        self.line()  # greeting

    def fill(self):
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("server closed the connection")
        self.buffer += data

    def line(self):
        while b"\r\n" not in self.buffer:
            self.fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def command(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        reply = self.line()
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"{text.split()[0]}: {reply!r}")
        return reply

    def multiline(self):
        """One +OK response and its body up to the terminating line; returns the body size."""
        status = self.line()
        if not status.startswith(b"+OK"):
            raise RuntimeError(f"RETR: {status!r}")
        start = 0
        while True:
            if self.buffer.startswith(b".\r\n"):
                self.buffer = self.buffer[3:]
                return 0
            end = self.buffer.find(b"\r\n.\r\n", start)
            if end >= 0:
                size = end + 2
                self.buffer = self.buffer[end + 5:]
                return size
            start = max(0, len(self.buffer) - 4)
            self.fill()

    def login(self, user, password):
        self.command(f"USER {user}")
        self.command(f"PASS {password}")

    def close(self):
        self.sock.close()


def retr(host, port, user, password):
    client = Client(host, port)
    client.login(user, password)
    count = int(client.command("STAT").split()[1])
    started = time.monotonic()
    total = 0
    batch = 100
    for first in range(1, count + 1, batch):
        numbers = range(first, min(first + batch, count + 1))
        client.sock.sendall(b"".join(f"RETR {n}\r\n".encode() for n in numbers))
        for _ in numbers:
            total += client.multiline()
    seconds = time.monotonic() - started
    client.command("QUIT")
    client.close()
    print(f"messages={count} bytes={total} seconds={seconds:.3f}")


def login(host, port, pattern, password, count, threads):
    lock = threading.Lock()
    next_index = [0]
    errors = []

    def worker():
        while True:
            with lock:
                index = next_index[0]
                next_index[0] += 1
            if index >= count:
                return
            try:
                client = Client(host, port)
                client.login(pattern.format(n=index % 1000 + 1), password)
                client.command("STAT")
                client.command("QUIT")
                client.close()
            except Exception as error:  # noqa: BLE001 - reported below
                errors.append(error)
                return

    started = time.monotonic()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    seconds = time.monotonic() - started
    if errors:
        raise SystemExit(f"{len(errors)} errors, first: {errors[0]}")
    print(f"logins={count} seconds={seconds:.3f}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "retr":
        retr(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif mode == "login":
        login(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]), int(sys.argv[7]))
    else:
        raise SystemExit(__doc__)
