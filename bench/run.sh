#!/usr/bin/env bash
# Benchmarks quire in both deployments and prints the figures.
#
#   bench/run.sh                      # release build, both deployments, full sizes
#   DEPLOYMENTS=embedded bench/run.sh # only one deployment
#   PROFILE=debug SKIP_BUILD=1 SERIAL_JOBS=20 BURST_JOBS=100 SUBMIT_JOBS=500 bench/run.sh
#   PROFILE=dev SUITES=batch bench/run.sh   # only the 10,000-row batch, dev build
#   PROFILE=dev SUITES=report bench/run.sh  # only the in-process SAT report renders
#   BIN_DIR=/tmp/before REPS=1 bench/run.sh # binaries built elsewhere (no build)
#
# Deployments:
#   embedded    `quire run` (API + worker + scheduler in one process) on SQLite in a fresh
#               temporary QUIRE_DATA_DIR.
#   production  a fresh PostgreSQL database (127.0.0.1:5432, user postgres) and a fresh Redis
#               namespace (127.0.0.1:6379); `quire migrate`, then `quire api`, `quire worker`
#               and `quire scheduler` as separate processes.
#
# Every suite runs REPS times (default 3) in one run; the summary gives each figure's median
# and every repetition's value beside the issue's goal.
# Per deployment: serial 200 jobs; burst 2000 jobs C=32 with photo (production: with the CPU
# time each process spent per job, PostgreSQL and Redis included); burst 2000 jobs C=32
# without photo; submit-only 10000 jobs C=64; production also: submit-only 10000 jobs C=32
# against the API alone (worker and scheduler stopped; CPU per submission), then, still
# against the API alone, `wrk -t2 -c64` for WRK_SECS (10) seconds each: `POST
# /v1/certificates` with the photo, without it, and `GET /v1/jobs/{id}` of one job (status
# reads), with the API's peak RSS under each load (wrk is installed with apt when missing).
# Also a batch of BATCH_ROWS (10,000) rows as one CSV `POST /v1/certificates/batch`, waited
# for and its archive downloaded (BATCH_RUNS times in a row against the same servers, to see
# whether memory keeps growing).
# SUITES picks: `idle` (production: the deployment left idle IDLE_SETTLE_SECS (10), then the
# CPU of every process, PostgreSQL and Redis included, over IDLE_SECS (60), as percent of one
# core); `ceiling` (no servers: `cert_ceiling`, the same certificate with the same
# photo rendered in-process by the worker's renderer on every core, BURST_JOBS of them: what
# the machine can render; the summary then prints each deployment's end-to-end rate with the
# photo as a fraction of the ceiling of the same repetition), `jobs` (the runs above),
# `scale` (production: the burst with the photo with one worker, then two workers on the same
# cores, then on one core: servers started afresh with PostgreSQL, Redis, quire and the bench
# pinned to CPU 0 with taskset, given back every core after), `batch`; all four by default;
# `storage` (production, in each repetition: the burst with the photo with files on local disk
# and then in an S3 server -- s3s-fs, a Rust S3 server keeping objects as files, installed
# with `cargo install` when missing -- and a DOWNLOAD_MB (50) MiB file downloaded
# DOWNLOADS (5) times through the API, streamed, and by presigned redirect, with the API's
# peak RSS); `metrics` (production, in each repetition: the burst with the photo and the
# API-alone submissions with metrics on, then off, QUIRE_METRICS__ENABLED); `scrape`
# (production, once: 1,000,000 finished jobs and 1,000 waiting ones inserted, then the time
# of `GET /metrics` and of the backlog query the metrics sampler runs); `fairness`
# (production, one worker, in each repetition: src/bin/fairness.rs with
# QUIRE_QUEUES__ORDER=fair, then =fifo on servers started afresh: 200 single certificates one
# at a time idle and behind a 10,000-row batch, two keys' 5,000-row batches at once with each
# key's share per second and a third key's wait, and the throughput of those 10,000 jobs);
# `webhooks` (production, one worker, in each repetition: src/bin/webhooks.rs: WEBHOOK_JOBS
# (10,000) certificates with an endpoint subscribed to their success, deliveries per second
# and finished-to-received latency; the same with the receiver gone for WEBHOOK_OUTAGE_SECS
# (30) in the middle, and whether every event arrived after; WAIT_JOBS (1,000) jobs known
# finished by `?wait=30` versus by polling every second); `dashboard` (production, once:
# 1,000,000 jobs of 10 keys over 30 days inserted, worker and scheduler stopped, then p50 and
# p95 of 100 loads of each dashboard page, signed in through the sign-in form);
# `verify` (production, in each repetition: VERIFY_CERTS (200) certificates issued, then
# `wrk` against `GET /v1/verify/{code}` with the API alone, with its caches and then
# restarted with QUIRE_CACHE__ENABLED=false; the summary gives the ratio);
# `workflow` (production, in each repetition: a workflow of a WORKFLOW_ROWS (2,000)-row batch
# step, then a `merge` of them all: its jobs per second from submission to `completed`, the
# merge's own time and pages; and, without servers, `merge_parts --parts MERGE_PARTS`
# (10,000): one-page certificates merged in-process as the merge step does, with its time and
# peak RSS, into workflow.jsonl);
# `signing` (no servers, in each repetition: `cert_ceiling` unsigned, then with `--sign`, each
# PDF signed PAdES B-B with an RSA-2048 identity made with openssl: the certificates per second
# of both, their ratio, and the bytes the signature adds);
# and `report` (no
# servers): `report_render --pages N`, the built-in `sat` report template rendered in-process
# with worker::render, for each N in REPORT_PAGES (10 50 200), each a separate process, also
# with --pdfa when REPORT_PDFA=1; one JSON line each (pages, rows, render_ms, peak_rss_mib,
# which is report_render's own peak). With only `report` no server starts. Peak RSS is the worker's
# (embedded: the single process), reset before each run; the batch reports the API's and the
# worker's separately (production), with the API's RSS at start and end. Every server is
# stopped on exit; the database and the Redis keys created here are removed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${PROFILE:-release}"
DEPLOYMENTS="${DEPLOYMENTS:-embedded production}"
SERIAL_JOBS="${SERIAL_JOBS:-200}"
BURST_JOBS="${BURST_JOBS:-2000}"
BURST_CONCURRENCY="${BURST_CONCURRENCY:-32}"
SUBMIT_JOBS="${SUBMIT_JOBS:-10000}"
SUBMIT_CONCURRENCY="${SUBMIT_CONCURRENCY:-64}"
INGEST_CONCURRENCY="${INGEST_CONCURRENCY:-32}"
BATCH_ROWS="${BATCH_ROWS:-10000}"
BATCH_RUNS="${BATCH_RUNS:-1}"
SUITES="${SUITES:-ceiling idle jobs scale batch}"
REPORT_PAGES="${REPORT_PAGES:-10 50 200}"
VERIFY_CERTS="${VERIFY_CERTS:-200}"
REPORT_PDFA="${REPORT_PDFA:-0}"
REPS="${REPS:-3}"
WRK_SECS="${WRK_SECS:-10}"
WRK_THREADS="${WRK_THREADS:-2}"
WRK_CONNECTIONS="${WRK_CONNECTIONS:-64}"
WAIT_TIMEOUT_SECS="${WAIT_TIMEOUT_SECS:-1200}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
PG_USER="${PG_USER:-postgres}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"
DOWNLOAD_MB="${DOWNLOAD_MB:-50}"
DOWNLOADS="${DOWNLOADS:-5}"
S3S_FS_VERSION=0.14.1

# cargo puts the `dev` profile in target/debug.
case "$PROFILE" in
    dev | debug) TARGET_DIR="$ROOT/target/debug" ;;
    *) TARGET_DIR="$ROOT/target/$PROFILE" ;;
esac
# BIN_DIR: binaries from elsewhere (e.g. two builds compared in one session; implies SKIP_BUILD).
if [[ -n "${BIN_DIR:-}" ]]; then
    TARGET_DIR="$BIN_DIR"
    SKIP_BUILD=1
