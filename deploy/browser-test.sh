#!/usr/bin/env bash
# Browser tests of the dashboard (deploy/browser/dashboard.py): Debian's Chromium driven by
# Playwright (PyPI), both installed by deploy/test-services.sh. Starts `quire run` in
# embedded mode on a free port with a fresh data directory and SMTP pointed at a port nothing
# answers yet (the test starts a server there when it wants emails to go through), creates an
# admin and a non-admin key, and runs the checks. Screenshots of every page land in
# $BROWSER_ARTIFACTS (default target/browser-artifacts).
#
# Overridable: QUIRE_BIN (target/debug/quire), CHROMIUM (the system chromium),
# BROWSER_KEEP=1 keeps the data directory and log.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${QUIRE_BIN:-target/debug/quire}
ARTIFACTS=${BROWSER_ARTIFACTS:-$PWD/target/browser-artifacts}

while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(QUIRE_|DATABASE_URL$|REDIS_URL$)' || true)

log() { echo "browser-test: $*"; }
fail() {
    echo "browser-test: ERROR: $*" >&2
    exit 1
}

CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
[[ -n $CHROMIUM && -x $CHROMIUM ]] ||
    fail "chromium is not installed (bash deploy/test-services.sh installs it)"
python3 -c 'import playwright' 2>/dev/null ||
    fail "playwright is not installed (bash deploy/test-services.sh installs it)"
python3 -c 'import aiosmtpd' 2>/dev/null ||
    fail "aiosmtpd is not installed (bash deploy/test-services.sh installs it)"
if [[ ! -x $BIN ]]; then
    log "$BIN missing: cargo build -p quire"
    cargo build -q -p quire
fi

WORK=$(mktemp -d)
QUIRE_PID=
cleanup() {
    if [[ -n $QUIRE_PID ]] && kill -0 "$QUIRE_PID" 2>/dev/null; then
        kill "$QUIRE_PID" 2>/dev/null || true
        wait "$QUIRE_PID" 2>/dev/null || true
    fi
    if [[ ${BROWSER_KEEP:-0} == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
SMTP_PORT=$(free_port)
BASE=http://127.0.0.1:$PORT

quire() {
    exec env QUIRE_DATA_DIR="$WORK/data" QUIRE_BIND="127.0.0.1:$PORT" QUIRE_PUBLIC_BASE_URL="$BASE" \
        QUIRE_SMTP__HOST=127.0.0.1 QUIRE_SMTP__PORT="$SMTP_PORT" QUIRE_SMTP__TLS=none \
        QUIRE_SMTP__TIMEOUT_SECS=5 QUIRE_QUEUES__EMAILS__MAX_ATTEMPTS=1 \
        "$BIN" "$@"
}

(quire migrate) >/dev/null
ADMIN_KEY=$( (quire keys create --name browser-admin --admin) | tail -n 1)
OTHER_KEY=$( (quire keys create --name browser-other) | tail -n 1)
[[ -n $ADMIN_KEY && -n $OTHER_KEY ]] || fail "quire keys create printed no key"

quire run >"$WORK/quire.log" 2>&1 &
QUIRE_PID=$!

deadline=$((SECONDS + 30))
until curl -sf "$BASE/ready" >/dev/null 2>&1; do
    kill -0 "$QUIRE_PID" 2>/dev/null || { tail -n 30 "$WORK/quire.log" >&2; fail "quire exited"; }
    ((SECONDS < deadline)) || { tail -n 30 "$WORK/quire.log" >&2; fail "quire not ready after 30s"; }
    sleep 0.2
done
log "quire answers at $BASE; chromium $("$CHROMIUM" --version 2>/dev/null | head -n 1)"

rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS"
if ! QUIRE_BASE=$BASE QUIRE_ADMIN_KEY=$ADMIN_KEY QUIRE_OTHER_KEY=$OTHER_KEY SMTP_PORT=$SMTP_PORT \
    CHROMIUM=$CHROMIUM ARTIFACTS=$ARTIFACTS python3 deploy/browser/dashboard.py; then
    tail -n 40 "$WORK/quire.log" >&2
    fail "the browser checks failed (screenshots so far in $ARTIFACTS)"
fi
log "screenshots: $(find "$ARTIFACTS" -name '*.png' | wc -l) in $ARTIFACTS"
