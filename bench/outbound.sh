#!/usr/bin/env bash
# Outbound (queue to remote) throughput: MESSAGES messages of ~SIZE bytes are injected and
# relayed to Debian's smtp-sink on a high loopback port, by Tsubame (its queue runner and
# SMTP client, `[relay] host = "127.0.0.1:SINK", tls = "none"`) and by Postfix's own queue
# (a private instance: its own config/queue/data directories under a temporary directory,
# smtpd on a high port, `relayhost = [127.0.0.1]:SINK`), alternating, in the same run.
#
#   Tsubame: INJECT=smtp-source (default): smtp-source on port 25 to rcpt@example.test,
#            an alias that forwards to rcpt@sink.test, so the queue relays it — the same
#            injection as Postfix's. INJECT=submission: a Python loader with STARTTLS +
#            AUTH PLAIN on 587 (CONNECTIONS sessions), what users do; its TLS costs client
#            CPU on the same 2 cores, so it is slower for reasons outside the server.
#   Postfix: injected with smtp-source (-s CONNECTIONS -d: the same number of reused
#            sessions, no TLS, no AUTH: `permit_mynetworks` for 127.0.0.1) — the anchors'
#            injection tool.
#   Both:    the same message file (smtp-source -F; the loader sends the same bytes).
#
# Timed from the first injection to the last message's arrival at the sink (smtp-sink -d
# writes one file per message: the run ends when MESSAGES new files are there). Server
# CPU from cputree.py: Tsubame's process, or the private Postfix's master tree (every
# Postfix daemon); smtp-sink and the injectors are not counted. Prints each run, the
# medians and the ratios, like bench/imap.sh.
#
# usage: bench/outbound.sh [MESSAGES] [CONNECTIONS] [SIZE] [ROUNDS]   (defaults 2000 4 5000 3)
#   SIDES="postfix tsubame" (default) or one of them; TSUBAME=path (default the release build)
# needs: root (a private Postfix; smtp-sink -u postfix), the postfix package (smtp-sink,
#   smtp-source), python3, swift build -c release. Touches neither the anchors' Postfix
#   nor their ports: everything here is private and on free high ports.
export BENCH_DATA=${BENCH_DATA:-/tmp/tsubame-bench-outbound}
source "$(dirname "$0")/common.sh"
MESSAGES=${1:-2000} CONNECTIONS=${2:-4} SIZE=${3:-5000} ROUNDS=${4:-3}
SIDES=${SIDES:-postfix tsubame}
# How Tsubame is fed: smtp-source on port 25 to an alias that forwards to the sink's
# domain (the same tool, no TLS, no AUTH — as the Postfix side), or "submission" (the
# Python loader: STARTTLS + AUTH on 587, what users do; it costs more client CPU).
INJECT=${INJECT:-smtp-source}
TIMEOUT=${TIMEOUT:-600}
has_side() { [[ " $SIDES " == *" $1 "* ]]; }
[ "$(id -u)" = 0 ] || { echo "needs root (a private Postfix instance, smtp-sink -u postfix)" >&2; exit 1; }
for tool in postfix smtp-sink smtp-source; do
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || { echo "$tool not found (apt-get install postfix)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin
E2E=$ROOT/tests/e2e

WORK=$(mktemp -d /tmp/outbound-bench.XXXXXX)
chmod 755 "$WORK"
SINK_PID="" POSTFIX_DIR=""
cleanup() {
    stop_tsubame
    if [ -n "$POSTFIX_DIR" ]; then postfix -c "$POSTFIX_DIR/etc" stop >/dev/null 2>&1 || true; rm -rf "$POSTFIX_DIR"; fi
    [ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
cpu() { python3 "$ANCHORS/cputree.py" "$@"; }

# The message: headers and a ~SIZE-byte body, LF lines (smtp-source -F appends CRLF to
# each line and dot-stuffs; the loader does the same).
python3 - "$WORK/message.txt" "$SIZE" <<'PY'
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
rng = random.Random(6)
words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
lines = ["From: Bench <bench@example.test>", "To: <rcpt@sink.test>", "Subject: outbound bench",
         "Date: Sun, 29 Nov 2026 10:00:00 +0000", "MIME-Version: 1.0", "Content-Type: text/plain; charset=us-ascii", ""]
while sum(len(line) + 2 for line in lines) < size:
    lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(5, 12))))
open(path, "w").write("\n".join(lines) + "\n")
PY