fi
QUIRE="$TARGET_DIR/quire"
BENCH="$TARGET_DIR/bench"
FAIRNESS="$TARGET_DIR/fairness"
WEBHOOKS="$TARGET_DIR/webhooks"
REPORT_RENDER="$TARGET_DIR/report_render"
MERGE_PARTS_BIN="$TARGET_DIR/merge_parts"
CERT_CEILING="$TARGET_DIR/cert_ceiling"
STAMP="$(date +%Y%m%d%H%M%S)_$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/quire-bench.XXXXXX")"
RESULTS="$WORK/results.jsonl"

PIDS=()          # servers started by this script
DATABASES=()     # PostgreSQL databases created by this script
NAMESPACES=()    # Redis namespaces used by this script
S3_PID=""        # the S3 server of the storage suite
EXTRA_ENV=()     # more settings for start_production (the storage suite's S3)

log() { printf '\n==> %s\n' "$*" >&2; }

# Stops the servers: SIGTERM, then SIGKILL after 15 s (bounded).
stop_servers() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 150); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "bench/run.sh: $pid did not stop in 15 s; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    stop_servers
    if [[ -n "$S3_PID" ]]; then
        kill "$S3_PID" 2>/dev/null || true
        wait "$S3_PID" 2>/dev/null || true
    fi
    # The scale suite pins PostgreSQL and Redis to one core; give them every core back.
    if suite_on scale; then
        pin_services "0-$(($(nproc) - 1))"
    fi
    local db ns
    for db in "${DATABASES[@]}"; do
        dropdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" --if-exists "$db" 2>/dev/null || true
    done
    if command -v redis-cli >/dev/null; then
        for ns in "${NAMESPACES[@]}"; do
            timeout 60 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" --scan --pattern "$ns*" \
                | timeout 60 xargs -r -n 500 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" DEL >/dev/null \
                || true
        done
    fi
    if [[ $status -ne 0 ]]; then
        echo "bench/run.sh: failed (exit $status); logs, data and results kept in $WORK" >&2
    else
        # The PDFs and photos of the runs; logs and results stay.
        rm -rf "$WORK"/embedded-data-* "$WORK"/production-data-* "$WORK"/s3 "$WORK"/download.bin
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A TCP port nothing listens on (bounded number of tries).
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "bench/run.sh: no free port found" >&2
    return 1
}

# Waits (at most 60 s) until $1/ready answers 200 while process $2 lives.
wait_ready() {
    local url="$1" pid="$2" logfile="$3"
    for _ in $(seq 1 600); do
        if curl -fsS -o /dev/null --max-time 2 "$url/ready" 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "bench/run.sh: the server exited; its log ($logfile):" >&2
            tail -n 30 "$logfile" >&2
            return 1
        fi
        sleep 0.1
    done
    echo "bench/run.sh: $url/ready did not answer 200 within 60 s; log ($logfile):" >&2
    tail -n 30 "$logfile" >&2
    return 1
}

# Whether SUITES names $1.
suite_on() { [[ " $SUITES " == *" $1 "* ]]; }

# Runs one bench; the table goes to the terminal, the JSON line into $RESULTS.
# Usage: run_bench LABEL URL KEY RSS_PIDS BENCH_ARGS...  (RSS_PIDS: space-separated)
run_bench() {
    local label="$1" url="$2" key="$3" rss_pids=() pid
    read -r -a rss_pids <<<"$4"
    shift 4
    local rss_args=()
    for pid in "${rss_pids[@]}"; do
        rss_args+=(--rss-pid "$pid")
    done
    log "$label: bench $*"
    local out
    out="$WORK/bench-$label-$(date +%s%N).out"
    if ! BENCH_KEY="$key" "$BENCH" --url "$url" --label "$label" --json \
        "${rss_args[@]}" --reset-peak-rss --timeout-secs "$WAIT_TIMEOUT_SECS" "$@" >"$out"; then
        echo "bench/run.sh: bench failed ($label $*)" >&2
        cat "$out" >&2
        return 1
    fi
    # All but the JSON line to the terminal; the JSON line to the results.
    sed '$d' "$out"
    tail -n 1 "$out" >>"$RESULTS"
}

