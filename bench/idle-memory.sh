#!/usr/bin/env bash
# Memory per idle connection: N SMTP sessions after EHLO and N POP3 sessions logged in
# (TRANSACTION state), against the anchor (Postfix smtpd processes; Dovecot pop3
# processes) and Tsubame, with ../shared/anchors/idle-mem.py (PSS: real memory, shared
# pages divided among the processes that map them).
#
# usage: bench/idle-memory.sh [SMTP_CONNECTIONS] [POP3_CONNECTIONS]
#   defaults 1000 and 1000 (POP3 allows one session per maildrop: at most NUSERS)
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release
source "$(dirname "$0")/common.sh"
SMTP_N=${1:-1000} POP3_N=${2:-1000}
prepare_tsubame_data
trap stop_tsubame EXIT
start_tsubame
IDLE="python3 $ANCHORS/idle-mem.py"
postfix_master=$(tr -d ' ' < /var/spool/postfix/pid/master.pid)
dovecot_master=$(cat /run/dovecot/master.pid)

run() {  # who proto port n selector...
    local who=$1 proto=$2 port=$3 n=$4; shift 4
    local json; json=$(mktemp)
    $IDLE 127.0.0.1 "$port" 'user%d@example.test' pass "$n" --proto "$proto" --settle 3 --json "$json" "$@" >/dev/null
    python3 - "$who" "$proto" "$n" "$json" <<'PY'
import json, sys
who, proto, n, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = json.load(open(path))
print(f"{who} {proto}: {r['idle_connections']}/{n} idle connections (errors {r['errors']}), "
      f"{r['pss_kib_per_conn']} KiB PSS and {r['rss_kib_per_conn']} KiB RSS each")
PY
    rm -f "$json"
}
log "SMTP: $SMTP_N idle sessions after EHLO"
run anchor smtp 25 "$SMTP_N" --tree "$postfix_master"
run tsubame smtp "$TSUBAME_SMTP_PORT" "$SMTP_N" --pids "$TSUBAME_PID"
log "POP3: $POP3_N idle logged-in sessions"
run anchor pop3 110 "$POP3_N" --tree "$dovecot_master"
run tsubame pop3 "$TSUBAME_POP3_PORT" "$POP3_N" --pids "$TSUBAME_PID"
