#!/usr/bin/env bash
# IMAP against Dovecot's imap (the anchor, port 143) and Tsubame, alternating, same
# client (bench/imap-load, SwiftNIO), same run. Per round and side:
#   login     LOGINS sessions of greeting, LOGIN, LOGOUT, CONCURRENCY at a time, users
#             user1..user1000 (SHA512-CRYPT on both sides, Dovecot with its auth cache)
#   fetch-all SELECT INBOX and FETCH 1:* (UID FLAGS) on user1000's MESSAGES-message
#             INBOX, timed separately, FETCH_REPEATS times on one connection
#   new-mail  NEW_MAIL new files dropped into new/ of that INBOX (after fetch-all),
#             then SELECT and UID FETCH <UIDNEXT-NEW_MAIL>:* (FLAGS ENVELOPE BODYSTRUCTURE)
#   mixed     MIXED_SESSIONS clients for MIXED_SECONDS s, each looping over sessions of
#             LOGIN, SELECT, FETCH 1:* (FLAGS), UID FETCH of the last 5 BODY.PEEK[],
#             UID SEARCH UNSEEN, UID STORE +FLAGS (\Seen), NOOP, LOGOUT, over users
#             user1..user$MIXED_USERS (MIXED_MESSAGES messages each, refilled here)
# Server CPU from cputree.py (the anchor: Dovecot's master tree; Tsubame: its process).
#
# usage: bench/imap.sh [MESSAGES] [ROUNDS]
#   defaults 100000 messages of ~4 KB, 3 rounds; the other knobs are environment
#   variables (below). SIDES=anchor runs the anchor side only (to try the client).
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release, and
#   the load generator: (cd bench/imap-load && swift build -c release)
# Overwrites the INBOXes of user1000 and user1..user$MIXED_USERS on both sides.
source "$(dirname "$0")/common.sh"
MESSAGES=${1:-100000} ROUNDS=${2:-3}
LOGINS=${LOGINS:-2000} CONCURRENCY=${CONCURRENCY:-8} FETCH_REPEATS=${FETCH_REPEATS:-5}
NEW_MAIL=${NEW_MAIL:-100} MIXED_SESSIONS=${MIXED_SESSIONS:-20} MIXED_SECONDS=${MIXED_SECONDS:-20}
MIXED_USERS=${MIXED_USERS:-100} MIXED_MESSAGES=${MIXED_MESSAGES:-200}
SIDES=${SIDES:-anchor tsubame}
LOAD=${IMAP_LOAD:-$ROOT/bench/imap-load/.build/release/imap-load}
BIG_USER=user1000
ANCHOR_MAIL=/var/mail/vhosts/example.test
TSUBAME_MAIL=$BENCH_DATA/mail/example.test
ensure_load_generator
[ -x "$LOAD" ] || { echo "build the load generator first: cd bench/imap-load && swift build -c release" >&2; exit 1; }
has_side() { [[ " $SIDES " == *" $1 "* ]]; }

if has_side tsubame; then prepare_tsubame_data; fi
trap stop_tsubame EXIT

# Writes COUNT messages (~4 KB, the same bytes every time for the same SEED) into
# DIR as Maildir files named PREFIX-<n>; like pop3.sh's maildrop.
generate() {
    local dir=$1 count=$2 seed=$3 stamp=$4
    mkdir -p "$dir"
    python3 - "$dir" "$count" "$seed" "$stamp" <<'PY'
import os, random, sys
directory, count, seed, stamp = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
for i in range(count):
    body = []
    while sum(len(line) + 2 for line in body) < 3600:
        body.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))))
    text = (f"Return-Path: <sender{i}@example.org>\r\nFrom: Sender {i} <sender{i}@example.org>\r\n"
            f"To: User <user@example.test>\r\nSubject: message {i} of {seed}\r\n"
            f"Message-ID: <{seed}.{i}@bench.example.org>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            + "\r\n".join(body) + "\r\n").encode()
    name = f"{stamp + i}.M{i}P{seed}.bench,S={len(text)},W={len(text)}"
    with open(os.path.join(directory, name), "wb") as f:
        f.write(text)
PY
}