# The jobs suite against one deployment. ROLES (optional, ROLE=PID ...): the processes whose
# CPU per job is recorded around the burst with the photo.
run_suite() {
    local label="$1" url="$2" key="$3" rss_pid="$4" before=""
    local roles=("${@:5}")
    run_bench "$label" "$url" "$key" "$rss_pid" --mode serial --jobs "$SERIAL_JOBS"
    if [[ ${#roles[@]} -gt 0 ]]; then
        before="$(cpu_sample "${roles[@]}")"
    fi
    run_bench "$label" "$url" "$key" "$rss_pid" --mode burst --jobs "$BURST_JOBS" \
        --concurrency "$BURST_CONCURRENCY" --photo
    if [[ ${#roles[@]} -gt 0 ]]; then
        cpu_per_job "$label" "$BURST_JOBS" "$before" "$(cpu_sample "${roles[@]}")"
    fi
    run_bench "$label" "$url" "$key" "$rss_pid" --mode burst --jobs "$BURST_JOBS" \
        --concurrency "$BURST_CONCURRENCY"
    run_bench "$label" "$url" "$key" "$rss_pid" --mode submit-only --jobs "$SUBMIT_JOBS" \
        --concurrency "$SUBMIT_CONCURRENCY"
}

# The key printed alone on the last line of `quire keys create`.
create_key() {
    local key
    key="$("$@" keys create --name bench | tail -n 1)"
    [[ "$key" =~ ^[A-Za-z0-9_-]+$ ]] || {
        echo "bench/run.sh: could not create a key (got: $key)" >&2
        return 1
    }
    echo "$key"
}

# Servers shut down quickly; nothing inherited points them elsewhere. The per-key rate limit
# is off (the loads send thousands of requests a second with one key); the fairness suite
# measures it with a key of its own limit. So is the per-key share of the image checks
# (32 of them at once by default): wrk's 64 connections all use one key, and would get 429s
# that a real client spreads over its keys or retries after. The public endpoints' limit per
# client address goes too: every wrk connection of the verify suite comes from 127.0.0.1.
CLEAN_ENV=(env -u DATABASE_URL -u REDIS_URL -u QUIRE_DATABASE_URL -u QUIRE_REDIS_URL
    -u QUIRE_CONFIG -u QUIRE_DATA_DIR -u QUIRE_BIND -u QUIRE_REDIS_NAMESPACE
    -u QUIRE_PUBLIC_BASE_URL QUIRE_SHUTDOWN_GRACE_SECS=5 QUIRE_RATE_LIMIT__PER_KEY=0
    QUIRE_RATE_LIMIT__PUBLIC_PER_ADDRESS=0 QUIRE_LIMITS__MAX_CHECKS_PER_KEY=256)

embedded() {
    local port url data pid key
    port="$(free_port)"
    url="http://127.0.0.1:$port"
    data="$WORK/embedded-data-${rep:-1}"
    mkdir -p "$data"
    local run_env=("${CLEAN_ENV[@]}" QUIRE_DATA_DIR="$data" QUIRE_BIND="127.0.0.1:$port")
    log "embedded: quire run on $url (data in $data)"
    "${run_env[@]}" "$QUIRE" run >"$WORK/embedded.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$url" "$pid" "$WORK/embedded.log"
    key="$(create_key "${run_env[@]}" "$QUIRE")"
    if suite_on jobs; then
        run_suite embedded "$url" "$key" "$pid"
    fi
    if suite_on batch; then
        for _ in $(seq 1 "$BATCH_RUNS"); do
            run_bench embedded "$url" "$key" "$pid" --mode batch --jobs "$BATCH_ROWS"
        done
    fi
    stop_servers
}

# Resets the peak RSS (VmHWM) of process $1.
# CPU time (user + system, ms) one process has used so far.
cpu_of() { awk '{ printf "%d", ($14 + $15) * 1000 / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat"; }

reset_peak() { echo 5 >"/proc/$1/clear_refs" 2>/dev/null || echo "bench/run.sh: cannot reset the peak RSS of $1" >&2; }
# The peak RSS (VmHWM) of process $1 in MiB.
peak_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

# One wrk load: WHAT (submit-photo, submit, read) against URL, body file BODY ("" for a GET);
# its JSON line, with the API's peak RSS, goes to wrk.jsonl.
# Usage: wrk_run LABEL WHAT URL KEY BODY API_PID
wrk_run() {
    local label="$1" what="$2" url="$3" key="$4" body="$5" pid="$6" out line
    log "$label: wrk -t$WRK_THREADS -c$WRK_CONNECTIONS -d${WRK_SECS}s $what $url"
    out="$WORK/wrk-$label-$what-$(date +%s%N).out"
    reset_peak "$pid"
    local cpu_before cpu_after
    cpu_before="$(cpu_of "$pid")"
    WRK_KEY="$key" WRK_BODY="$body" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"${WRK_SECS}s" \
        --latency -s "$ROOT/bench/wrk/request.lua" "$url" >"$out" 2>&1 || {
        cat "$out" >&2
        return 1
    }
    cpu_after="$(cpu_of "$pid")"
    line="$(tail -n 1 "$out")"
    python3 - "$line" "$label" "$what" "$(peak_mib "$pid")" "$cpu_before" "$cpu_after" >>"$WORK/wrk.jsonl" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
requests = r.get("requests") or (r["per_s"] * float(r.get("secs", 1)))
r.update(label=sys.argv[2], what=sys.argv[3], api_peak_rss_mb=float(sys.argv[4]),
         api_cpu_us_per_request=round((float(sys.argv[6]) - float(sys.argv[5])) * 1000 / max(requests, 1), 1))
print(json.dumps(r))
PY
    tail -n 1 "$WORK/wrk.jsonl"
    if [[ "$(tail -n 1 "$WORK/wrk.jsonl" | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["not_2xx"] + r["transport_errors"])')" != 0 ]]; then
        echo "bench/run.sh: wrk $what saw errors:" >&2
        cat "$out" >&2
        return 1
    fi
}

# Submissions with and without the photo, then status reads of one job, against the API
# alone (no worker on the same cores).
wrk_suite() {
    local label="$1" url="$2" key="$3" pid_api="$4" id
    "$BENCH" --write-body "$WORK/body-photo.json" --photo
    "$BENCH" --write-body "$WORK/body.json"
    wrk_run "$label" submit-photo "$url/v1/certificates" "$key" "$WORK/body-photo.json" "$pid_api"
    wrk_run "$label" submit "$url/v1/certificates" "$key" "$WORK/body.json" "$pid_api"
    id="$(curl -fsS -H "Authorization: Bearer $key" "$url/v1/jobs?limit=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["id"])')"
    wrk_run "$label" read "$url/v1/jobs/$id" "$key" "" "$pid_api"
}

# Starts a production deployment on a fresh database and Redis namespace (NAME tells them
# apart): api, worker and scheduler as separate processes. Sets URL, KEY, PROD_ENV, PID_API,
# PID_WORKER, PID_SCHEDULER.
start_production() {
    local name="$1" port db ns
    command -v createdb >/dev/null || {
        echo "bench/run.sh: createdb (PostgreSQL client) is needed for the production deployment" >&2
        return 1
    }
    port="$(free_port)"
    URL="http://127.0.0.1:$port"
    db="quire_bench_${STAMP}_${name}_r${rep:-1}"
    ns="$db"
    createdb -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$db"
    DATABASES+=("$db")
    NAMESPACES+=("$ns")
    PROD_ENV=("${CLEAN_ENV[@]}" QUIRE_DATA_DIR="$WORK/production-data-${name}-${rep:-1}"
        DATABASE_URL="postgres://$PG_USER@$PG_HOST:$PG_PORT/$db"
        REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/?protocol=resp3"
        QUIRE_REDIS_NAMESPACE="$ns" QUIRE_BIND="127.0.0.1:$port"
        # The key that seals stored secrets (PostgreSQL deployments must set one).
        QUIRE_SECRETS__KEK="$(head -c 32 /dev/urandom | base64)"
        # The scrape suite reads the API's /metrics on its own (loopback) port.
        QUIRE_METRICS__PUBLIC=true "${EXTRA_ENV[@]}")
    log "$name: database $db, Redis namespace $ns, API on $URL"
    "${PROD_ENV[@]}" "$QUIRE" migrate >"$WORK/$name-migrate.log" 2>&1 || {
        cat "$WORK/$name-migrate.log" >&2
        return 1
    }
    "${PROD_ENV[@]}" "$QUIRE" api >"$WORK/$name-api.log" 2>&1 &
    PID_API=$!
    PIDS+=("$PID_API")
    "${PROD_ENV[@]}" "$QUIRE" worker >"$WORK/$name-worker.log" 2>&1 &
    PID_WORKER=$!
    PIDS+=("$PID_WORKER")
    "${PROD_ENV[@]}" "$QUIRE" scheduler >"$WORK/$name-scheduler.log" 2>&1 &
    PID_SCHEDULER=$!
    PIDS+=("$PID_SCHEDULER")
    wait_ready "$URL" "$PID_API" "$WORK/$name-api.log"
    kill -0 "$PID_WORKER" 2>/dev/null || {
        tail -n 30 "$WORK/$name-worker.log" >&2
        return 1
    }
    KEY="$(create_key "${PROD_ENV[@]}" "$QUIRE")"
}

# CPU time (user + system, ms) of the processes that serve a run, as JSON {pid: [role, ms]}:
# the quire processes given as ROLE=PID, and every postgres and redis-server process.
cpu_sample() {
    python3 - "$@" <<'PY'
import json, os, sys
tick = os.sysconf("SC_CLK_TCK")
roles = dict(reversed(a.split("=")) for a in sys.argv[1:])
out = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    role = roles.get(pid) or {"postgres": "postgres", "redis-server": "redis"}.get(comm)
    if role:
        out[pid] = [role, (int(fields[11]) + int(fields[12])) * 1000 / tick]
print(json.dumps(out))
PY
}

# CPU per job by role between two cpu_sample outputs, as a JSON line into cpu.jsonl.
# Usage: cpu_per_job LABEL JOBS BEFORE AFTER
cpu_per_job() {
    python3 - "$@" >>"$WORK/cpu.jsonl" <<'PY'
import json, sys
label, jobs, before, after = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
per = {}
for pid, (role, ms) in after.items():
    per[role] = per.get(role, 0.0) + ms - before.get(pid, [role, 0.0])[1]
print(json.dumps({"label": label, "jobs": jobs, **{f"{r}_ms": round(v / jobs, 3) for r, v in sorted(per.items())}}))
PY
    tail -n 1 "$WORK/cpu.jsonl"
}

production() {
    local before
    start_production production
    if suite_on idle; then
        idle_suite production api="$PID_API" worker="$PID_WORKER" scheduler="$PID_SCHEDULER"
    fi
    if suite_on jobs; then
        run_suite production "$URL" "$KEY" "$PID_WORKER" \
            api="$PID_API" worker="$PID_WORKER" scheduler="$PID_SCHEDULER"
    fi
    if suite_on batch; then
        for _ in $(seq 1 "$BATCH_RUNS"); do
            run_bench production "$URL" "$KEY" "$PID_API $PID_WORKER" --mode batch \
                --jobs "$BATCH_ROWS"
        done
    fi
    if ! suite_on jobs; then
        stop_servers
        return 0
    fi
    # Ingestion alone: the API with no worker rendering on the same cores (what one API
    # process accepts when workers run elsewhere, as in production).
    kill "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    wait "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    before="$(cpu_sample api="$PID_API")"
    run_bench production-api "$URL" "$KEY" "$PID_API" --mode submit-only --jobs "$SUBMIT_JOBS" \
        --concurrency "$INGEST_CONCURRENCY" --no-worker-expected
    cpu_per_job production-api "$SUBMIT_JOBS" "$before" "$(cpu_sample api="$PID_API")"
    wrk_suite production-api "$URL" "$KEY" "$PID_API"
    stop_servers
}

# What an idle deployment costs: every process's CPU (the quire roles given as ROLE=PID, every
# postgres and redis-server process) over IDLE_SECS (60) after IDLE_SETTLE_SECS (10) of quiet,
# as percent of one core, into idle.jsonl.
idle_suite() {
    local label="$1" before after
    shift
    log "$label: idle for ${IDLE_SETTLE_SECS:-10} s, then measured for ${IDLE_SECS:-60} s"
    sleep "${IDLE_SETTLE_SECS:-10}"
    before="$(cpu_sample "$@")"
    sleep "${IDLE_SECS:-60}"
    after="$(cpu_sample "$@")"
    python3 - "$label" "${IDLE_SECS:-60}" "$before" "$after" >>"$WORK/idle.jsonl" <<'PY'
import json, sys
label, secs, before, after = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
per = {}
for pid, (role, ms) in after.items():
    per[role] = per.get(role, 0.0) + ms - before.get(pid, [role, 0.0])[1]
out = {f"{r}_pct": round(v / secs / 10, 3) for r, v in sorted(per.items())}
out["total_pct"] = round(sum(per.values()) / secs / 10, 3)
print(json.dumps({"label": label, **out}))
PY
    tail -n 1 "$WORK/idle.jsonl"
}

# An S3 server for the storage suite (once per run): s3s-fs on a free port, objects as files
# under $WORK/s3. Sets S3_URL.
start_s3() {
    [[ -n "$S3_PID" ]] && return 0
    local bin="${S3S_FS:-$HOME/.cargo/bin/s3s-fs}"
    if [[ ! -x "$bin" ]]; then
        log "installing s3s-fs $S3S_FS_VERSION (cargo install)"
        cargo install "s3s-fs@$S3S_FS_VERSION" --features binary --locked >&2
    fi
    local port
    port="$(free_port)"
    S3_URL="http://127.0.0.1:$port"
    mkdir -p "$WORK/s3"
    "$bin" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret \
        "$WORK/s3" >"$WORK/s3.log" 2>&1 &
    S3_PID=$!
    for _ in $(seq 1 100); do
        curl -s -o /dev/null --max-time 1 "$S3_URL/" && return 0
        sleep 0.1
    done
    echo "bench/run.sh: s3s-fs did not answer on $S3_URL" >&2
    tail -n 20 "$WORK/s3.log" >&2
    return 1
}

# curl signing for the S3 server (bucket creation, uploads).
s3_curl() {
    curl -fsS --aws-sigv4 "aws:amz:us-east-1:s3" --user bench:bench-secret \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"
}

# The burst with the photo against the servers just started, with the CPU per job of each
# process (the S3 server's too: it shares the machine's cores with quire here).
storage_burst() {
    local label="$1" before roles=(api="$PID_API" worker="$PID_WORKER" scheduler="$PID_SCHEDULER" s3="$S3_PID")
    before="$(cpu_sample "${roles[@]}")"
    run_bench "$label" "$URL" "$KEY" "$PID_WORKER" --mode burst \
        --jobs "$BURST_JOBS" --concurrency "$BURST_CONCURRENCY" --photo
    cpu_per_job "$label" "$BURST_JOBS" "$before" "$(cpu_sample "${roles[@]}")"
}

# The burst with the photo on local files, then on S3; a large download through the API
# (streamed) and by presigned redirect.
storage_suite() {
    start_s3
    EXTRA_ENV=()
    start_production local-files
    storage_burst production-local-files
    stop_servers
    local bucket="bench-${rep:-1}-$$"
    s3_curl -X PUT "$S3_URL/$bucket" >/dev/null
    EXTRA_ENV=(QUIRE_STORAGE_URL="s3://$bucket/files" QUIRE_S3__ENDPOINT="$S3_URL"
        QUIRE_S3__ALLOW_HTTP=true QUIRE_S3__REGION=us-east-1 QUIRE_S3__ACCESS_KEY_ID=bench
        QUIRE_S3__SECRET_ACCESS_KEY=bench-secret)
    start_production s3
    storage_burst production-s3
    download_suite "$bucket"
    stop_servers
    EXTRA_ENV=()
}

# Fair claims versus FIFO: the same loads against servers started afresh each way (one worker).
fairness_suite() {
    local order keys
    for order in ${FAIRNESS_ORDERS:-fair fifo}; do
        EXTRA_ENV=(QUIRE_QUEUES__ORDER="$order")
        start_production "fairness-$order"
        keys="$KEY"
        for _ in 1 2 3; do
            keys="$keys,$(create_key "${PROD_ENV[@]}" "$QUIRE")"
        done
        limited="$("${PROD_ENV[@]}" "$QUIRE" keys create --name limited --rate-limit 100 | tail -n 1)"
        log "fairness ($order)"
        "$FAIRNESS" --url "$URL" --keys "$keys" --limited-key "$limited" --label "$order" \
            | tee -a "$WORK/fairness.jsonl"
        stop_servers
    done
    EXTRA_ENV=()
}

# Webhooks and waiting (production, one worker, deliveries allowed to the bench's receiver on
# loopback, the default retry schedule): src/bin/webhooks.rs.
webhooks_suite() {
    # `wait_vs_poll` holds WAIT_JOBS long-polls of one key at once: the per-key cap (32 by
    # default) is raised for it, and the process's cap with it when needed.
    local waits="${WAIT_JOBS:-1000}"
    EXTRA_ENV=(QUIRE_WEBHOOKS__ALLOW_HTTP=true QUIRE_WEBHOOKS__ALLOW_NETWORKS=127.0.0.0/8
        QUIRE_LIMITS__MAX_LONG_POLLS="$(( waits > 1024 ? waits : 1024 ))"
        QUIRE_LIMITS__MAX_LONG_POLLS_PER_KEY="$waits")
    start_production webhooks
    log "webhooks"
    "$WEBHOOKS" --url "$URL" --key "$KEY" --jobs "${WEBHOOK_JOBS:-10000}" \
        --outage-secs "${WEBHOOK_OUTAGE_SECS:-30}" --wait-jobs "$waits" \
        | tee -a "$WORK/webhooks.jsonl"
    stop_servers
    EXTRA_ENV=()
}

# The dashboard with 1,000,000 jobs in the PostgreSQL table: its pages' latency (signed in
# through the real sign-in form) and the plans of its queries.
dashboard_suite() {
    local db admin viewer viewer_id
    start_production dashboard
    db="$(sed -n 's/.*DATABASE_URL=\([^ ]*\).*/\1/p' <<<"${PROD_ENV[*]}")"
    # The jobs are the table's; no worker or scheduler touches them meanwhile.
    kill "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    wait "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    admin="$("${PROD_ENV[@]}" "$QUIRE" keys create --name dash-admin --admin | tail -n 1)"
    viewer="$("${PROD_ENV[@]}" "$QUIRE" keys create --name dash-viewer | tail -n 1)"
    viewer_id="$(psql -X -tA "$db" -c "SELECT id FROM api_keys WHERE name = 'dash-viewer'")"
    log "dashboard: inserting 1,000,000 jobs (30 days, 10 keys, 1.5 % dead)"
    psql -X -q "$db" -c "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt,
        max_attempts, run_at, payload, error_code, error_message, batch_id, worker,
        created_at, started_at, finished_at, updated_at, priority, vtime)
        SELECT gen_random_uuid()::text, k.kind, k.queue,
          CASE WHEN g % 4 = 0 THEN '$viewer_id' ELSE 'owner-' || (g % 9) END,
          s.status, 1, 5, t.at, '{\"recipient_name\": \"Person ' || g || '\", \"course_name\": \"Course ' || (g % 50) || '\"}',
          CASE WHEN s.status IN ('dead', 'failed') THEN 'render_failed' END,
          CASE WHEN s.status IN ('dead', 'failed') THEN 'render failed: error ' || (g % 7) END,
          CASE WHEN g % 10 = 0 THEN 'batch-' || (g / 10000) END, 'quire-bench-worker',
          t.at, CASE WHEN s.status NOT IN ('queued', 'scheduled') THEN t.at + 40 END,
          CASE WHEN s.status IN ('succeeded', 'dead', 'cancelled', 'failed') THEN t.at + 90 END,
          t.at + 90, 20, 0
        FROM generate_series(1, 1000000) AS g
        CROSS JOIN LATERAL (SELECT (extract(epoch from now()) * 1000)::bigint
            - (g::bigint * 2592) AS at) t
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 20 < 14 THEN 'certificate' WHEN g % 20 < 18 THEN 'email'
            WHEN g % 20 < 19 THEN 'report' ELSE 'maintenance' END AS kind) k0
        CROSS JOIN LATERAL (SELECT k0.kind, CASE k0.kind WHEN 'certificate' THEN 'certificates'
            WHEN 'email' THEN 'emails' WHEN 'report' THEN 'reports' ELSE 'maintenance' END AS queue) k
        CROSS JOIN LATERAL (SELECT CASE WHEN g % 1000 < 15 THEN 'dead' WHEN g % 1000 < 20 THEN 'cancelled'
            WHEN g < 5000 AND g % 10 = 1 THEN 'queued' WHEN g < 5000 AND g % 10 = 2 THEN 'running'
            WHEN g < 5000 AND g % 10 = 3 THEN 'failed' ELSE 'succeeded' END AS status) s" \
        && psql -X -q "$db" -c "VACUUM ANALYZE jobs"
    python3 - "$URL" "$admin" "$viewer" "$db" <<'PY' | tee -a "$WORK/dashboard.jsonl"
import http.cookiejar, json, re, statistics, subprocess, sys, time, urllib.parse, urllib.request
url, admin, viewer, db = sys.argv[1:5]

def session(key):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = opener.open(url + "/dashboard/sign-in").read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({"csrf": token, "key": key}).encode()
    opener.open(url + "/dashboard/sign-in", body).read()
    return opener

def timed(opener, path, n=100):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        opener.open(url + path).read()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50_ms": round(times[len(times) // 2], 1), "p95_ms": round(times[int(len(times) * 0.95)], 1),
            "max_ms": round(times[-1], 1)}

a, v = session(admin), session(viewer)
pages = {
    "overview (admin: every key)": (a, "/dashboard"),
    "overview (one key)": (v, "/dashboard"),
    "jobs: certificate, dead": (a, "/dashboard/jobs?kind=certificate&status=dead"),
    "jobs: succeeded, last 24 h": (a, "/dashboard/jobs?status=succeeded&range=24h"),
    "jobs: one key, email, last 7 days": (v, "/dashboard/jobs?kind=email&range=7d"),
    "jobs: one batch": (a, "/dashboard/jobs?batch=batch-50"),
    "jobs: free text (a recipient)": (a, "/dashboard/jobs?search=Person+123456"),
    "failures, grouped": (a, "/dashboard/failures"),
}
out = {"jobs": 1000000}
for name, (opener, path) in pages.items():
    timed(opener, path, 5)  # warm
    out[name] = timed(opener, path)
print(json.dumps(out))
PY
    stop_servers
}

# Metrics on versus off: the same loads against servers started afresh each way.
metrics_suite() {
    local on
    for on in true false; do
        EXTRA_ENV=(QUIRE_METRICS__ENABLED="$on")
        start_production "metrics-$on"
        run_bench "production-metrics-$on" "$URL" "$KEY" "$PID_WORKER" --mode burst \
            --jobs "$BURST_JOBS" --concurrency "$BURST_CONCURRENCY" --photo
        kill "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
        wait "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
        run_bench "production-metrics-$on" "$URL" "$KEY" "$PID_API" --mode submit-only \
            --jobs "$SUBMIT_JOBS" --concurrency "$INGEST_CONCURRENCY" --no-worker-expected
        stop_servers
    done
    EXTRA_ENV=()
}

# `GET /metrics` and the sampler's backlog query with a large jobs table.
scrape_suite() {
    local db owner ms
    start_production scrape
    db="$(sed -n 's/.*DATABASE_URL=\([^ ]*\).*/\1/p' <<<"${PROD_ENV[*]}")"
    run_bench production-scrape "$URL" "$KEY" "$PID_WORKER" --mode burst --jobs 10 --concurrency 2
    owner="$(psql -X -tA "$db" -c "SELECT owner_id FROM jobs WHERE kind = 'certificate' LIMIT 1")"
    log "scrape: inserting 1,000,000 finished and 1,000 waiting jobs"
    psql -X -q "$db" -c "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt,
        max_attempts, run_at, payload, created_at, started_at, finished_at, updated_at)
        SELECT gen_random_uuid()::text, 'certificate', 'certificates', '$owner',
        CASE WHEN g <= 1000 THEN 'queued' ELSE 'succeeded' END, 1, 5,
        (extract(epoch from now()) * 1000)::bigint + CASE WHEN g <= 1000 THEN 3600000 ELSE 0 END,
        '{}', g, g, g, g FROM generate_series(1, 1001000) AS g" \
        && psql -X -q "$db" -c "ANALYZE jobs"
    sleep 6 # the sampler's next pass sees the table
    python3 - "$URL" "$db" <<'PY' | tee -a "$WORK/scrape.jsonl"
import json, statistics, subprocess, sys, time, urllib.request
url, db = sys.argv[1], sys.argv[2]
times = []
for _ in range(50):
    t = time.perf_counter()
    body = urllib.request.urlopen(url + "/metrics").read()
    times.append((time.perf_counter() - t) * 1000)
plan = subprocess.run(["psql", "-X", "-tA", db, "-c", "EXPLAIN (ANALYZE, FORMAT JSON) "
    "SELECT kind, 1 AS waiting, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs "
    "WHERE status IN ('queued', 'failed') GROUP BY kind UNION ALL "
    "SELECT kind, 0 AS waiting, COUNT(*) AS n, NULL AS oldest FROM jobs "
    "WHERE status = 'running' GROUP BY kind"], capture_output=True, text=True, check=True).stdout
backlog_ms = json.loads(plan)[0]["Execution Time"]
queued = [l for l in body.decode().splitlines() if l.startswith("quire_jobs_queued{") and 'kind="certificate"' in l]
print(json.dumps({"jobs": 1001000, "scrape_p50_ms": statistics.median(times),
                  "scrape_max_ms": max(times), "metrics_bytes": len(body),
                  "backlog_query_ms": backlog_ms, "queued_gauge": queued}))
PY
    stop_servers
}

# A DOWNLOAD_MB file as a succeeded job's result (object uploaded, row inserted as the worker
# would have written it), downloaded through the API and through a second API that redirects
# to presigned URLs; speeds and the streaming API's peak RSS.
download_suite() {
    local bucket="$1" db owner id key_path sha bytes presign_port presign_url pid_presign
    db="${PROD_ENV[*]}"
    db="$(sed -n 's/.*DATABASE_URL=\([^ ]*\).*/\1/p' <<<"$db")"
    owner="$(psql -X -tA "$db" -c "SELECT owner_id FROM jobs WHERE kind = 'certificate' LIMIT 1")"
    id="$(python3 -c 'import uuid; print(uuid.uuid4())')"
    head -c "$((DOWNLOAD_MB * 1024 * 1024))" /dev/urandom >"$WORK/download.bin"
    sha="$(sha256sum "$WORK/download.bin" | cut -d' ' -f1)"
    bytes="$(stat -c %s "$WORK/download.bin")"
    key_path="outputs/$owner/$id-1.pdf"
    s3_curl -T "$WORK/download.bin" "$S3_URL/$bucket/files/$key_path" >/dev/null
    psql -X -q "$db" -c "INSERT INTO jobs (id, kind, queue, owner_id, status, attempt, max_attempts,
        run_at, payload, result, created_at, started_at, finished_at, updated_at)
        SELECT '$id', 'report', 'reports', '$owner', 'succeeded', 1, 1, 0, payload,
        '{\"file\": \"$key_path\", \"bytes\": $bytes, \"sha256\": \"$sha\", \"pages\": 1}',
        0, 0, 0, 0 FROM jobs WHERE owner_id = '$owner' LIMIT 1"
    presign_port="$(free_port)"
    presign_url="http://127.0.0.1:$presign_port"
    "${PROD_ENV[@]}" QUIRE_BIND="127.0.0.1:$presign_port" QUIRE_S3__PRESIGN_DOWNLOADS_SECS=300 \
        "$QUIRE" api >"$WORK/presign-api.log" 2>&1 &
    pid_presign=$!
    PIDS+=("$pid_presign")
    wait_ready "$presign_url" "$pid_presign" "$WORK/presign-api.log"
    log "download: $DOWNLOAD_MB MiB x $DOWNLOADS, through the API and presigned"
    local how base pid got
    for how in streamed presigned; do
        case "$how" in
            streamed) base="$URL" pid="$PID_API" ;;
            presigned) base="$presign_url" pid="$pid_presign" ;;
        esac
        reset_peak "$pid"
        for _ in $(seq 1 "$DOWNLOADS"); do
            got="$(curl -fsS -L -H "Authorization: Bearer $KEY" -o "$WORK/download.out" \
                -w '%{time_total} %{speed_download}' "$base/v1/jobs/$id/file")"
            [[ "$(sha256sum "$WORK/download.out" | cut -d' ' -f1)" == "$sha" ]] || {
                echo "bench/run.sh: $how download does not match its sha256" >&2
                return 1
            }
            python3 -c 'import json, sys
