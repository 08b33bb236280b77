#!/usr/bin/env bash
# Fault tests: quire's delivery guarantees checked on the jobs table with real processes.
#
#   bench/faults.sh                    # build (dev profile), then every scenario (~5 min)
#   bench/faults.sh kill-workers       # one scenario: kill-workers, stale-worker,
#                                      # redis-restart, postgres-stop, two-schedulers,
#                                      # sigterm, handler-failures, workflow-kill
#   SKIP_BUILD=1 bench/faults.sh all --scheduler-secs 60 --kill-jobs 500   # smaller
#   bench/faults.sh all --keep         # keep every scenario's logs and data
#   bench/faults.sh sentinel-failover  # Redis Sentinel: the master SIGKILLed under 2,000
#                                      # certificates (not part of `all`; see below)
#
# Each scenario creates its own PostgreSQL database (dropped afterwards) on FAULTS_DATABASE_URL
# (default postgres://postgres@127.0.0.1:5432/test) and its own namespace on FAULTS_REDIS_URL
# (default redis://127.0.0.1:6379), starts `quire api|worker|scheduler` processes configured by
# environment, injects its fault, waits until the jobs are final and checks every row, file
# and log. redis-restart and workflow-kill (which flushes it) run their own redis-server on a
# free port, and postgres-stop its own
# PostgreSQL 15 cluster (initdb as the `postgres` user; needs root): the shared servers are
# never stopped or flushed. Logs and data of a failed scenario are kept (the path is printed).
#
# Prints one table row per scenario (jobs, faults injected, lost, duplicates, max attempts /
# allowed, files checked, time) and exits non-zero if any scenario failed. The outcomes are
# also written as JSON lines to FAULTS_JSON (default: a file in the work directory).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# sentinel-failover is the Sentinel test of quire/tests/integration/redis_ha.rs at full size:
# its own master, replica and three sentinels (redis-server on free ports), the API, a worker
# and the scheduler as separate apps in the test process, a webhook per job, a dashboard
# session; the master SIGKILLed a third of the way through FAULTS_HA_JOBS (2,000)
# certificates. It prints the promotion and resumption times and fails if any accepted job
# did not succeed exactly once with its delivery, the session ended, or work resumed later
# than 10 s after the promotion. PostgreSQL as for the tests (QUIRE_TEST_DATABASE_URL).
if [[ "${1:-}" == sentinel-failover ]]; then
    cd "$ROOT"
    exec env QUIRE_HA_JOBS="${FAULTS_HA_JOBS:-2000}" cargo test -p quire --test integration \
        redis_ha::sentinel_failover_under_a_burst -- --exact --nocapture
fi
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FAULTS="$TARGET/debug/faults"
QUIRE="$TARGET/debug/quire"
WORK="${FAULTS_WORK_DIR:-${TMPDIR:-/tmp}/quire-faults}"
JSON="${FAULTS_JSON:-$WORK/faults-$(date +%Y%m%d%H%M%S).jsonl}"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "==> cargo build -p quire -p bench (dev profile)" >&2
    (cd "$ROOT" && cargo build -p quire -p bench)
fi
[[ -x "$FAULTS" && -x "$QUIRE" ]] || {
    echo "bench/faults.sh: $FAULTS or $QUIRE missing (build them, or unset SKIP_BUILD)" >&2
    exit 1
}
for tool in redis-server /usr/lib/postgresql/15/bin/initdb; do
    command -v "$tool" >/dev/null || {
        echo "bench/faults.sh: $tool is needed (redis-restart, postgres-stop)" >&2
        exit 1
    }
done

mkdir -p "$WORK"
ARGS=("$@")
if [[ ${#ARGS[@]} -eq 0 ]]; then
    ARGS=(all)
fi
# The scenario (or `all`) and options, in any order.
exec "$FAULTS" --quire "$QUIRE" --work-dir "$WORK" --json "$JSON" "${ARGS[@]}"