# fill MAILDIR OWNER TEMPLATE: MAILDIR becomes a Maildir whose new/ holds TEMPLATE's files
# (and nothing else: no index, no subfolders).
fill() {
    local maildir=$1 owner=$2 template=$3
    rm -rf "$maildir"; mkdir -p "$maildir"/{cur,tmp}
    cp -r "$template" "$maildir/new"
    chown -R "$owner" "$maildir"
}
anchor_maildir() { echo "$ANCHOR_MAIL/$1/Maildir"; }
tsubame_maildir() { echo "$TSUBAME_MAIL/$1"; }
me="$(id -u):$(id -g)"

work=$(mktemp -d /tmp/imap-bench.XXXXXX)
trap 'stop_tsubame; rm -rf "$work"' EXIT
log "generating $MESSAGES messages for $BIG_USER and $MIXED_MESSAGES for user1..user$MIXED_USERS"
generate "$work/big" "$MESSAGES" 7 1795900000
generate "$work/small" "$MIXED_MESSAGES" 11 1795800000
log "filling the maildirs"
for side in $SIDES; do
    owner=vmail:vmail; [ "$side" = tsubame ] && owner=$me
    fill "$("${side}_maildir" "$BIG_USER")" "$owner" "$work/big"
    for n in $(seq 1 "$MIXED_USERS"); do fill "$("${side}_maildir" "user$n")" "$owner" "$work/small"; done
done
rm -rf "$work/big" "$work/small"
if has_side tsubame; then start_tsubame; fi

port_of() { if [ "$1" = anchor ]; then echo 143; else echo "$TSUBAME_IMAP_PORT"; fi; }
pids_of() { if [ "$1" = anchor ]; then cat /run/dovecot/master.pid; else echo "$TSUBAME_PID"; fi; }