t, speed = map(float, sys.argv[3].split())
print(json.dumps({"label": sys.argv[1], "how": sys.argv[2], "mib": int(sys.argv[4]),
                  "secs": t, "mib_per_s": speed / 1048576, "api_peak_rss_mb": float(sys.argv[5])}))' \
                "production-s3" "$how" "$got" "$DOWNLOAD_MB" "$(peak_mib "$pid")" \
                | tee -a "$WORK/download.jsonl"
        done
    done
    rm -f "$WORK/download.out"
}

# Sets the CPU affinity of every postgres and redis-server process, every thread.
pin_services() {
    local pid
    for pid in $(pgrep -x postgres) $(pgrep -x redis-server); do
        taskset -a -p -c "$1" "$pid" >/dev/null 2>&1 || true
    done
}

# Scale: the burst with the photo with two workers instead of one on the same cores, then
# with everything (servers started afresh, PostgreSQL, Redis and the bench) on one core.
scale() {
    local all_cores="0-$(($(nproc) - 1))" pid_worker2
    start_production scale
    run_bench production-1-worker "$URL" "$KEY" "$PID_WORKER" --mode burst --jobs "$BURST_JOBS" \
        --concurrency "$BURST_CONCURRENCY" --photo
    "${PROD_ENV[@]}" "$QUIRE" worker >"$WORK/scale-worker2.log" 2>&1 &
    pid_worker2=$!
    PIDS+=("$pid_worker2")
    run_bench production-2-workers "$URL" "$KEY" "$PID_WORKER $pid_worker2" --mode burst \
        --jobs "$BURST_JOBS" --concurrency "$BURST_CONCURRENCY" --photo
    stop_servers
    log "one core: PostgreSQL, Redis, quire and the bench on CPU 0"
    pin_services 0
    taskset -p -c 0 $$ >/dev/null
    start_production one-core
    run_bench production-1-core "$URL" "$KEY" "$PID_WORKER" --mode burst --jobs "$BURST_JOBS" \
        --concurrency "$BURST_CONCURRENCY" --photo
    stop_servers
    taskset -p -c "$all_cores" $$ >/dev/null
    pin_services "$all_cores"
}

