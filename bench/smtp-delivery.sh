#!/usr/bin/env bash
# SMTP inbound delivery rate into Maildirs, fsync on both sides: the same smtp-source
# load against Postfix -> Dovecot LMTP (the anchor, port 25) and against Tsubame,
# alternating, in the same run. Prints each run, the medians and the ratios.
#
# usage: bench/smtp-delivery.sh [COUNT] [SESSIONS] [SIZE] [ROUNDS]
#   defaults 10000 messages, 20 sessions, 5000-byte bodies, 3 rounds
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release
source "$(dirname "$0")/common.sh"
COUNT=${1:-10000} SESSIONS=${2:-20} SIZE=${3:-5000} ROUNDS=${4:-3}

prepare_tsubame_data
trap stop_tsubame EXIT
start_tsubame
out=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
    log "round $round: anchor (Postfix + Dovecot LMTP)"
    SERVER_PIDS="$(anchor_pids)" SEED=$((round * 100)) PAUSE=0 \
        "$ANCHORS/bench-smtp.sh" 127.0.0.1 25 "$COUNT" "$SESSIONS" "$SIZE" /var/mail/vhosts 1 \
        | sed -n 's/^run 1: /anchor: /p' | tee -a "$out"
    log "round $round: tsubame"
    SERVER_PIDS="$TSUBAME_PID" SEED=$((round * 100)) PAUSE=0 \
        "$ANCHORS/bench-smtp.sh" 127.0.0.1 "$TSUBAME_SMTP_PORT" "$COUNT" "$SESSIONS" "$SIZE" "$BENCH_DATA/mail" 1 \
        | sed -n 's/^run 1: /tsubame: /p' | tee -a "$out"
done
python3 - "$out" <<'PY'
import re, statistics, sys
rows = {"anchor": [], "tsubame": []}
for line in open(sys.argv[1]):
    who = line.split(":")[0]
    rate = float(re.search(r"=> ([0-9.]+) msg/s end-to-end", line).group(1))
    cpu = re.search(r"server CPU ms/msg=([0-9.]+)", line)
    rows[who].append((rate, float(cpu.group(1)) if cpu else float("nan")))
med = {k: (statistics.median(r for r, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items() if v}
for k, (r, c) in med.items():
    print(f"{k}: median {r:.1f} msg/s end-to-end, {c:.3f} ms server CPU/msg (n={len(rows[k])})")
if len(med) == 2:
    print(f"ratio tsubame/anchor: rate {med['tsubame'][0] / med['anchor'][0]:.2f}x, "
          f"CPU per message {med['tsubame'][1] / med['anchor'][1]:.2f}x")
PY