# new_mail ROUND: NEW_MAIL new messages (the same for every side) in $work/new-ROUND.
new_mail() { generate "$work/new-$1" "$NEW_MAIL" $((100 + $1)) $((1796000000 + $1 * 1000)); }
# drop_new_mail ROUND SIDE: those into new/ of BIG_USER's INBOX on SIDE, written to tmp/
# and renamed into new/ as a delivery does.
drop_new_mail() {
    local maildir; maildir=$("${2}_maildir" "$BIG_USER")
    cp "$work/new-$1"/* "$maildir/tmp/"
    if [ "$2" = anchor ]; then chown vmail:vmail "$maildir"/tmp/*; fi
    mv "$maildir"/tmp/* "$maildir/new/"
}

out=$work/results
# measure WHO PHASE ARGS...: one load run; appends "WHO PHASE cpu=<s> <json>" to $out.
measure() {
    local who=$1 phase=$2; shift 2
    local pids before after output json
    pids=$(pids_of "$who")
    before=$(python3 "$ANCHORS/cputree.py" $pids)
    output=$("$LOAD" "$phase" --port "$(port_of "$who")" "$@") || { echo "$output" >&2; exit 1; }
    after=$(python3 "$ANCHORS/cputree.py" $pids)
    json=$(tail -1 <<<"$output")
    printf '%s %s: %s (server CPU %.2f s)\n' "$who" "$phase" "$(head -1 <<<"$output")" \
        "$(python3 -c "print($after - $before)")" >&2
    echo "$who $phase cpu=$(python3 -c "print(f'{$after - $before:.3f}')") $json" >>"$out"
}

log "warm-up: both index the INBOXes on first open (untimed)"
for side in $SIDES; do
    "$LOAD" fetch-all --port "$(port_of "$side")" --user "$BIG_USER@example.test" --repeats 0 >/dev/null
    "$LOAD" mixed --port "$(port_of "$side")" --user-range "1-$MIXED_USERS" --sessions 4 --duration 0 \
        --total "$MIXED_USERS" >/dev/null
done

for round in $(seq 1 "$ROUNDS"); do
    new_mail "$round"
    for who in $SIDES; do
        log "round $round: $who"
        measure "$who" login --count "$LOGINS" --concurrency "$CONCURRENCY" --user-range 1-1000
        measure "$who" fetch-all --user "$BIG_USER@example.test" --repeats "$FETCH_REPEATS"
        # after fetch-all, whose SELECTs would otherwise pick the new messages up first
        drop_new_mail "$round" "$who"
        measure "$who" new-mail --user "$BIG_USER@example.test" --last "$NEW_MAIL"
        measure "$who" mixed --sessions "$MIXED_SESSIONS" --duration "$MIXED_SECONDS" --user-range "1-$MIXED_USERS"
    done
done

python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, phase, cpu, doc = line.split(" ", 3)
    r = json.loads(doc)
    r["cpu"] = float(cpu.split("=")[1])
    runs.setdefault((who, phase), []).append(r)

def med(who, phase, f):
    rows = runs.get((who, phase))
    return statistics.median(f(r) for r in rows) if rows else None

# (label, phase, value of one run, unit, higher is better)
figures = [
    ("login rate", "login", lambda r: r["logins_per_s"], "logins/s", True),
    ("login CPU", "login", lambda r: r["cpu"] / r["logins"] * 1000, "ms server CPU/login", False),
    ("fetch-all SELECT", "fetch-all", lambda r: r["select_ms"], "ms", False),
    ("FETCH 1:* (UID FLAGS)", "fetch-all", lambda r: r["fetch_ms"], "ms", False),
    # the phase's CPU less one login (that side's median), over its SELECT+FETCH pairs
    # (the warm-up pair included); cputree.py reads to 10 ms, so this needs a big mailbox
    ("fetch-all CPU", "fetch-all", lambda r: (r["cpu"] * 1000 - r["login_ms"]) / (r["repeats"] + 1),
     "ms server CPU/(SELECT+FETCH)", False),
    ("new-mail SELECT", "new-mail", lambda r: r["select_ms"], "ms", False),
    ("new-mail UID FETCH", "new-mail", lambda r: r["fetch_ms"], "ms", False),
    ("new-mail CPU", "new-mail", lambda r: r["cpu"] * 1000 - r["login_ms"], "ms server CPU (SELECT, 3 UID FETCH)", False),
    ("mixed sessions", "mixed", lambda r: r["sessions_per_s"], "sessions/s", True),
    ("mixed commands", "mixed", lambda r: r["commands_per_s"], "commands/s", True),
    ("mixed CPU", "mixed", lambda r: r["cpu"] / max(r["sessions"], 1) * 1000, "ms server CPU/session", False),
]
for who in ("anchor", "tsubame"):
    login_ms = med(who, "login", lambda r: r["cpu"] / r["logins"] * 1000) or 0
    for phase in ("fetch-all", "new-mail"):
        for r in runs.get((who, phase), []):
            r["login_ms"] = login_ms
errors = {k: sum(r.get("errors", 0) for r in v) for k, v in runs.items()}
for label, phase, f, unit, _ in figures:
    for who in ("anchor", "tsubame"):
        value = med(who, phase, f)
        if value is not None:
            print(f"{who} {label}: median {value:.2f} {unit}")
for label, phase, f, unit, higher in figures:
    a, t = med("anchor", phase, f), med("tsubame", phase, f)
    if a and t:
        print(f"ratio tsubame/anchor {label}: {t / a:.2f}x ({'higher' if higher else 'lower'} is better)")
for (who, phase), n in sorted(errors.items()):
    if n:
        print(f"WARNING: {who} {phase}: {n} errors over the rounds")
PY