# Public verification with the caches and without: VERIFY_CERTS certificates issued, then wrk
# against `GET /v1/verify/{code}` of one of them with the API alone (worker and scheduler
# stopped), first as deployed, then with the API restarted with QUIRE_CACHE__ENABLED=false.
verify_suite() {
    local code pid_uncached
    start_production verify
    run_bench production-verify "$URL" "$KEY" "$PID_WORKER" --mode burst --jobs "$VERIFY_CERTS" \
        --concurrency "$BURST_CONCURRENCY"
    code="$(curl -fsS -H "Authorization: Bearer $KEY" "$URL/v1/certificates?limit=1" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["certificates"][0]["verification_code"])')"
    kill "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    wait "$PID_WORKER" "$PID_SCHEDULER" 2>/dev/null || true
    wrk_run verify cached "$URL/v1/verify/$code" "$KEY" "" "$PID_API"
    kill "$PID_API" 2>/dev/null || true
    wait "$PID_API" 2>/dev/null || true
    "${PROD_ENV[@]}" QUIRE_CACHE__ENABLED=false "$QUIRE" api >"$WORK/verify-api-uncached.log" 2>&1 &
    pid_uncached=$!
    PIDS+=("$pid_uncached")
    wait_ready "$URL" "$pid_uncached" "$WORK/verify-api-uncached.log"
    wrk_run verify uncached "$URL/v1/verify/$code" "$KEY" "" "$pid_uncached"
    stop_servers
}

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    log "building quire and bench ($PROFILE)"
    case "$PROFILE" in
        release) (cd "$ROOT" && cargo build --release -p quire -p bench) ;;
        dev | debug) (cd "$ROOT" && cargo build -p quire -p bench) ;;
        *) (cd "$ROOT" && cargo build --profile "$PROFILE" -p quire -p bench) ;;
    esac
