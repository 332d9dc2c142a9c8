#!/usr/bin/env bash
# Memory per idle connection: N SMTP sessions after EHLO, N POP3 sessions logged in
# (TRANSACTION state) and N IMAP sessions logged in and IDLE in INBOX, against the
# anchor (Postfix smtpd processes; Dovecot pop3 and imap processes) and Tsubame, with
# ../shared/anchors/idle-mem.py (PSS: real memory, shared pages divided among the
# processes that map them).
#
# usage: bench/idle-memory.sh [SMTP_CONNECTIONS] [POP3_CONNECTIONS] [IMAP_CONNECTIONS]
#   defaults 1000, 1000 and 1000; 0 skips that protocol. POP3 allows one session per
#   maildrop: at most NUSERS. IMAP: LOGIN, SELECT INBOX, IDLE, users user1..user999
#   taken in turn (user1000 holds bench/imap.sh's 100,000-message INBOX).
#   SIDES=anchor (or tsubame) measures one side only.
# 10,000 IMAP connections: the client needs 10,000 descriptors (idle-mem.py raises its
#   soft limit up to the hard one, 20,000 in this sandbox) and so does Tsubame (it
#   inherits this shell's limit). Dovecot starts one imap process per session: the
#   anchors' `service imap { process_limit = 2000 }` and `default_client_limit = 8000`
#   (the log and anvil services take one client per process) stop it well short of
#   10,000, so for IMAP_CONNECTIONS above the process limit this script restarts the
#   anchor's Dovecot with a temporary configuration in /run (the anchors' file
#   included, those two limits raised) and restarts it with the anchors' own one at the
#   end. mail_max_userip_connections (1000 per user and address) is not reached: ten
#   sessions per user. Dovecot logs "Inotify instance limit for user 999 exceeded" past
#   128 sessions (fs.inotify.max_user_instances, left as it is): those imap processes
#   poll the mailbox instead, which changes no memory figure to speak of.
# needs: root, ../shared/anchors/setup-anchors.sh run once, swift build -c release
source "$(dirname "$0")/common.sh"
SMTP_N=${1:-1000} POP3_N=${2:-1000} IMAP_N=${3:-1000}
SIDES=${SIDES:-anchor tsubame}
has_side() { [[ " $SIDES " == *" $1 "* ]]; }
if has_side tsubame; then
    prepare_tsubame_data
    trap stop_tsubame EXIT
    start_tsubame
fi
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
if [ "$SMTP_N" -gt 0 ]; then
    log "SMTP: $SMTP_N idle sessions after EHLO"
    if has_side anchor; then run anchor smtp 25 "$SMTP_N" --tree "$postfix_master"; fi
    if has_side tsubame; then run tsubame smtp "$TSUBAME_SMTP_PORT" "$SMTP_N" --pids "$TSUBAME_PID"; fi
fi
if [ "$POP3_N" -gt 0 ]; then
    log "POP3: $POP3_N idle logged-in sessions"
    if has_side anchor; then run anchor pop3 110 "$POP3_N" --tree "$dovecot_master"; fi
    if has_side tsubame; then run tsubame pop3 "$TSUBAME_POP3_PORT" "$POP3_N" --pids "$TSUBAME_PID"; fi
fi

# Restarts the anchor's Dovecot with configuration file $1 (its pid file stays
# /run/dovecot/master.pid) and sets dovecot_master.
restart_dovecot() {
    doveadm stop 2>/dev/null || kill "$dovecot_master"
    for _ in $(seq 100); do kill -0 "$dovecot_master" 2>/dev/null || break; sleep 0.1; done
    (ulimit -n 65536 2>/dev/null || true; dovecot -c "$1" </dev/null >/dev/null 2>&1)
    for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/143) 2>/dev/null && break; sleep 0.1; done
    dovecot_master=$(cat /run/dovecot/master.pid)
}
if [ "$IMAP_N" -gt 0 ]; then
    log "IMAP: $IMAP_N idle logged-in sessions in IDLE"
    if has_side anchor; then
        limit=$(doveconf -h service/imap/process_limit)
        if [ "$IMAP_N" -ge "$limit" ]; then
            override=/run/dovecot-idle-memory.conf
            cat > "$override" <<CONF
!include /etc/dovecot/dovecot.conf
default_client_limit = $((IMAP_N + 4000))
service imap {
  process_limit = $((IMAP_N + 100))
}
CONF
            log "anchor: imap process_limit $limit < $IMAP_N: Dovecot restarted with $override for this run"
            trap 'restart_dovecot /etc/dovecot/dovecot.conf; rm -f "$override"; stop_tsubame' EXIT
            restart_dovecot "$override"
        fi
        run anchor imap 143 "$IMAP_N" --tree "$dovecot_master" --users 999
    fi
    if has_side tsubame; then
        run tsubame imap "$TSUBAME_IMAP_PORT" "$IMAP_N" --pids "$TSUBAME_PID" --users 999
    fi
fi
