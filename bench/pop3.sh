#!/usr/bin/env bash
# POP3 against Dovecot's pop3 (the anchor, port 110) and Tsubame, alternating, same
# client, same run: RETR of every message of a MESSAGES-message maildrop (100 commands
# pipelined at a time), and the login rate (USER, PASS, STAT, QUIT; SHA512-CRYPT on
# both sides, Dovecot with its auth cache on). Server CPU from cputree.py.
#
# usage: bench/pop3.sh [MESSAGES] [LOGINS] [THREADS] [ROUNDS]
#   defaults 10000 messages of ~4 KB, 2000 logins over 8 threads, 3 rounds
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release
source "$(dirname "$0")/common.sh"
MESSAGES=${1:-10000} LOGINS=${2:-2000} THREADS=${3:-8} ROUNDS=${4:-3}
LOAD="python3 $ROOT/bench/pop3-load.py"
USER=user1000@example.test

prepare_tsubame_data
trap stop_tsubame EXIT

# The same MESSAGES messages in both maildrops, as files in new/ (each server indexes
# them on first open; a warm-up session does that before anything is measured).
fill_maildrop() {
    local maildir=$1 owner=$2
    rm -rf "$maildir"; mkdir -p "$maildir"/{cur,new,tmp}
    python3 - "$maildir/new" "$MESSAGES" <<'PY'
import os, random, sys
directory, count = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
for i in range(count):
    body = []
    while sum(len(line) + 2 for line in body) < 3600:
        body.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))))
    if i % 10 == 0:
        body.append(".a line that needs dot-stuffing")
    text = (f"Return-Path: <sender{i}@example.org>\r\nFrom: Sender <sender{i}@example.org>\r\n"
            f"To: user1000@example.test\r\nSubject: message {i}\r\nMessage-ID: <{i}@bench.example.org>\r\n"
            f"Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\n" + "\r\n".join(body) + "\r\n").encode()
    name = f"{1795900000 + i}.M{i}P1.bench,S={len(text)},W={len(text)}"
    with open(os.path.join(directory, name), "wb") as f:
        f.write(text)
PY
    chown -R "$owner" "$maildir"
}
log "filling both maildrops with $MESSAGES messages"
fill_maildrop /var/mail/vhosts/example.test/user1000/Maildir vmail:vmail
rm -f /var/mail/vhosts/example.test/user1000/Maildir/dovecot* 2>/dev/null || true
fill_maildrop "$BENCH_DATA/mail/example.test/user1000" "$(id -u):$(id -g)"
start_tsubame

measure() {  # who port mode args... ; prints "who mode: <load line> cpu=<s>"
    local who=$1 port=$2 mode=$3; shift 3
    local pids; if [ "$who" = anchor ]; then pids=$(cat /run/dovecot/master.pid); else pids=$TSUBAME_PID; fi
    local before after line
    before=$(python3 "$ANCHORS/cputree.py" $pids | awk '{print $NF}' | tail -1)
    line=$($LOAD "$mode" 127.0.0.1 "$port" "$@")
    after=$(python3 "$ANCHORS/cputree.py" $pids | awk '{print $NF}' | tail -1)
    echo "$who $mode: $line cpu=$(python3 -c "print(f'{$after - $before:.3f}')")"
}

log "warm-up (index both maildrops)"
$LOAD retr 127.0.0.1 110 "$USER" pass >/dev/null
$LOAD retr 127.0.0.1 "$TSUBAME_POP3_PORT" "$USER" pass >/dev/null
out=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    for who in anchor tsubame; do
        port=110; [ "$who" = tsubame ] && port=$TSUBAME_POP3_PORT
        log "round $round: $who"
        measure "$who" "$port" retr "$USER" pass | tee -a "$out"
        measure "$who" "$port" login "user{n}@example.test" pass "$LOGINS" "$THREADS" | tee -a "$out"
    done
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who, mode = line.split(":")[0].split()
    fields = dict(re.findall(r"(\w+)=([0-9.]+)", line))
    seconds, cpu = float(fields["seconds"]), float(fields["cpu"])
    count = float(fields.get("messages") or fields.get("logins"))
    rows.setdefault((who, mode), []).append((count / seconds, cpu / count * 1000))
med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
unit = {"retr": "messages", "login": "logins"}
for (who, mode), (rate, cpu) in sorted(med.items()):
    print(f"{who} {mode}: median {rate:.0f} {unit[mode]}/s, {cpu:.3f} ms server CPU each")
for mode in ("retr", "login"):
    if ("anchor", mode) in med and ("tsubame", mode) in med:
        a, t = med[("anchor", mode)], med[("tsubame", mode)]
        print(f"ratio tsubame/anchor {mode}: rate {t[0] / a[0]:.2f}x, CPU each {t[1] / a[1]:.2f}x")
PY
