#!/usr/bin/env bash
# The production layout in real containers, with podman, on this machine only (no registry):
#
#   1. installs podman, runc, debootstrap (and curl) with apt-get if missing;
#   2. makes the base image localhost/quire-base:bookworm with `debootstrap --variant=minbase`
#      (plus ca-certificates) and `podman import`, unless it exists already;
#   3. strips a copy of the binary ${QUIRE_BINARY:-target/debug/quire} into deploy/dist/quire
#      and builds deploy/Dockerfile's `prebuilt` target on that base;
#   4. makes a fresh PostgreSQL database (postgres://postgres@127.0.0.1:5432), a random Redis
#      namespace (127.0.0.1:6379) and an S3 bucket on the moto server (127.0.0.1:5055), all
#      made sure of by deploy/test-services.sh;
#   5. runs `quire migrate` and `quire keys create --admin` (one-shot containers), then the
#      containers api, worker-1, worker-2 and scheduler: host network, configured by
#      environment only, no volume at all (files go to S3);
#   6. submits 500 certificates with a JPEG photo, a 1,000-row CSV batch and a report
#      (deploy/container_client.py), `podman kill`s worker-1 once 200 certificates succeeded, and
#      checks: every job succeeded (API and jobs table, result files unique), every file
#      downloads with the row's sha256, the batch ZIP (1,000 PDFs + manifest.csv, sha256s), every
#      result object is in the bucket, the `health` schedule ticked and its job succeeded, and
#      `podman stop` of the api (then worker-2 and scheduler) exits 0 after its drain;
#   7. prints the time of each phase, the total and the image size; on failure, the state and
#      logs of the containers. Containers, bucket, database and Redis keys are removed on exit
#      (QUIRE_CT_KEEP=1 keeps them); the containers' logs are kept in deploy/dist/logs/.
#
# Usage (from anywhere; as root, which rootful podman needs):
#
#   bash deploy/container-test.sh
#
# Environment: QUIRE_BINARY (target/debug/quire; relative to the repository root or absolute),
# QUIRE_CT_CERTS (500), QUIRE_CT_BATCH_ROWS (1000), QUIRE_CT_KILL_AT (200),
# QUIRE_CT_BASE_IMAGE (localhost/quire-base:bookworm), QUIRE_CT_IMAGE
# (localhost/quire:container-test), QUIRE_CT_MIRROR (the Debian mirror apt uses, else
# http://deb.debian.org/debian), QUIRE_CT_REBUILD_BASE=1 (make the base image again),
# QUIRE_CT_KEEP=1 (leave containers, bucket, database for inspection), QUIRE_CT_ENV (more
# settings for every container: space-separated NAME=VALUE).
set -Eeuo pipefail

LOG_TAG=container-test
# shellcheck source-path=SCRIPTDIR source=podman-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/podman-lib.sh"

CERTS=${QUIRE_CT_CERTS:-500}
BATCH_ROWS=${QUIRE_CT_BATCH_ROWS:-1000}
KILL_AT=${QUIRE_CT_KILL_AT:-200}
KEEP=${QUIRE_CT_KEEP:-0}

PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
REDIS_URL=redis://127.0.0.1:6379
S3_ENDPOINT=http://127.0.0.1:5055

