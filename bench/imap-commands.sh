#!/usr/bin/env bash
# Server CPU per IMAP command (issue #9), Dovecot's imap (the anchor, port 143) against
# Tsubame, alternating, same client (bench/imap-load's `commands` mode). For each command
# below, one connection logs in as $CMD_USER, SELECTs INBOX and sends the command
# REPEAT × (its factor) times one after another; the server's CPU is read with
# ../shared/anchors/cputree.py (the anchor: Dovecot's master tree; Tsubame: its process)
# by the client just before the first and just after the last repeat, so LOGIN, SELECT
# and LOGOUT are not counted. Nothing is subtracted: the NOOP row is the baseline (a
# command's round trip through the server's network and parsing path).
#
# usage: bench/imap-commands.sh [REPEAT] [ROUNDS]
#   defaults 1000, 3. Cheap commands run REPEAT × a factor (below) so that each run
#   takes a second or more (cputree.py reads to 10 ms). ONLY=regex picks commands.
# needs: bench/imap.sh run before (its fill: user1..user100 hold the same 200 messages of
#   ~4 KB on both sides, indexed), ../shared/anchors/setup-anchors.sh, swift build -c
#   release, and the load generator: (cd bench/imap-load && swift build -c release).
# Changes flags of $CMD_USER's messages 1..10 (\Flagged set, then cleared).
source "$(dirname "$0")/common.sh"
REPEAT=${1:-1000} ROUNDS=${2:-3}
CMD_USER=${CMD_USER:-user1@example.test}
LOAD=${IMAP_LOAD:-$ROOT/bench/imap-load/.build/release/imap-load}
ensure_load_generator
[ -x "$LOAD" ] || { echo "build the load generator first: cd bench/imap-load && swift build -c release" >&2; exit 1; }
[ -f "$BENCH_DATA/.users-$NUSERS" ] && [ -d "$BENCH_DATA/mail/example.test/user1" ] \
    || { echo "run bench/imap.sh first (it fills user1..user100 on both sides)" >&2; exit 1; }

# factor|command|alternate (the alternate, if any, is sent in turn with the command)
COMMANDS=(
    '10|NOOP|'
    '5|SELECT INBOX|'
    '10|STATUS INBOX (MESSAGES UNSEEN UIDNEXT)|'
    '10|LIST "" "*"|'
    '2|FETCH 1:200 (UID FLAGS)|'
    '1|UID FETCH 1:* (FLAGS ENVELOPE BODYSTRUCTURE)|'
    '1|UID FETCH 1:* (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])|'
    '5|UID FETCH $LAST5 BODY.PEEK[]|'
    '5|UID SEARCH UNSEEN|'
    '1|UID SEARCH TEXT "alpha"|'
    '5|UID SEARCH FROM "sender7"|'
    '5|STORE 1:10 +FLAGS (\Flagged)|STORE 1:10 -FLAGS (\Flagged)'
)

# ONLY=regex runs the commands that match it (e.g. ONLY='HEADER|NOOP').
if [ -n "${ONLY:-}" ]; then
    selected=()
    for spec in "${COMMANDS[@]}"; do [[ $spec =~ $ONLY ]] && selected+=("$spec"); done
    COMMANDS=("${selected[@]}")
fi

trap stop_tsubame EXIT
start_tsubame
work=$(mktemp -d /tmp/imap-commands.XXXXXX)
trap 'stop_tsubame; rm -rf "$work"' EXIT
out=$work/results

port_of() { if [ "$1" = anchor ]; then echo 143; else echo "$TSUBAME_IMAP_PORT"; fi; }
pids_of() { if [ "$1" = anchor ]; then cat /run/dovecot/master.pid; else echo "$TSUBAME_PID"; fi; }

# run WHO FACTOR COMMAND ALTERNATE [extra args]: one run; appends "WHO <json>" to $out.
# Each timed run starts $SETTLE seconds after the last one: a Maildir whose cur/ changed
# in the last two seconds (the STORE runs rename files) is scanned again on every check,
# by Dovecot (MAILDIR_SYNC_SECS) and by Tsubame (MailboxStateCache.settleSeconds) alike,
# and this measures the steady state of each command, not that window.
SETTLE=${SETTLE:-3}
run() {
    local who=$1 factor=$2 command=$3 alternate=$4; shift 4
    [ "$REPEAT" -gt 1 ] && sleep "$SETTLE"
    local args=(commands --port "$(port_of "$who")" --user "$CMD_USER" --command "$command"
        --repeat $((REPEAT * factor)) --cputree "$ANCHORS/cputree.py" --pids "$(pids_of "$who")")
    [ -n "$alternate" ] && args+=(--alternate "$alternate")
    local output
    output=$("$LOAD" "${args[@]}" "$@") || { echo "$output" >&2; exit 1; }
    printf '%s: %s\n' "$who" "$(head -1 <<<"$output")" >&2
    echo "$who $(tail -1 <<<"$output")" >>"$out"
}

log "warm-up (untimed): every command a few times on both sides"
for side in anchor tsubame; do
    for spec in "${COMMANDS[@]}"; do
        IFS='|' read -r factor command alternate <<<"$spec"
        REPEAT=1 run "$side" 10 "$command" "$alternate" >/dev/null 2>&1
    done
done
: >"$out"

for round in $(seq 1 "$ROUNDS"); do
    for spec in "${COMMANDS[@]}"; do
        IFS='|' read -r factor command alternate <<<"$spec"
        # alternate which side goes first, round by round
        sides="anchor tsubame"; [ $((round % 2)) -eq 0 ] && sides="tsubame anchor"
        for who in $sides; do run "$who" "$factor" "$command" "$alternate"; done
    done
done

python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
order = []
for line in open(sys.argv[1]):
    who, doc = line.split(" ", 1)
    r = json.loads(doc)
    name = r["command"] + (" / " + r["alternate"].split()[2] if r.get("alternate") else "")
    if name not in order:
        order.append(name)
    runs.setdefault((who, name), []).append(r)
def med(who, name, key):
    return statistics.median(r[key] for r in runs[(who, name)])
print("| command | repeats | anchor µs CPU/cmd | Tsubame µs CPU/cmd | ratio | anchor µs wall/cmd | Tsubame µs wall/cmd |")
print("|---|---|---|---|---|---|---|")
for name in order:
    a, t = med("anchor", name, "cpu_us_per_command"), med("tsubame", name, "cpu_us_per_command")
    aw, tw = med("anchor", name, "us_per_command"), med("tsubame", name, "us_per_command")
    n = runs[("anchor", name)][0]["repeat"]
    ratio = f"{t / a:.2f}x" if a else "n/a"
    print(f"| `{name}` | {n:,} | {a:.1f} | {t:.1f} | {ratio} | {aw:.1f} | {tw:.1f} |")
PY