# smtp-sink, for the whole run: one dump file per message under $WORK/sink.
SINK_DIR=$WORK/sink
mkdir -p "$SINK_DIR" && chown postfix "$SINK_DIR"
SINK_PORT=$(free_port)
smtp-sink -u postfix -h sink.test -d "$SINK_DIR/%Y%m%d%H/%M." "127.0.0.1:$SINK_PORT" 1000 2>"$WORK/sink.log" &
SINK_PID=$!
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && break; sleep 0.1; done
(exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null || { echo "smtp-sink did not start: $(cat "$WORK/sink.log")" >&2; exit 1; }
sink_count() { find "$SINK_DIR" -type f | wc -l; }

# The private Postfix: tests/e2e's PostfixSmarthost without SASL and TLS (relays for
# mynetworks = 127.0.0.1), relayhost = [127.0.0.1]:SINK_PORT.
if has_side postfix; then
    POSTFIX_DIR=$(mktemp -d /tmp/outbound-bench-postfix.XXXXXX)
    POSTFIX_PORT=$(cd "$E2E" && python3 -c '
import sys
from outbound_scenarios import PostfixSmarthost
smarthost = PostfixSmarthost(sys.argv[1], int(sys.argv[2])).start()
print(smarthost.port)' "$POSTFIX_DIR" "$SINK_PORT") || { echo "the private Postfix did not start" >&2; exit 1; }
    POSTFIX_MASTER=$(tr -d ' ' < "$POSTFIX_DIR/queue/pid/master.pid")
    log "private Postfix on 127.0.0.1:$POSTFIX_PORT (master $POSTFIX_MASTER), relayhost [127.0.0.1]:$SINK_PORT"
fi

# Tsubame: its own data directory, submission with AUTH, [relay] to the sink.
if has_side tsubame; then
    [ -x "$TSUBAME" ] || { echo "build first: swift build -c release (or TSUBAME=path)" >&2; exit 1; }
    rm -rf "$BENCH_DATA"; mkdir -p "$BENCH_DATA"
    cat > "$BENCH_DATA/tsubame.toml" <<TOML
hostname = "mail.example.test"
[listen]
smtp = "127.0.0.1:$TSUBAME_SMTP_PORT"
submission = "127.0.0.1:$TSUBAME_SUBMISSION_PORT"
submissions = ""
imap = ""
imaps = ""
pop3 = ""
pop3s = ""
[limits]
max_connections_per_ip = 100000
[log]
level = "warning"
[dns]
servers = ["127.0.0.1:$(free_port)"]   # nothing listens: [relay] needs no DNS, and no query leaves loopback
[queue]
minimal_backoff = "1s"
maximal_backoff = "10s"
delay_warning = 0
[outbound]
helo_name = "mail.example.test"
[relay]
host = "127.0.0.1:$SINK_PORT"
tls = "none"
TOML
    if ! check=$("$TSUBAME" config check --data "$BENCH_DATA" 2>&1 >/dev/null); then
        echo "$TSUBAME does not take the outbound configuration (issue #6 not in this build?): $check" >&2
        exit 1
    fi
    "$TSUBAME" domain add example.test --data "$BENCH_DATA" >/dev/null
    # For INJECT=smtp-source: rcpt@example.test forwards to the sink's domain, so mail
    # accepted on port 25 without AUTH is relayed through the queue, as Postfix's is.
    "$TSUBAME" alias add rcpt@example.test rcpt@sink.test --data "$BENCH_DATA" >/dev/null
    for n in $(seq 1 "$CONNECTIONS"); do
        "$TSUBAME" user add "user$n@example.test" --password pass --scheme SHA512-CRYPT --data "$BENCH_DATA" >/dev/null
    done
    start_tsubame
    log "Tsubame on 127.0.0.1:$TSUBAME_SUBMISSION_PORT (pid $TSUBAME_PID), [relay] 127.0.0.1:$SINK_PORT"
fi

# The submission loader: CONNECTIONS sessions, one process each (STARTTLS, AUTH PLAIN as userN, then MAIL,
# RCPT, DATA per message on the same session), MESSAGES in all.
cat > "$WORK/inject.py" <<'PY'
import multiprocessing, smtplib, ssl, sys
port, count, connections, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
message = open(path, "rb").read().replace(b"\n", b"\r\n")

def session(index, share):
    """One process per session (no GIL between them, like smtp-source's sessions)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    user = f"user{index + 1}@example.test"
    try:
        client = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=120)
        client.starttls(context=context)
        client.login(user, "pass")
        for n in range(share):
            client.sendmail(user, [f"rcpt{index}x{n}@sink.test"], message)
        client.quit()
    except Exception as error:  # reported by the exit status
        sys.exit(f"session {index}: {error!r}")

if __name__ == "__main__":
    sessions = [multiprocessing.Process(target=session, args=(i, count // connections + (i < count % connections)))
                for i in range(connections)]
    for process in sessions:
        process.start()
    for process in sessions:
        process.join()
    failed = sum(process.exitcode != 0 for process in sessions)
    if failed:
        sys.exit(f"{failed} of {connections} sessions failed")
PY

out=$WORK/results
# measure SIDE: one run; appends "SIDE: messages=… seconds=… accept_seconds=… cpu=…" to $out.
measure() {
    local side=$1 pids before t0 t_accepted t_done count cpu0 cpu1 target deadline
    if [ "$side" = postfix ]; then pids=$POSTFIX_MASTER; else pids=$TSUBAME_PID; fi
    before=$(sink_count)
    target=$((before + MESSAGES))
    cpu0=$(cpu $pids)
    t0=$(now)
    if [ "$side" = postfix ]; then
        smtp-source -s "$CONNECTIONS" -d -m "$MESSAGES" -F "$WORK/message.txt" -M bench.test \
            -f bench@example.test -t rcpt@sink.test "inet:127.0.0.1:$POSTFIX_PORT" 2>"$WORK/inject.err" \
            || { echo "smtp-source failed: $(head -3 "$WORK/inject.err")" >&2; exit 1; }
    elif [ "$INJECT" = smtp-source ]; then
        smtp-source -s "$CONNECTIONS" -d -m "$MESSAGES" -F "$WORK/message.txt" -M bench.test \
            -f bench@example.test -t rcpt@example.test "inet:127.0.0.1:$TSUBAME_SMTP_PORT" 2>"$WORK/inject.err" \
            || { echo "smtp-source failed: $(head -3 "$WORK/inject.err")" >&2; exit 1; }
    else
        python3 "$WORK/inject.py" "$TSUBAME_SUBMISSION_PORT" "$MESSAGES" "$CONNECTIONS" "$WORK/message.txt" \
            || { echo "submission failed; Tsubame log: $(tail -3 "$BENCH_DATA/serve.log")" >&2; exit 1; }
    fi
    t_accepted=$(now)
    deadline=$(echo "$t0 + $TIMEOUT" | bc)
    while :; do
        count=$(sink_count)
        [ "$count" -ge "$target" ] && break
        if [ "$(echo "$(now) > $deadline" | bc)" = 1 ]; then
            echo "TIMEOUT ($side): only $((count - before))/$MESSAGES reached the sink in $TIMEOUT s" >&2
            if [ "$side" = tsubame ]; then
                "$TSUBAME" queue list --data "$BENCH_DATA" 2>&1 | head -5 >&2
                tail -5 "$BENCH_DATA/serve.log" >&2
            else
                tail -5 "$POSTFIX_DIR/postfix.log" >&2
            fi
            exit 1
        fi
        sleep 0.05
    done
    t_done=$(now)
    cpu1=$(cpu $pids)
    printf '%s: messages=%d seconds=%.3f accept_seconds=%.3f cpu=%.3f\n' "$side" "$MESSAGES" \
        "$(echo "$t_done - $t0" | bc -l)" "$(echo "$t_accepted - $t0" | bc -l)" "$(echo "$cpu1 - $cpu0" | bc -l)" \
        | tee -a "$out"
}

for round in $(seq 1 "$ROUNDS"); do
    for side in $SIDES; do
        log "round $round: $side ($MESSAGES messages, $CONNECTIONS connections, $(wc -c < "$WORK/message.txt") bytes)"
        measure "$side"
        sleep 1
    done
done

python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side = line.split(":")[0]
    f = {k: float(v) for k, v in re.findall(r"(\w+)=([0-9.]+)", line)}
    rows.setdefault(side, []).append((f["messages"] / f["seconds"], f["messages"] / f["accept_seconds"],
                                      f["cpu"] / f["messages"] * 1000))
med = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in rows.items()}
for k, (rate, accepted, cpu) in med.items():
    print(f"{k}: median {rate:.1f} msg/s injection to sink ({accepted:.1f} msg/s accepted), "
          f"{cpu:.3f} ms server CPU/msg (n={len(rows[k])})")
if len(med) == 2:
    t, p = med["tsubame"], med["postfix"]
    print(f"ratio tsubame/postfix: rate {t[0] / p[0]:.2f}x, CPU per message {t[2] / p[2]:.2f}x")
PY
