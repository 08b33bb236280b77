#!/usr/bin/env bash
# The official clients' test (a step of the test command): first that the checked-in clients
# are what the document generates (clients/generate.sh --check), then each client end to end
# against a running quire: submit a certificate with a photo, wait, download the PDF (its text
# read back with pdftotext), list jobs with a filter, submit a CSV batch and read the PDFs in
# its archive, read a 422's problems.
#
# Starts `quire run` in embedded mode (SQLite, no services) on a free port with a fresh data
# directory and an admin key, like deploy/contract-test.sh. Needs openapi-python-client,
# pytest, Node.js 20 and npm (bash deploy/test-services.sh installs them) and the debug binary
# (built if missing). Overridable: QUIRE_BIN.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${QUIRE_BIN:-target/debug/quire}

log() { echo "clients: $*"; }
fail() {
    echo "clients: ERROR: $*" >&2
    exit 1
}

python3 -c 'import pytest' 2>/dev/null || fail "pytest is not installed (bash deploy/test-services.sh installs it)"
command -v pdftotext >/dev/null 2>&1 || fail "pdftotext is not installed (bash deploy/test-services.sh installs it)"
if [[ ! -x $BIN ]]; then
    log "$BIN missing: cargo build -p quire"
    cargo build -q -p quire
fi

bash clients/generate.sh --check

# The embedded default with nothing configured: no setting of the caller's.
while read -r name; do
    unset "$name"
done < <(compgen -e | grep -E '^(QUIRE_|DATABASE_URL$|REDIS_URL$)' || true)

WORK=$(mktemp -d)
QUIRE_PID=
cleanup() {
    if [[ -n $QUIRE_PID ]] && kill -0 "$QUIRE_PID" 2>/dev/null; then
        kill "$QUIRE_PID" 2>/dev/null || true
        wait "$QUIRE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
quire() {
    exec env QUIRE_DATA_DIR="$WORK/data" QUIRE_BIND="127.0.0.1:$PORT" QUIRE_PUBLIC_BASE_URL="$BASE" \
        "$BIN" "$@"
}
(quire migrate) >/dev/null
KEY=$(quire keys create --name clients-test --admin | tail -n 1)
[[ -n $KEY ]] || fail "quire keys create printed no key"
quire run >"$WORK/quire.log" 2>&1 &
QUIRE_PID=$!

deadline=$((SECONDS + 30))
until curl -sf "$BASE/ready" >/dev/null 2>&1; do
    kill -0 "$QUIRE_PID" 2>/dev/null || { tail -n 30 "$WORK/quire.log" >&2; fail "quire exited"; }
    ((SECONDS < deadline)) || { tail -n 30 "$WORK/quire.log" >&2; fail "quire not ready after 30 s"; }
    sleep 0.2
done
log "quire answers at $BASE"

rc=0
log "Python client (clients/python): pytest"
QUIRE_URL=$BASE QUIRE_KEY=$KEY PYTHONPATH="$PWD/clients/python${PYTHONPATH:+:$PYTHONPATH}" \
    python3 -m pytest -q -p no:cacheprovider clients/python/tests || rc=$?
log "TypeScript client (clients/typescript): node --test"
(cd clients/typescript && npm ci --no-audit --no-fund --silent && npx tsc -p . &&
    QUIRE_URL=$BASE QUIRE_KEY=$KEY node --test dist/test/) || rc=$?
if ((rc != 0)); then
    tail -n 40 "$WORK/quire.log" >&2
    fail "a client's end-to-end test failed"
fi
log "both clients passed"
