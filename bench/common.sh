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

# What every workload needs on a fresh machine, made here when it is missing: the
# anchors (../shared/anchors/setup-anchors.sh: Postfix + Dovecot on loopback), Tsubame's
# release build and the IMAP load generator. ensure_anchors runs only where the anchor
# side is measured (SIDES without "anchor" skips it).
ensure_release_build() {
    if [ "$TSUBAME" = "$ROOT/.build/release/tsubame" ] && [ ! -x "$TSUBAME" ]; then
        log "building Tsubame (release)"
        (cd "$ROOT" && swift build -c release --product tsubame >&2)
    fi
}
ensure_load_generator() {
    local load=$ROOT/bench/imap-load/.build/release/imap-load
    if [ -z "${IMAP_LOAD:-}" ] && [ ! -x "$load" ]; then
        log "building the IMAP load generator (release)"
        (cd "$ROOT/bench/imap-load" && swift build -c release >&2)
    fi
}
ensure_anchors() {
    [[ " ${SIDES:-anchor tsubame} " == *" anchor "* ]] || return 0
    if ! (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null || ! (exec 3<>/dev/tcp/127.0.0.1/143) 2>/dev/null; then
        log "starting the anchors (Postfix + Dovecot on loopback)"
        if command -v postfix >/dev/null && command -v dovecot >/dev/null; then
            ANCHOR_SKIP_INSTALL=1 "$ANCHORS/setup-anchors.sh" >&2
        else
            "$ANCHORS/setup-anchors.sh" >&2
        fi
    fi
}
ensure_release_build
ensure_anchors

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
