#!/usr/bin/env python3
"""Submission load for bench/submission.sh: N messages, one connection each, over T
threads: EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT (a local user), DATA, QUIT.

  submission-load.py HOST PORT N THREADS SIZE
Prints `messages=… seconds=…`. Standard library only; the certificate is not verified.
"""
import smtplib
import ssl
import sys
import threading
import time

host, port, count, threads, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
body = ("x" * 76 + "\r\n") * (size // 78)
lock = threading.Lock()
state = {"next": 0, "errors": []}


def worker():
    while True:
        with lock:
            index = state["next"]
            state["next"] += 1
        if index >= count:
            return
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
            with lock:
                state["errors"].append(error)
            return


started = time.monotonic()
pool = [threading.Thread(target=worker) for _ in range(threads)]
for thread in pool:
    thread.start()
for thread in pool:
    thread.join()
seconds = time.monotonic() - started
if state["errors"]:
    raise SystemExit(f"{len(state['errors'])} errors, first: {state['errors'][0]!r}")
print(f"messages={count} seconds={seconds:.3f}")