fi

# In-process report renders: one process per size, so each peak RSS is its own.
report_suite() {
    local pages variant line
    local variants=("")
    if [[ "$REPORT_PDFA" == 1 ]]; then
        variants+=(--pdfa)
    fi
    [[ -x "$REPORT_RENDER" ]] || {
        echo "bench/run.sh: $REPORT_RENDER missing (build bench, or unset SKIP_BUILD)" >&2
        return 1
    }
    for variant in "${variants[@]}"; do
        for pages in $REPORT_PAGES; do
            local args=(--pages "$pages")
            if [[ -n "$variant" ]]; then
                args+=("$variant")
            fi
            log "report: report_render ${args[*]}"
            line="$("$REPORT_RENDER" "${args[@]}")"
            echo "$line"
            echo "$line" >>"$WORK/report.jsonl"
        done
    done
}

# Workflows: a chord of WORKFLOW_ROWS certificates and a merge against production (jobs per
# second, the merge's time), and merge_parts in-process (time and peak RSS of MERGE_PARTS
# parts). One JSON line each into workflow.jsonl.
workflow_suite() {
    local line
    [[ -x "$MERGE_PARTS_BIN" ]] || {
        echo "bench/run.sh: $MERGE_PARTS_BIN missing (build bench, or unset SKIP_BUILD)" >&2
        return 1
    }
    log "workflow: merge_parts --parts ${MERGE_PARTS:-10000}"
    line="$("$MERGE_PARTS_BIN" --parts "${MERGE_PARTS:-10000}")"
    echo "$line"
    echo "$line" >>"$WORK/workflow.jsonl"
    EXTRA_ENV=(QUIRE_QUOTAS__MAX_WAITING_JOBS=0)
    start_production workflow
    log "workflow: a ${WORKFLOW_ROWS:-2000}-certificate chord with a merge"
    line="$(URL="$URL" KEY="$KEY" ROWS="${WORKFLOW_ROWS:-2000}" python3 - <<'PY'
import json, os, time, urllib.request
url, key, rows = os.environ["URL"], os.environ["KEY"], int(os.environ["ROWS"])
def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)
body = {"name": "bench chord", "steps": [
    {"name": "certificates", "kind": "batch", "batch": {"rows": [
        {"recipient_name": f"Recipient {i:05}", "course_name": "Workflow bench"}
        for i in range(rows)]}},
    {"name": "merged", "kind": "merge", "after": ["certificates"]}]}
started = time.monotonic()
w = call("POST", "/v1/workflows", body)
accepted = time.monotonic() - started
while w["status"] == "running":
    w = call("GET", f"/v1/workflows/{w['id']}?wait=30")
elapsed = time.monotonic() - started
merge = next(s for s in w["steps"] if s["name"] == "merged")["job"]
def ms(job, a, b):
    from datetime import datetime
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    return round((t(job[b]) - t(job[a])) * 1000)
print(json.dumps({"workflow_jobs": w["total"], "status": w["status"],
    "submit_ms": round(accepted * 1000), "seconds": round(elapsed, 1),
    "jobs_per_sec": round(w["total"] / elapsed, 1),
    "merge_ms": ms(merge, "started_at", "finished_at"),
    "merge_pages": (merge.get("result") or {}).get("pages")}))
PY
)"
    echo "$line"
    echo "$line" >>"$WORK/workflow.jsonl"
    stop_servers
    EXTRA_ENV=()
}

