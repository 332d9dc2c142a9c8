# Shared by the bench scripts: where things are, and a Tsubame instance on high
# loopback ports with the anchors' users (user1..userN@example.test, password "pass").
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ANCHORS=${ANCHORS:-$ROOT/../shared/anchors}
TSUBAME=${TSUBAME:-$ROOT/.build/release/tsubame}
BENCH_DATA=${BENCH_DATA:-/tmp/tsubame-bench}
NUSERS=${NUSERS:-1000}
TSUBAME_SMTP_PORT=${TSUBAME_SMTP_PORT:-12525}
TSUBAME_SUBMISSION_PORT=${TSUBAME_SUBMISSION_PORT:-12587}
TSUBAME_IMAP_PORT=${TSUBAME_IMAP_PORT:-12143}
TSUBAME_POP3_PORT=${TSUBAME_POP3_PORT:-12110}

log() { printf '[bench] %s\n' "$*" >&2; }

# Makes $BENCH_DATA with example.test and user1..user$NUSERS (SHA512-CRYPT "pass",
# the anchors' scheme), unless it exists already.
prepare_tsubame_data() {
    [ -x "$TSUBAME" ] || { echo "build first: swift build -c release" >&2; exit 1; }
    if [ -f "$BENCH_DATA/.users-$NUSERS" ]; then return; fi
    rm -rf "$BENCH_DATA"; mkdir -p "$BENCH_DATA"
    cat > "$BENCH_DATA/tsubame.toml" <<TOML
hostname = "mail.example.test"
[listen]
smtp = "127.0.0.1:$TSUBAME_SMTP_PORT"
submission = "127.0.0.1:$TSUBAME_SUBMISSION_PORT"
submissions = ""
imap = "127.0.0.1:$TSUBAME_IMAP_PORT"
imaps = ""
pop3 = "127.0.0.1:$TSUBAME_POP3_PORT"
pop3s = ""
[auth]
allow_plaintext = true
[limits]
max_connections_per_ip = 100000
[log]
level = "warning"
TOML
    "$TSUBAME" domain add example.test --data "$BENCH_DATA" >/dev/null
    log "creating $NUSERS users"
    seq 1 "$NUSERS" | xargs -P 2 -I{} "$TSUBAME" user add "user{}@example.test" --password pass \
        --scheme SHA512-CRYPT --data "$BENCH_DATA" >/dev/null
    touch "$BENCH_DATA/.users-$NUSERS"
}

# Starts Tsubame on $BENCH_DATA; sets TSUBAME_PID.
start_tsubame() {
    "$TSUBAME" serve --data "$BENCH_DATA" 2>"$BENCH_DATA/serve.log" &
    TSUBAME_PID=$!
    for _ in $(seq 100); do
        (exec 3<>/dev/tcp/127.0.0.1/$TSUBAME_SMTP_PORT) 2>/dev/null && return
        sleep 0.1
    done
    echo "tsubame did not start; see $BENCH_DATA/serve.log" >&2; exit 1
}

stop_tsubame() {
    [ -n "${TSUBAME_PID:-}" ] && kill "$TSUBAME_PID" 2>/dev/null && wait "$TSUBAME_PID" 2>/dev/null || true
}

anchor_pids() {
    echo "$(cat /var/spool/postfix/pid/master.pid | tr -d ' ') $(cat /run/dovecot/master.pid)"
}
