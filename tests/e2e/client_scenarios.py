"""End-to-end scenarios with more real clients from Debian: msmtp submitting on 587
(STARTTLS + AUTH) and 465 (implicit TLS), and getmail6 fetching over POP3S with a
second run that fetches nothing new. A client that is not installed raises
harness.Skip (`.ci/run` installs both).
"""

import os
import shutil
import subprocess
import tempfile

from harness import HOST, Failure, Skip, check
from pop3_scenarios import deliver
from smtp_scenarios import ALICE, BOB, PASSWORDS, check_mailbox, mail_server, make_message


def msmtp(port, message, *options, password=None, timeout=30):
    """Sends `message` as alice to bob with msmtp; returns the CompletedProcess."""
    password = PASSWORDS[ALICE] if password is None else password
    with tempfile.NamedTemporaryFile("w", suffix=".pw", delete=False) as f:
        f.write(password)
        password_file = f.name
    try:
        return subprocess.run(
            ["msmtp", f"--host={HOST}", f"--port={port}", "--tls=on", "--tls-certcheck=off", "--auth=plain",
             f"--user={ALICE}", f"--passwordeval=cat {password_file}", f"--from={ALICE}",
             "--domain=client.example.test", *options, BOB],
            input=message, capture_output=True, timeout=timeout)
    finally:
        os.unlink(password_file)


def msmtp_submission():
    """msmtp on 587 (STARTTLS, AUTH PLAIN) and 465 (TLS from the first byte): each
    message in bob's Maildir once, byte-exact; a wrong password is refused and
    delivers nothing."""
    if shutil.which("msmtp") is None:
        raise Skip("msmtp is not installed")
    with mail_server() as server:
        expected = {}
        for label, port, options in (("587", server.ports["submission"], ["--tls-starttls=on"]),
                                     ("465", server.ports["submissions"], ["--tls-starttls=off"])):
            message_id, message = make_message(f"msmtp-{label}", sender=ALICE, to=BOB, filler_lines=50)
            # With a Date: of its own, msmtp sends the message as it is (it adds one
            # that is missing).
            message = b"Date: Sun, 29 Nov 2026 13:00:00 +0000\r\n" + message
            result = msmtp(port, message, *options)
            check(result.returncode == 0, f"msmtp on {label} exited {result.returncode}: "
                  f"{result.stderr.decode('utf-8', 'replace').strip()}")
            expected[message_id] = message
        _, refused = make_message("msmtp-wrong-password", sender=ALICE, to=BOB)
        result = msmtp(server.ports["submission"], refused, "--tls-starttls=on", password="wrong")
        check(result.returncode != 0, "msmtp with a wrong password succeeded")
        check(b"535" in result.stderr or b"authentication failed" in result.stderr.lower(),
              f"msmtp with a wrong password: {result.stderr!r}")
        check_mailbox(server, "bob", expected, sender=ALICE)
        return "587 and 465 delivered byte-exact; wrong password refused"


def getmail_run(rc_directory, rc_file):
    result = subprocess.run(
        ["getmail", f"--getmaildir={rc_directory}", f"--rcfile={rc_file}"], capture_output=True, timeout=60)
    if result.returncode != 0:
        raise Failure(f"getmail exited {result.returncode}: {result.stderr.decode('utf-8', 'replace').strip()} "
                      f"{result.stdout.decode('utf-8', 'replace').strip()}")
    return result.stdout.decode("utf-8", "replace")


def local_message_ids(maildir):
    found = []
    for folder in ("new", "cur"):
        for name in sorted(os.listdir(os.path.join(maildir, folder))):
            with open(os.path.join(maildir, folder, name), "rb") as f:
                for line in f.read().split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n").split(b"\n"):
                    if line.lower().startswith(b"message-id:"):
                        found.append(line.split(b":", 1)[1].strip().decode())
    return found


def getmail6_pop3s():
    """getmail6 over POP3S (port 995's service): both messages once, byte-exact bodies;
    a second run fetches nothing new (getmail remembers UIDLs); a third, after one
    more delivery, fetches only that one."""
    if shutil.which("getmail") is None:
        raise Skip("getmail6 is not installed")
    home = tempfile.mkdtemp(prefix="tsubame-getmail-")
    try:
        maildir = os.path.join(home, "Maildir")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir, sub))
        # getmail will not deliver as root: it writes as `nobody` then.
        user_line = ""
        if os.geteuid() == 0:
            import pwd
            nobody = pwd.getpwnam("nobody")
            os.chmod(home, 0o755)
            for path in [maildir] + [os.path.join(maildir, sub) for sub in ("cur", "new", "tmp")]:
                os.chown(path, nobody.pw_uid, nobody.pw_gid)
            user_line = "user = nobody\n"
        with mail_server() as server:
            rc = os.path.join(home, "getmailrc")
            with open(rc, "w") as f:
                f.write(f"""[retriever]
type = SimplePOP3SSLRetriever
server = {HOST}
port = {server.ports["pop3s"]}
username = {ALICE}
password = {PASSWORDS[ALICE]}

[destination]
type = Maildir
path = {maildir}/
{user_line}
[options]
read_all = false
delete = false
verbose = 1
""")
            sent = deliver(server, [("getmail-one", 0), ("getmail-two", 300)])
            getmail_run(home, rc)
            ids = local_message_ids(maildir)
            check(sorted(ids) == sorted(message_id for message_id, _ in sent),
                  f"first getmail run: {ids}, expected {[m for m, _ in sent]}")
            getmail_run(home, rc)
            check(len(local_message_ids(maildir)) == 2, "the second getmail run fetched messages again")
            more = deliver(server, [("getmail-three", 0)])
            getmail_run(home, rc)
            ids = local_message_ids(maildir)
            check(sorted(ids) == sorted([m for m, _ in sent] + [more[0][0]]),
                  f"third getmail run: {ids}")
            return "3 messages over three runs, none twice"
    finally:
        shutil.rmtree(home, ignore_errors=True)


SCENARIOS = [
    msmtp_submission,
    getmail6_pop3s,
]