# The render ceiling: certificates rendered in-process on every core, no servers.
ceiling_suite() {
    local line
    [[ -x "$CERT_CEILING" ]] || {
        echo "bench/run.sh: $CERT_CEILING missing (build bench, or unset SKIP_BUILD)" >&2
        return 1
    }
    log "ceiling: cert_ceiling --jobs $BURST_JOBS"
    line="$("$CERT_CEILING" --jobs "$BURST_JOBS")"
    echo "$line"
    echo "$line" >>"$WORK/ceiling.jsonl"
}

# The cost of PAdES signing: cert_ceiling unsigned, then signing each PDF (an RSA-2048
# identity made here with openssl, as a worker with signing.identity_file does), one after
# the other in each repetition.
signing_suite() {
    local line dir="$WORK/signing-identity"
    if [[ ! -f "$dir/identity.pem" ]]; then
        mkdir -p "$dir"
        (
            cd "$dir"
            openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 \
                -subj "/CN=bench CA" -addext "basicConstraints=critical,CA:TRUE" 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr \
                -subj "/CN=bench signer" 2>/dev/null
            openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out signer.pem -days 30 2>/dev/null
            cat signer.pem ca.pem signer.key >identity.pem
        )
    fi
    for variant in unsigned signed; do
        log "signing: cert_ceiling --jobs $BURST_JOBS ($variant)"
        if [[ $variant == signed ]]; then
            line="$("$CERT_CEILING" --jobs "$BURST_JOBS" --sign "$dir/identity.pem")"
        else
            line="$("$CERT_CEILING" --jobs "$BURST_JOBS")"
        fi
        echo "$line"
        echo "$line" >>"$WORK/signing.jsonl"
    done
}

# The figures of every repetition and their medians: the render ceiling, each deployment's
# end-to-end rate with the photo as a fraction of the ceiling of its own repetition, the
# serial latency, the worker's peak RSS, and the wrk loads against the API alone.
medians() {
    python3 - "$WORK" <<'PY'
import json, os, statistics, sys
work = sys.argv[1]
def lines(name):
    path = os.path.join(work, name)
    return [json.loads(l) for l in open(path)] if os.path.exists(path) else []
ceilings = [c["renders_per_s"] for c in lines("ceiling.jsonl")]
results, wrk = lines("results.jsonl"), lines("wrk.jsonl")
rows = []
def row(name, values, fmt, goal=""):
    values = [v for v in values if v is not None]
    if values:
        rows.append((name, fmt.format(statistics.median(values)),
                     ", ".join(fmt.format(v) for v in values), goal))
row("render ceiling, certificates/s", ceilings, "{:.1f}")
signing = lines("signing.jsonl")
unsigned = [s for s in signing if not s["signed"]]
signed = [s for s in signing if s["signed"]]
if signed and len(signed) == len(unsigned):
    row("in-process certificates/s, unsigned", [s["renders_per_s"] for s in unsigned], "{:.1f}")
    row("in-process certificates/s, signed (PAdES B-B)", [s["renders_per_s"] for s in signed], "{:.1f}")
    row("signed / unsigned rate", [s["renders_per_s"] / u["renders_per_s"] for s, u in zip(signed, unsigned)], "{:.3f}")
    row("bytes added by the signature", [s["pdf_bytes"] - u["pdf_bytes"] for s, u in zip(signed, unsigned)], "{:.0f}")
for label in dict.fromkeys(r["label"] for r in results if r.get("label")):
    mine = [r for r in results if r.get("label") == label]
    burst = [r for r in mine if r["mode"] == "burst" and r.get("photo")]
    row(f"{label}: burst with photo, end to end /s", [r.get("e2e_per_s") for r in burst], "{:.1f}")
    if len(ceilings) == len(burst):
        row(f"{label}: ... as a fraction of the ceiling",
            [r["e2e_per_s"] / c for r, c in zip(burst, ceilings) if r.get("e2e_per_s")],
            "{:.2f}", ">= 0.50")
    row(f"{label}: burst with photo, worker peak RSS MiB", [r.get("peak_rss_mb") for r in burst], "{:.0f}", "<= 80")
    serial = [r for r in mine if r["mode"] == "serial"]
    row(f"{label}: one at a time, p50 ms", [r.get("e2e_p50_ms") for r in serial], "{:.1f}", "<= 7")
    row(f"{label}: one at a time, p99 ms", [r.get("e2e_p99_ms") for r in serial], "{:.1f}", "<= 10")
    alone = [r for r in mine if r["mode"] == "submit-only"]
    row(f"{label}: submit-only (bench), /s", [r.get("submit_per_s") for r in alone], "{:.0f}")
for label in dict.fromkeys(c["label"] for c in lines("cpu.jsonl")):
    mine = [c for c in lines("cpu.jsonl") if c["label"] == label]
    for role in ("api", "worker", "scheduler", "postgres", "redis", "s3"):
        row(f"{label}: CPU ms per job, {role}", [c.get(f"{role}_ms") for c in mine], "{:.2f}",
            "<= 1.0" if role == "postgres" and label == "production" else "")
    if label in ("production", "embedded"):
        row(f"{label}: CPU ms per job, all processes",
            [sum(v for k, v in c.items() if k.endswith("_ms")) for c in mine], "{:.2f}",
            "<= 7.5" if label == "production" else "")
idle = lines("idle.jsonl")
for role in ("api", "worker", "scheduler", "postgres", "redis"):
    row(f"idle: {role}, % of one core", [i.get(f"{role}_pct") for i in idle], "{:.2f}")
row("idle: all processes, % of one core", [i.get("total_pct") for i in idle], "{:.2f}", "< 1")
for mode in ("burst", "submit-only"):
    on = [r for r in results if r.get("label") == "production-metrics-true" and r["mode"] == mode]
    off = [r for r in results if r.get("label") == "production-metrics-false" and r["mode"] == mode]
    field = "e2e_per_s" if mode == "burst" else "submit_per_s"
    if on and len(on) == len(off):
        row(f"metrics on / off, {mode} /s", [a[field] / b[field] for a, b in zip(on, off)], "{:.3f}", ">= 0.97")
local_files = [r for r in results if r.get("label") == "production-local-files" and r["mode"] == "burst"]
on_s3 = [r for r in results if r.get("label") == "production-s3" and r["mode"] == "burst"]
if local_files and len(local_files) == len(on_s3):
    row("S3 storage / local files, burst with photo end to end",
        [b["e2e_per_s"] / a["e2e_per_s"] for a, b in zip(local_files, on_s3)], "{:.2f}", ">= 0.90")
for how in ("streamed", "presigned"):
    mine = [d for d in lines("download.jsonl") if d["how"] == how]
    row(f"download {mine[0]['mib'] if mine else ''} MiB {how}, MiB/s", [d["mib_per_s"] for d in mine], "{:.0f}")
    row(f"download {how}, API peak RSS MiB", [d["api_peak_rss_mb"] for d in mine], "{:.0f}")
goals = {"submit-photo": (">= 1500", "<= 60"), "submit": (">= 5000", ""), "read": (">= 20000", "<= 10")}
for label in dict.fromkeys(r["label"] for r in wrk):
    for what, (rate_goal, p99_goal) in goals.items():
        mine = [r for r in wrk if r["label"] == label and r["what"] == what]
        row(f"{label}: wrk {what}, /s", [r["per_s"] for r in mine], "{:.0f}", rate_goal)
        row(f"{label}: wrk {what}, p99 ms", [r["p99_ms"] for r in mine], "{:.2f}", p99_goal)
        row(f"{label}: wrk {what}, API peak RSS MiB", [r["api_peak_rss_mb"] for r in mine], "{:.0f}")
        row(f"{label}: wrk {what}, API CPU us per request", [r.get("api_cpu_us_per_request") for r in mine], "{:.0f}", "<= 50" if what == "read" else "")
cached = [r for r in wrk if r["label"] == "verify" and r["what"] == "cached"]
uncached = [r for r in wrk if r["label"] == "verify" and r["what"] == "uncached"]
for what, mine in (("cached", cached), ("uncached", uncached)):
    row(f"verify {what}: wrk /s", [r["per_s"] for r in mine], "{:.0f}")
    row(f"verify {what}: wrk p99 ms", [r["p99_ms"] for r in mine], "{:.2f}")
    row(f"verify {what}: API CPU us per request", [r.get("api_cpu_us_per_request") for r in mine], "{:.0f}")
if cached and len(cached) == len(uncached):
    row("verify: cached / uncached throughput", [a["per_s"] / b["per_s"] for a, b in zip(cached, uncached)], "{:.2f}", ">= 3")
fair = lines("fairness.jsonl")
for label in ("fair", "fifo"):
    mine = [f for f in fair if f["label"] == label]
    row(f"{label}: singles idle p99 ms", [f["singles_idle"]["p99_ms"] for f in mine], "{:.0f}")
    row(f"{label}: singles behind a batch p50 ms", [f["singles_loaded"]["p50_ms"] for f in mine], "{:.0f}")
    row(f"{label}: singles behind a batch p99 ms", [f["singles_loaded"]["p99_ms"] for f in mine], "{:.0f}")
    row(f"{label}: loaded p99 / idle p99", [f["singles_loaded"]["p99_ms"] / f["singles_idle"]["p99_ms"] for f in mine], "{:.2f}", "<= 3" if label == "fair" else "")
    row(f"{label}: key A share while both busy", [f["share_a"] for f in mine], "{:.3f}", "0.4-0.6" if label == "fair" else "")
    row(f"{label}: key A share per second p10", [f["share_a_per_second"]["p10"] for f in mine], "{:.2f}")
    row(f"{label}: key A share per second p90", [f["share_a_per_second"]["p90"] for f in mine], "{:.2f}")
    row(f"{label}: third key's batch row waited ms", [f["third_key_row_wait_ms"] for f in mine], "{:.0f}")
    row(f"{label}: third key's single waited ms", [f["third_key_single_wait_ms"] for f in mine], "{:.0f}")
    row(f"{label}: throughput of two batches /s", [f["throughput_per_s"] for f in mine], "{:.1f}")
    row(f"{label}: scheduled jobs started late p99 ms", [f["scheduled"]["late_p99_ms"] for f in mine], "{:.0f}", "<= 1000")
    row(f"{label}: scheduled jobs started early", [f["scheduled"]["started_early"] for f in mine], "{:.0f}", "0")
    limited = [f["rate_limit"] for f in mine if f.get("rate_limit")]
    row(f"{label}: limited key (100/s) offered 500/s, accepted /s", [r["accepted_per_s"] for r in limited], "{:.1f}", "~100")
    row(f"{label}: limited key's 429s without Retry-After", [r["refused_without_retry_after"] for r in limited], "{:.0f}", "0")
    row(f"{label}: other key p99 ms alone", [r["other_key_alone_p99_ms"] for r in limited], "{:.2f}")
    row(f"{label}: other key p99 ms during the flood", [r["other_key_meanwhile_p99_ms"] for r in limited], "{:.2f}")
hooks = lines("webhooks.jsonl")
if hooks:
    row("webhooks: certificates /s without an endpoint", [h["steady"]["baseline_certificates_per_s"] for h in hooks], "{:.0f}")
    row("webhooks: certificates /s", [h["steady"]["certificates_per_s"] for h in hooks], "{:.0f}")
    row("webhooks: deliveries /s", [h["steady"]["deliveries_per_s"] for h in hooks], "{:.0f}", ">= certs")
    row("webhooks: deliveries / certificates rate", [h["steady"]["deliveries_per_s"] / h["steady"]["certificates_per_s"] for h in hooks], "{:.2f}", ">= 1")
    row("webhooks: finished to received p50 ms", [h["steady"]["finished_to_received_p50_ms"] for h in hooks], "{:.0f}")
    row("webhooks: finished to received p99 ms", [h["steady"]["finished_to_received_p99_ms"] for h in hooks], "{:.0f}")
    row("webhooks: outage, events lost", [h["outage"]["lost"] for h in hooks], "{:.0f}", "0")
    row("webhooks: outage, repeated webhook-ids", [h["outage"]["repeats"] for h in hooks], "{:.0f}")
    row("webhooks: outage, last delivery after return ms", [h["outage"]["last_delivery_after_return_ms"] for h in hooks], "{:.0f}")
    row("?wait=30: requests per job", [h["wait"]["requests_per_job"] for h in hooks], "{:.2f}")
    row("?wait=30: added latency p50 ms", [h["wait"]["added_latency_p50_ms"] for h in hooks], "{:.0f}")
    row("?wait=30: added latency p99 ms", [h["wait"]["added_latency_p99_ms"] for h in hooks], "{:.0f}")
    row("polling 1/s: requests per job", [h["poll"]["requests_per_job"] for h in hooks], "{:.2f}")
    row("polling 1/s: added latency p50 ms", [h["poll"]["added_latency_p50_ms"] for h in hooks], "{:.0f}")
    row("polling 1/s: added latency p99 ms", [h["poll"]["added_latency_p99_ms"] for h in hooks], "{:.0f}")
if fair:
    pairs = [(f, g) for f, g in zip([x for x in fair if x["label"] == "fair"], [x for x in fair if x["label"] == "fifo"])]
    row("fair / fifo throughput", [f["throughput_per_s"] / g["throughput_per_s"] for f, g in pairs], "{:.3f}", ">= 0.95")
if rows:
    w = max(len(r[0]) for r in rows)
    print(f"\n{'measure':<{w}}  {'median':>9}  {'goal':<9}  every repetition")
    for name, median, each, goal in rows:
        print(f"{name:<{w}}  {median:>9}  {goal:<9}  {each}")
PY
}

