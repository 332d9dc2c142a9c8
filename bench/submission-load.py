#!/usr/bin/env python3
"""Submission load for bench/submission.sh: N messages, one connection each, over P
processes (not threads: one Python process doing TLS handshakes was the limit at ~130
msg/s, whatever the server): EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT (a local
user), DATA, QUIT.

  submission-load.py HOST PORT N PROCESSES SIZE
Prints `messages=… seconds=…`. Standard library only; the certificate is not verified.
"""
import multiprocessing
import smtplib
import ssl
import sys
import time

host, port, count, processes, size = (
    sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
body = ("x" * 76 + "\r\n") * (size // 78)


def worker(first, errors):
    """Sends messages first, first + processes, …; puts the first error on `errors`."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    for index in range(first, count, processes):
        user = f"user{index % 1000 + 1}@example.test"
        rcpt = f"user{(index * 7) % 1000 + 1}@example.test"
        message = (f"From: {user}\r\nTo: {rcpt}\r\nSubject: bench {index}\r\n"
                   f"Message-ID: <{index}.{time.time_ns()}@bench.test>\r\n\r\n{body}")
        try:
            client = smtplib.SMTP(host, port, local_hostname="bench.test", timeout=60)
            client.starttls(context=context)
            client.login(user, "pass")
            client.sendmail(user, [rcpt], message.encode())
            client.quit()
        except Exception as error:  # noqa: BLE001 - reported at the end
            errors.put(repr(error))
            return


if __name__ == "__main__":
    errors = multiprocessing.Queue()
    started = time.monotonic()
    pool = [multiprocessing.Process(target=worker, args=(first, errors)) for first in range(processes)]
    for process in pool:
        process.start()
    for process in pool:
        process.join()
    seconds = time.monotonic() - started
    if not errors.empty():
        raise SystemExit(f"errors, first: {errors.get()}")
    print(f"messages={count} seconds={seconds:.3f}")
