#!/usr/bin/env bash
# Submission with AUTH: N messages of SIZE bytes, one connection each (STARTTLS, AUTH
# PLAIN, one local recipient), P client processes, against the anchor (Postfix on 587 with
# Dovecot SASL, delivering through Dovecot LMTP) and Tsubame, alternating. Server CPU
# from cputree.py over both anchor trees (Postfix and Dovecot) or Tsubame's process.
#
# usage: bench/submission.sh [MESSAGES] [PROCESSES] [SIZE] [ROUNDS]   (defaults 1000 8 5000 3)
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release
source "$(dirname "$0")/common.sh"
COUNT=${1:-1000} THREADS=${2:-8} SIZE=${3:-5000} ROUNDS=${4:-3}
prepare_tsubame_data
trap stop_tsubame EXIT
start_tsubame
LOAD="python3 $ROOT/bench/submission-load.py"
out=$(mktemp)
cpu() { python3 "$ANCHORS/cputree.py" "$@" | awk '{print $NF}' | tail -1; }
for round in $(seq 1 "$ROUNDS"); do
    for who in anchor tsubame; do
        if [ "$who" = anchor ]; then port=587; pids=$(anchor_pids); else port=$TSUBAME_SUBMISSION_PORT; pids=$TSUBAME_PID; fi
        log "round $round: $who"
        before=$(cpu $pids)
        line=$($LOAD 127.0.0.1 "$port" "$COUNT" "$THREADS" "$SIZE")
        after=$(cpu $pids)
        echo "$who: $line cpu=$(python3 -c "print(f'{$after - $before:.3f}')")" | tee -a "$out"
    done
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    who = line.split(":")[0]
    f = dict(re.findall(r"(\w+)=([0-9.]+)", line))
    n, s, c = float(f["messages"]), float(f["seconds"]), float(f["cpu"])
    rows.setdefault(who, []).append((n / s, c / n * 1000))
med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
for k, (r, c) in med.items():
    print(f"{k}: median {r:.1f} msg/s, {c:.3f} ms server CPU/msg")
if len(med) == 2:
    print(f"ratio tsubame/anchor: rate {med['tsubame'][0] / med['anchor'][0]:.2f}x, "
          f"CPU per message {med['tsubame'][1] / med['anchor'][1]:.2f}x")
PY