RUN_ID=$(date +%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NAME=quire-ct-$RUN_ID # containers, bucket, Redis namespace
DB_NAME=quire_ct_${RUN_ID//-/_}
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB_NAME
# The key that seals stored secrets, the same for every container (PostgreSQL wants one).
SECRETS_KEK=$(head -c 32 /dev/urandom | base64)
BUCKET=$NAME
NAMESPACE=$NAME

# --- cleanup and failure report -----------------------------------------------------------------

CONTAINERS=()    # role names started so far
FAILED_ROLE=     # the container a failing step is about, if one
DB_CREATED=0
BUCKET_CREATED=0

cname() { echo "$NAME-$1"; }

dump_logs() {
    mkdir -p "$LOGS"
    local role
    for role in "${CONTAINERS[@]}"; do
        "${PODMAN[@]}" logs "$(cname "$role")" >"$LOGS/$role.log" 2>&1 || true
    done
}

report_failure() {
    echo >&2
    echo "container-test: ===== FAILED in phase: ${PHASE:-?} =====" >&2
    "${PODMAN[@]}" ps -a --filter "label=quire-container-test=$RUN_ID" \
        --format '{{.Names}}  {{.Status}}' >&2 2>/dev/null || true
    local role state
    for role in "${CONTAINERS[@]}"; do
        state=$("${PODMAN[@]}" inspect --format '{{.State.Status}} exit={{.State.ExitCode}}' \
            "$(cname "$role")" 2>/dev/null || echo gone)
        # The container the step was about, and every one that stopped, get their logs.
        if [[ $role == "$FAILED_ROLE" || $state != running* ]]; then
            echo "----- logs of $role ($state), last 150 lines -----" >&2
            tail -n 150 "$LOGS/$role.log" >&2 2>/dev/null || true
        else
            echo "----- logs of $role ($state), last 20 lines -----" >&2
            tail -n 20 "$LOGS/$role.log" >&2 2>/dev/null || true
        fi
    done
    echo "container-test: full logs in $LOGS/" >&2
}

cleanup() {
    local rc=$?
    trap - EXIT ERR
    set +e
    dump_logs
    ((rc == 0)) || report_failure
    if [[ $KEEP == 1 ]]; then
        log "QUIRE_CT_KEEP=1: kept containers ($NAME-*), bucket $BUCKET, database $DB_NAME, Redis namespace $NAMESPACE"
    else
        local ids t
        t=$(date +%s.%N)
        ids=$("${PODMAN[@]}" ps -aq --filter "label=quire-container-test=$RUN_ID" 2>/dev/null)
        # shellcheck disable=SC2086 # one id per word
        [[ -z $ids ]] || "${PODMAN[@]}" rm -f -t 0 $ids >/dev/null 2>&1
        if ((BUCKET_CREATED)); then
            python3 "$DEPLOY/container_client.py" drop-bucket --s3-endpoint "$S3_ENDPOINT" \
                --bucket "$BUCKET" >/dev/null 2>&1 || log "could not drop bucket $BUCKET"
        fi
        if ((DB_CREATED)); then
            psql -X -q -w "$PG_ADMIN_URL" -c "drop database if exists \"$DB_NAME\" with (force)" \
                >/dev/null 2>&1 || log "could not drop database $DB_NAME"
        fi
        redis-cli -u "$REDIS_URL" --scan --pattern "$NAMESPACE*" 2>/dev/null |
            xargs -r -n 500 redis-cli -u "$REDIS_URL" del >/dev/null 2>&1
        log "cleaned up in $(elapsed "$t" "$(date +%s.%N)") s: containers, bucket $BUCKET, database $DB_NAME, Redis namespace $NAMESPACE"
    fi
    log "total $(elapsed "$T0" "$(date +%s.%N)") s, exit status $rc"
    exit "$rc"
}
trap cleanup EXIT
# Any unexpected failure names its command and line (then cleanup reports the containers).
trap 'echo "container-test: ERROR: \`$BASH_COMMAND\` failed (exit $?) at line $LINENO" >&2' ERR

# --- 1. tools -----------------------------------------------------------------------------------

phase "tools (podman, runc, debootstrap)"
# shellcheck disable=SC2119 # no packages beyond the usual ones
podman_tools

# --- 2. base image ------------------------------------------------------------------------------

ensure_base_image

# --- 3. image -----------------------------------------------------------------------------------

phase "image (strip binary, podman build --target prebuilt)"
build_quire_image

# --- 4. services, database, bucket --------------------------------------------------------------

phase "services, database, bucket"
bash "$DEPLOY/test-services.sh" >"$LOGS/test-services.log" 2>&1 || {
    cat "$LOGS/test-services.log" >&2
    die "deploy/test-services.sh failed"
}
psql -X -q -w "$PG_ADMIN_URL" -c "create database \"$DB_NAME\"" >/dev/null
DB_CREATED=1
curl -fsS -X PUT "$S3_ENDPOINT/$BUCKET" >/dev/null || die "cannot create bucket $BUCKET at $S3_ENDPOINT"
BUCKET_CREATED=1
read -r API_PORT W1_PORT W2_PORT SCHED_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')
API_URL=http://127.0.0.1:$API_PORT
log "database $DB_NAME, bucket $BUCKET, Redis namespace $NAMESPACE, api port $API_PORT, health ports $W1_PORT $W2_PORT $SCHED_PORT"

# Every container: host network (the services are on the host's loopback), settings from the
# environment only, no volume.
ENV_ARGS=(
    -e "DATABASE_URL=$DATABASE_URL"
    -e "REDIS_URL=$REDIS_URL"
    -e "QUIRE_SECRETS__KEK=$SECRETS_KEK"
    -e "QUIRE_REDIS_NAMESPACE=$NAMESPACE"
    -e "QUIRE_STORAGE_URL=s3://$BUCKET/files"
    -e "QUIRE_S3__ENDPOINT=$S3_ENDPOINT"
    -e QUIRE_S3__ALLOW_HTTP=true
    -e QUIRE_S3__REGION=us-east-1
    -e QUIRE_S3__ACCESS_KEY_ID=test
    -e QUIRE_S3__SECRET_ACCESS_KEY=test
    -e "QUIRE_BIND=127.0.0.1:$API_PORT"
    -e "QUIRE_PUBLIC_BASE_URL=$API_URL"
    # A killed worker's running jobs come back after 10 s instead of the default 60 s.
    -e QUIRE_RESCUE__LEASE_SECS=10
    -e RUST_LOG=info
    -e NO_COLOR=1
)
# More settings for every container, e.g. QUIRE_CT_ENV="QUIRE_QUEUES__CERTIFICATES__CONCURRENCY=8".
for kv in ${QUIRE_CT_ENV:-}; do
    ENV_ARGS+=(-e "$kv")
done
run_args() { # role
    echo --name "$(cname "$1")" --label "quire-container-test=$RUN_ID" --network host \
        --log-driver k8s-file
}

oneshot() { # role args... (stdout to $LOGS/role.stdout)
    local role=$1 rc=0
    shift
    CONTAINERS+=("$role")
    FAILED_ROLE=$role
    # shellcheck disable=SC2046 # run_args: plain words
    "${PODMAN[@]}" run $(run_args "$role") "${ULIMITS[@]}" "${ENV_ARGS[@]}" "$IMAGE" "$@" \
        >"$LOGS/$role.stdout" 2>"$LOGS/$role.stderr" || rc=$?
    if ((rc != 0)); then
        tail -n 30 "$LOGS/$role.stderr" >&2
        die "\`quire $*\` exited $rc (its stderr above)"
    fi
    FAILED_ROLE=
}

start() { # role args...
    local role=$1
    shift
    CONTAINERS+=("$role")
    FAILED_ROLE=$role
    # shellcheck disable=SC2046
    "${PODMAN[@]}" run -d $(run_args "$role") "${ULIMITS[@]}" "${ENV_ARGS[@]}" "$@" >/dev/null ||
        die "podman run $role failed"
    FAILED_ROLE=
}

wait_ready() { # role url
    local role=$1 url=$2 deadline=$((SECONDS + 60)) state
    FAILED_ROLE=$role
    until curl -fsS -o /dev/null --max-time 3 "$url" 2>/dev/null; do
        state=$("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$(cname "$role")")
        [[ $state == running ]] || die "$role is $state before answering $url"
        ((SECONDS < deadline)) || die "$role: $url not ready after 60 s: $(curl -sS --max-time 3 "$url" 2>&1)"
        sleep 0.2
    done
    FAILED_ROLE=
    log "$role ready ($url)"
}

# --- 5. migrate, key, roles ---------------------------------------------------------------------

phase "migrate + admin key (one-shot containers)"
oneshot migrate migrate
oneshot keys keys create --name admin --admin
ADMIN_KEY=$(tail -n 1 "$LOGS/keys.stdout")
[[ $ADMIN_KEY == qk_* ]] || die "keys create printed no key on its last line: ${ADMIN_KEY:0:40}"

phase "start api, worker-1, worker-2, scheduler (until /ready)"
start api "$IMAGE" api
start worker-1 -e "QUIRE_HEALTH_BIND=127.0.0.1:$W1_PORT" "$IMAGE" worker
start worker-2 -e "QUIRE_HEALTH_BIND=127.0.0.1:$W2_PORT" "$IMAGE" worker
start scheduler -e "QUIRE_HEALTH_BIND=127.0.0.1:$SCHED_PORT" "$IMAGE" scheduler
wait_ready api "$API_URL/ready"
wait_ready worker-1 "http://127.0.0.1:$W1_PORT/ready"
wait_ready worker-2 "http://127.0.0.1:$W2_PORT/ready"
wait_ready scheduler "http://127.0.0.1:$SCHED_PORT/ready"

# --- 6. load, kill, checks ----------------------------------------------------------------------

phase "load ($CERTS certificates, batch $BATCH_ROWS, report; kill worker-1) + checks"
python3 "$DEPLOY/container_client.py" load --api "$API_URL" --key "$ADMIN_KEY" \
    --database-url "$DATABASE_URL" --s3-endpoint "$S3_ENDPOINT" --bucket "$BUCKET" \
    --s3-prefix files --certs "$CERTS" --batch-rows "$BATCH_ROWS" --kill-at "$KILL_AT" \
    --kill-cmd "${PODMAN[*]} kill $(cname worker-1)" --out "$LOGS/result.json" ||
    die "load or checks failed (see above)"

w1=$("${PODMAN[@]}" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$(cname worker-1)")
[[ $w1 == "exited 137" ]] || die "worker-1 should have been killed (exited 137), it is: $w1"
for role in api worker-2 scheduler; do
    state=$("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$(cname "$role")")
    [[ $state == running ]] || {
        FAILED_ROLE=$role
        die "$role is $state after the load"
    }
done
log "worker-1 killed (exit 137); api, worker-2, scheduler still running"

phase "scheduler: health schedule ticked and ran"
FAILED_ROLE=scheduler
python3 "$DEPLOY/container_client.py" schedules --api "$API_URL" --key "$ADMIN_KEY" --name health \
    --timeout 90 ||
    die "the health schedule did not run"
FAILED_ROLE=

phase "graceful stop (api with a download in flight, worker-2, scheduler)"
# A slow client is downloading the batch archive (about 34 MB at 4 MB/s) when the api gets
# SIGTERM: the drain must let it finish whole.
BATCH_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["batch_id"])' "$LOGS/result.json")
curl -fsS --limit-rate 4M -o "$LOGS/archive-during-stop.zip" -H "Authorization: Bearer $ADMIN_KEY" \
    "$API_URL/v1/batches/$BATCH_ID/archive" 2>"$LOGS/archive-during-stop.err" &
download=$!
sleep 1.5
for role in api worker-2 scheduler; do
    FAILED_ROLE=$role
    stop_t=$(date +%s.%N)
    "${PODMAN[@]}" stop -t 45 "$(cname "$role")" >/dev/null
    if [[ $role == api ]]; then
        log "api stopped $(elapsed "$stop_t" "$(date +%s.%N)") s after SIGTERM"
        wait "$download" || die "the download in flight failed when the api stopped: $(cat "$LOGS/archive-during-stop.err")"
        python3 - "$LOGS/archive-during-stop.zip" "$BATCH_ROWS" <<'EOF' || die "the archive downloaded during the stop is not whole"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None, "a corrupt member"
assert len(z.namelist()) == int(sys.argv[2]) + 1, len(z.namelist())
EOF
        log "the archive download in flight at SIGTERM completed whole ($(stat -c %s "$LOGS/archive-during-stop.zip") bytes, CRCs checked)"
        rm -f "$LOGS/archive-during-stop.zip"
    fi
    code=$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' "$(cname "$role")")
    ((code == 0)) || die "$role exited $code after podman stop (SIGTERM)"
    # (The log into a file first: `podman logs | grep -q` fails under pipefail by SIGPIPE.)
    "${PODMAN[@]}" logs "$(cname "$role")" >"$LOGS/$role.log" 2>&1
    grep -q 'shutdown requested; finishing in-flight work' "$LOGS/$role.log" ||
        die "$role's log does not show the drain ('shutdown requested; finishing in-flight work')"
    log "$role: exit 0 after SIGTERM, drain logged"
done
FAILED_ROLE=
tail -n 3 "$LOGS/api.log" | sed 's/^/  api log: /'

phase ""
echo
echo "container-test: PASSED"
print_phases
python3 - "$LOGS/result.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  jobs succeeded: {r['jobs_succeeded']} ({r['certificates']} certificates, "
      f"{r['batch_rows']} batch rows, {r['reports']} report); attempts {r['attempts']}; "
      f"worker-1 killed at {r['worker_killed_at_s']} s into the load")
print(f"  downloads checked: {r['downloads_checked']}; archive: {r['archive_pdfs']} PDFs "
      f"+ manifest.csv, {r['archive_bytes']} bytes; bucket objects: {r['bucket_objects']} "
      f"({len(r['unreferenced_objects'])} not referenced by a row: {r['unreferenced_objects'][:3]})")
EOF
echo "  image $IMAGE: $IMAGE_SIZE bytes ($((IMAGE_SIZE / 1000000)) MB)"
echo "  total: $(elapsed "$T0" "$(date +%s.%N)") s"