if suite_on report; then
    report_suite
fi
if ! suite_on jobs && ! suite_on batch && ! suite_on scale && ! suite_on storage \
    && ! suite_on metrics && ! suite_on scrape && ! suite_on fairness && ! suite_on webhooks \
    && ! suite_on dashboard && ! suite_on idle && ! suite_on verify \
    && ! suite_on workflow; then
    for _ in $(seq 1 "$REPS"); do
        if suite_on ceiling; then
            ceiling_suite
        fi
        if suite_on signing; then
            signing_suite
        fi
    done
    medians
    echo
    echo "JSON lines: $WORK/report.jsonl $WORK/ceiling.jsonl"
    exit 0
fi

[[ -x "$QUIRE" && -x "$BENCH" ]] || {
    echo "bench/run.sh: $QUIRE or $BENCH missing (build them, or unset SKIP_BUILD)" >&2
    exit 1
}
command -v curl >/dev/null || {
    echo "bench/run.sh: curl is needed" >&2
    exit 1
}
if (suite_on jobs || suite_on verify) && [[ " $DEPLOYMENTS " == *" production "* ]] \
    && ! command -v wrk >/dev/null; then
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >&2 || {
        echo "bench/run.sh: wrk is needed for the API-alone loads (apt-get install wrk)" >&2
        exit 1
    }
fi

: >"$RESULTS"
# Each repetition measures the ceiling, then every deployment, so each ratio compares
# figures taken minutes apart on the same machine.
for rep in $(seq 1 "$REPS"); do
    log "repetition $rep of $REPS"
    if suite_on ceiling; then
        ceiling_suite
    fi
    if suite_on signing; then
        signing_suite
    fi
    for deployment in $DEPLOYMENTS; do
        case "$deployment" in
            embedded) embedded ;;
            production)
                if suite_on jobs || suite_on batch; then
                    production
                fi
                if suite_on scale; then
                    scale
                fi
                if suite_on storage; then
                    storage_suite
                fi
                if suite_on metrics; then
                    metrics_suite
                fi
                if suite_on scrape && [[ $rep == 1 ]]; then
                    scrape_suite
                fi
                if suite_on fairness; then
                    fairness_suite
                fi
                if suite_on webhooks; then
                    webhooks_suite
                fi
                if suite_on verify; then
                    verify_suite
                fi
                if suite_on dashboard && [[ $rep == 1 ]]; then
                    dashboard_suite
                fi
                if suite_on workflow; then
                    workflow_suite
                fi
                ;;
            *)
                echo "bench/run.sh: unknown deployment $deployment (embedded, production)" >&2
                exit 2
                ;;
        esac
    done
done

log "results ($RESULTS)"
# Only the fairness and webhooks suites write no results of the bench's own.
if [[ -s "$RESULTS" ]]; then
    "$BENCH" --summarize "$RESULTS"
fi
medians
echo
echo "JSON lines: $RESULTS; server logs: $WORK"
