#!/usr/bin/env bash
# Starts deploy/docker-compose.yml for real with podman-compose, on this machine only (no
# registry), and proves the stack works:
#
#   1. installs podman & co. (deploy/podman-lib.sh), the DNS plugin of podman's network backend
#      (compose services find each other by name) and podman-compose (PyPI, pinned) if missing;
#   2. makes the base image localhost/quire-base:bookworm (debootstrap) unless it exists, and
#      builds the quire image from ${QUIRE_BINARY:-target/debug/quire} as
#      deploy/container-test.sh does (same functions, same image);
#   3. builds the stand-ins for the registry images (deploy/compose-local/Containerfile:
#      PostgreSQL, Redis, moto S3 + `mc`), which deploy/compose.local.yml puts in place of
#      postgres:16, redis:7 and MinIO; nothing else of the compose file is overridden;
#   4. `podman-compose -f docker-compose.yml -f compose.local.yml -p quire-compose-<random>
#      up -d --no-build` on a free host port (QUIRE_PORT), with the api's /ready on it; checks
#      that the one-shots migrate and minio-init exited 0 and that every healthcheck passes;
#   5. `podman-compose run -T --rm api keys create --name admin --admin` (the key is the last
#      line; -T: no pseudo-terminal, whose line ends would be \r\n);
#   6. one certificate: POST /v1/certificates -> 202 {"id"}, GET /v1/jobs/{id} until succeeded,
#      GET /v1/jobs/{id}/file -> a PDF whose sha256 is the job's result.sha256;
#   7. `up -d --scale worker=2`: two worker containers running and healthy; then
#      ${QUIRE_COMPOSE_CERTS:-20} more certificates, all succeeded and downloaded as above;
#   8. no two quire containers share a volume (podman inspect), each has a read-only root and a
#      tmpfs /tmp; `podman-compose stop api worker scheduler` (and the extra worker): every
#      quire process exits 0 after SIGTERM (drain);
#   9. `podman-compose down -v --remove-orphans` (orphans: the replica added by --scale, which
#      podman-compose does not remember), and nothing of the project is left (containers, pod,
#      network, volumes). Prints the time of each phase and the total; on failure
#      `podman-compose ps` and the containers' logs, then down -v all the same (unless
#      QUIRE_CT_KEEP=1). The containers' logs stay in deploy/dist/compose-logs/.
#
# podman 4.3 (Debian bookworm) on a host without systemd runs no healthchecks by itself, has no
# `podman wait --condition=healthy`, and mishandles podman-compose's --requires chains through
# one-shots: deploy/compose-local/podman, the podman that podman-compose is given, fills these
# gaps so that depends_on's conditions hold as with docker compose (see its header and
# deploy/README.md).
#
# Usage (as root, which rootful podman needs):
#
#   bash deploy/compose-test.sh
#
# Environment: QUIRE_BINARY (target/debug/quire), QUIRE_CT_BASE_IMAGE
# (localhost/quire-base:bookworm), QUIRE_CT_IMAGE (localhost/quire:container-test, the quire
# image; passed to the compose file as QUIRE_IMAGE), QUIRE_CT_MIRROR, QUIRE_CT_REBUILD_BASE=1
# (see deploy/podman-lib.sh), QUIRE_CT_KEEP=1 (leave the project as it is for inspection),
# QUIRE_COMPOSE_CERTS (20: certificates after scaling), QUIRE_COMPOSE_PORT (host port of the
# api; default: a free one), QUIRE_COMPOSE_UP_TIMEOUT (180 s for each `up`).
set -Eeuo pipefail

LOG_TAG=compose-test
# shellcheck source-path=SCRIPTDIR source=podman-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/podman-lib.sh"
LOGS=$DIST/compose-logs
rm -rf "$LOGS"
mkdir -p "$LOGS"

KEEP=${QUIRE_CT_KEEP:-0}
CERTS=${QUIRE_COMPOSE_CERTS:-20}
[[ $CERTS =~ ^[1-9][0-9]*$ ]] || die "QUIRE_COMPOSE_CERTS must be a positive number, not: $CERTS"
UP_TIMEOUT=${QUIRE_COMPOSE_UP_TIMEOUT:-180}
PODMAN_COMPOSE_VERSION=1.6.0
STANDINS=(postgres redis s3)
QUIRE_SERVICES=(migrate api worker scheduler)
PROJECT=quire-compose-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')

# The compose file's settings: fresh secrets (the password really is checked by PostgreSQL),
# the locally built quire image.
export QUIRE_IMAGE=$IMAGE
POSTGRES_PASSWORD=pg$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
S3_ACCESS_KEY_ID=quire-compose
S3_SECRET_ACCESS_KEY=s3$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
S3_BUCKET=quire-compose
RUST_LOG=info
QUIRE_SECRETS_KEK=$(head -c 32 /dev/urandom | base64)
export POSTGRES_PASSWORD S3_ACCESS_KEY_ID S3_SECRET_ACCESS_KEY S3_BUCKET RUST_LOG QUIRE_SECRETS_KEK

COMPOSE=(podman-compose --podman-path "$DEPLOY/compose-local/podman"
    --podman-run-args "${ULIMITS[*]}" -p "$PROJECT"
    -f "$DEPLOY/docker-compose.yml" -f "$DEPLOY/compose.local.yml")
compose() { # seconds args... (bounded: a wait that never ends fails instead)
    local secs=$1 rc=0
    shift
    timeout --kill-after=10 "$secs" "${COMPOSE[@]}" "$@" || rc=$?
    ((rc != 124)) || echo "$LOG_TAG: podman-compose $* still running after $secs s: stopped" >&2
    return "$rc"
}

containers() { # [service] -> the project's container names, one a line
    local filters=(--filter "label=io.podman.compose.project=$PROJECT")
    [[ -z ${1:-} ]] || filters+=(--filter "label=com.docker.compose.service=$1")
    "${PODMAN[@]}" ps -a "${filters[@]}" --format '{{.Names}}' | sort
}
state() { "${PODMAN[@]}" inspect --format '{{.State.Status}} exit={{.State.ExitCode}}' "$1" 2>/dev/null || echo gone; }

# --- cleanup and failure report -----------------------------------------------------------------

DOWN_DONE=0

dump_logs() {
    mkdir -p "$LOGS"
    local c
    for c in $(containers); do
        "${PODMAN[@]}" logs "$c" >"$LOGS/$c.log" 2>&1 || true
    done
}

report_failure() {
    echo >&2
    echo "$LOG_TAG: ===== FAILED in phase: ${PHASE:-?} =====" >&2
    echo "----- podman-compose ps -----" >&2
    compose 60 ps >&2 2>&1 || true
    local c st lines
    for c in $(containers); do
        st=$(state "$c")
        # A one-shot that succeeded says little; anything else may say why.
        lines=80
        [[ $st != "exited exit=0" ]] || lines=15
        echo "----- logs of $c ($st), last $lines lines -----" >&2
        tail -n "$lines" "$LOGS/$c.log" >&2 2>/dev/null || true
    done
    echo "$LOG_TAG: full logs in $LOGS/" >&2
}

# Whatever of the project is left, by name and label (a failed or interrupted run).
remove_leftovers() {
    local ids v
    ids=$("${PODMAN[@]}" ps -aq --filter "label=io.podman.compose.project=$PROJECT" 2>/dev/null)
    # shellcheck disable=SC2086 # one id per word
    [[ -z $ids ]] || "${PODMAN[@]}" rm -f -t 0 $ids >/dev/null 2>&1
    "${PODMAN[@]}" pod rm -f "pod_$PROJECT" >/dev/null 2>&1
    for v in $("${PODMAN[@]}" volume ls -q --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null); do
        "${PODMAN[@]}" volume rm -f "$v" >/dev/null 2>&1
    done
    "${PODMAN[@]}" network rm -f "${PROJECT}_default" >/dev/null 2>&1
}

cleanup() {
    local rc=$?
    trap - EXIT ERR
    set +e
    dump_logs
    ((rc == 0)) || report_failure
    if [[ $KEEP == 1 ]]; then
        log "QUIRE_CT_KEEP=1: kept project $PROJECT as it is (api at ${API_URL:-?}); remove it with:"
        log "  cd $DEPLOY && ${COMPOSE[*]@Q} down -v --remove-orphans"
    elif ((DOWN_DONE == 0)); then
        local t
        t=$(date +%s.%N)
        compose 180 down -v --remove-orphans -t 10 >"$LOGS/down.log" 2>&1 || log "podman-compose down -v failed (see $LOGS/down.log)"
        remove_leftovers
        log "down -v in $(elapsed "$t" "$(date +%s.%N)") s"
    fi
    log "total $(elapsed "$T0" "$(date +%s.%N)") s, exit status $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "$LOG_TAG: ERROR: \`$BASH_COMMAND\` failed (exit $?) at line $LINENO" >&2' ERR

# --- 1. tools -----------------------------------------------------------------------------------

phase "tools (podman, DNS plugin, podman-compose $PODMAN_COMPOSE_VERSION)"
podman_tools iptables:iptables
# Name resolution on the compose network: dnsname with CNI, aardvark-dns with netavark.
backend=$("${PODMAN[@]}" info --format '{{.Host.NetworkBackend}}')
case $backend in
cni) podman_tools golang-github-containernetworking-plugin-dnsname ;;
netavark) podman_tools aardvark-dns ;;
*) die "unknown podman network backend: $backend" ;;
esac
podman_compose_ok() {
    [[ $(podman-compose --version 2>/dev/null | head -n 1) == "podman-compose version $PODMAN_COMPOSE_VERSION" ]]
}
if ! podman_compose_ok; then
    log "python3 -m pip install podman-compose==$PODMAN_COMPOSE_VERSION"
    # Debian's own python3 refuses pip installs (PEP 668) without the override; a test machine.
    pip_out=$(python3 -m pip install -q "podman-compose==$PODMAN_COMPOSE_VERSION" 2>&1) ||
        pip_out=$(python3 -m pip install -q --break-system-packages \
            "podman-compose==$PODMAN_COMPOSE_VERSION" 2>&1) ||
        die "pip install podman-compose==$PODMAN_COMPOSE_VERSION failed: $pip_out"
    hash -r
    podman_compose_ok || die "podman-compose $PODMAN_COMPOSE_VERSION installed but \`podman-compose --version\` says: $(podman-compose --version 2>&1 | head -n 1)"
fi
log "$(podman-compose --version 2>/dev/null | head -n 1), podman $(podman --version | awk '{ print $NF }'), network backend $backend"

# --- 2. images ----------------------------------------------------------------------------------

ensure_base_image

phase "quire image (strip binary, podman build --target prebuilt)"
build_quire_image

phase "stand-in images (PostgreSQL, Redis, moto S3; cached once built)"
# pip inside the s3 build trusts what this host trusts (see the Containerfile).
ca_mount=()
[[ ! -s /etc/ssl/certs/ca-certificates.crt ]] ||
    ca_mount=(--volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro)
for standin in "${STANDINS[@]}"; do
    if ! "${PODMAN[@]}" build -f "$DEPLOY/compose-local/Containerfile" --target "$standin" \
        --build-arg "BASE=$BASE_IMAGE" --network host "${ULIMITS[@]}" "${ca_mount[@]}" \
        -t "localhost/quire-standin-$standin:latest" "$DEPLOY/compose-local" \
        >"$LOGS/build-standin-$standin.log" 2>&1; then
        tail -n 40 "$LOGS/build-standin-$standin.log" >&2
        die "podman build of the $standin stand-in failed (see above)"
    fi
    log "localhost/quire-standin-$standin:latest: $("${PODMAN[@]}" image inspect --format '{{.Size}}' "localhost/quire-standin-$standin:latest") bytes"
done

# --- 3. up --------------------------------------------------------------------------------------

phase "up -d (stand-ins healthy, one-shots, api, worker, scheduler)"
PORT=${QUIRE_COMPOSE_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')}
API_URL=http://127.0.0.1:$PORT
export QUIRE_PORT=$PORT QUIRE_PUBLIC_BASE_URL=$API_URL
log "project $PROJECT, api on host port $PORT, image $QUIRE_IMAGE"
cd "$DEPLOY"
compose "$UP_TIMEOUT" up -d --no-build >"$LOGS/up.log" 2>&1 || {
    tail -n 30 "$LOGS/up.log" >&2
    die "podman-compose up -d failed (its output above, all of it in $LOGS/up.log)"
}

deadline=$((SECONDS + 120))
until curl -fsS -o /dev/null --max-time 3 "$API_URL/ready" 2>/dev/null; do
    ((SECONDS < deadline)) ||
        die "the api is not ready at $API_URL/ready after 120 s: $(curl -sS --max-time 3 "$API_URL/ready" 2>&1)"
    sleep 0.5
done
log "api ready: $API_URL/ready says $(curl -fsS --max-time 3 "$API_URL/ready")"

phase "one-shots exited 0, every healthcheck passes"
# service_completed_successfully: the one-shots ran to exit 0 (the podman wrapper already
# stops `up` on a non-zero exit).
for service in minio-init migrate; do
    for c in $(containers "$service"); do
        st=$(state "$c")
        [[ $st == "exited exit=0" ]] || die "$service ($c) is $st, expected exited exit=0"
    done
    log "$service: exited 0"
done
# Every healthcheck of the compose file, run in its container (podman's systemd timer would
# run them; there is no systemd here). Workers and scheduler are ready once they consume.
healthy() { # service...
    local service c deadline
    for service in "$@"; do
        for c in $(containers "$service"); do
            deadline=$((SECONDS + 60))
            until "${PODMAN[@]}" healthcheck run "$c" >/dev/null 2>&1; do
                ((SECONDS < deadline)) || die "$c: healthcheck still failing after 60 s ($(state "$c"))"
                sleep 1
            done
            log "$c: healthy"
        done
    done
}
healthy postgres redis minio api worker scheduler
WORKERS_AT_UP=$(containers worker)
# deploy.replicas: 2 (podman-compose 1.6 honours it because deploy.mode: replicated is written out).
(($(wc -l <<<"$WORKERS_AT_UP") == 2)) || die "expected 2 worker containers after up, found: ${WORKERS_AT_UP//$'\n'/ }"
log "2 worker containers after up"

# --- 4. key, one certificate --------------------------------------------------------------------

phase "keys create (podman-compose run -T --rm api)"
compose 180 run -T --rm api keys create --name admin --admin </dev/null \
    >"$LOGS/keys.stdout" 2>"$LOGS/keys.stderr" || {
    tail -n 30 "$LOGS/keys.stderr" >&2
    die "podman-compose run -T --rm api keys create failed (its stderr above)"
}
ADMIN_KEY=$(tail -n 1 "$LOGS/keys.stdout")
[[ $ADMIN_KEY == qk_* ]] || die "keys create printed no key on its last line: ${ADMIN_KEY:0:40}"
log "admin key created (${ADMIN_KEY:0:8}...)"

# certificates COUNT: submits COUNT certificates, waits until each job succeeded (120 s), and
# downloads each file: 200, a PDF, sha256 and size as the job's result says.
certificates() {
    python3 - "$API_URL" "$ADMIN_KEY" "$1" <<'EOF'
import hashlib, json, sys, time, urllib.error, urllib.request
from concurrent.futures import ThreadPoolExecutor

api, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])


def request(method, path, body=None):
    headers = {"Authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(api + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def submit(i):
    name = "Compose Person" if count == 1 else f"Compose Person {i + 1}"
    status, body = request("POST", "/v1/certificates", {
        "recipient_name": name, "course_name": "Containers", "issuer_name": "Quire",
        "issued_on": "2026-11-21"})
    if status != 202:
        raise RuntimeError(f"POST /v1/certificates: HTTP {status}, expected 202: {body[:300]!r}")
    return json.loads(body)["id"]


def download(job):
    status, data = request("GET", f"/v1/jobs/{job['id']}/file")
    sha = hashlib.sha256(data).hexdigest()
    result = job["result"]
    if status != 200 or not data.startswith(b"%PDF-") or sha != result["sha256"] \
            or ("bytes" in result and len(data) != result["bytes"]):
        raise RuntimeError(f"GET /v1/jobs/{job['id']}/file: HTTP {status}, {len(data)} bytes, "
                           f"sha256 {sha}, starts {data[:5]!r}; the job says {result}")
    return len(data)


try:
    t0 = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(submit, range(count)))
        print(f"  {count} submitted: 202 with an id")
        jobs, deadline = {}, time.monotonic() + 120
        while len(jobs) < count:
            for job_id in [i for i in ids if i not in jobs]:
                status, body = request("GET", f"/v1/jobs/{job_id}")
                if status != 200:
                    raise RuntimeError(f"GET /v1/jobs/{job_id}: HTTP {status}: {body[:300]!r}")
                job = json.loads(body)
                if job["status"] == "succeeded":
                    jobs[job_id] = job
                elif job["status"] in ("dead", "cancelled"):
                    raise RuntimeError(f"job {job_id} is {job['status']}: {job.get('error')}")
            if len(jobs) < count and time.monotonic() > deadline:
                raise RuntimeError(f"{count - len(jobs)} of {count} jobs not succeeded after 120 s")
            time.sleep(0.3)
        print(f"  {count} succeeded in {time.monotonic() - t0:.1f} s")
        sizes = list(pool.map(download, jobs.values()))
    print(f"  {count} downloaded: PDFs, sha256 = result.sha256 ({sum(sizes)} bytes)")
except (RuntimeError, OSError, KeyError, ValueError) as e:
    print(f"compose-test: ERROR: {e}", file=sys.stderr)
    sys.exit(1)
EOF
}

phase "one certificate (POST, poll until succeeded, download, sha256)"
certificates 1 || die "the certificate through the compose stack failed (see above)"

# --- 5. scale -----------------------------------------------------------------------------------

phase "up -d --scale worker=2, then $CERTS certificates"
compose "$UP_TIMEOUT" up -d --no-build --scale worker=2 >"$LOGS/up-scale.log" 2>&1 || {
    tail -n 30 "$LOGS/up-scale.log" >&2
    die "podman-compose up -d --scale worker=2 failed (see above)"
}
running=$("${PODMAN[@]}" ps --filter "label=io.podman.compose.project=$PROJECT" \
    --filter label=com.docker.compose.service=worker --format '{{.Names}}' | sort)
(($(wc -l <<<"$running") == 2)) || die "expected 2 running worker containers, found: ${running//$'\n'/ }"
healthy worker
curl -fsS -o /dev/null --max-time 3 "$API_URL/ready" || die "the api is not ready after scaling"
certificates "$CERTS" || die "$CERTS certificates with 2 workers failed (see above)"
for c in $running; do
    n=$("${PODMAN[@]}" logs "$c" 2>&1 | grep '"job succeeded"' | grep -c '"kind":"certificate"' || true)
    log "$c: $n certificate jobs succeeded here (from its log)"
done

# --- 6. isolation, graceful stop ----------------------------------------------------------------

phase "no shared volume, read-only roots, tmpfs /tmp; stop quire (exit 0)"
declare -A owner=()
for service in "${QUIRE_SERVICES[@]}"; do
    for c in $(containers "$service"); do
        # Volumes and bind mounts (tmpfs mounts are the container's own).
        mounts=$("${PODMAN[@]}" inspect --format '{{range .Mounts}}{{if ne .Type "tmpfs"}}{{.Type}}:{{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}} {{end}}{{end}}' "$c")
        for m in $mounts; do
            [[ -z ${owner[$m]:-} ]] || die "$c and ${owner[$m]} share the volume $m"
            owner[$m]=$c
        done
        ro=$("${PODMAN[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' "$c")
        [[ $ro == true ]] || die "$c: the root filesystem is not read-only"
        # shellcheck disable=SC2016 # a Go template, not shell
        tmpfs=$("${PODMAN[@]}" inspect --format '{{range $k, $v := .HostConfig.Tmpfs}}{{$k}} {{end}}' "$c")
        [[ " $tmpfs " == *" /tmp "* ]] || die "$c: no tmpfs at /tmp (tmpfs: ${tmpfs:-none})"
        log "$c: read-only root, tmpfs /tmp, mounts: ${mounts:-none}"
    done
done
for service in postgres redis minio; do
    c=$(containers "$service")
    log "$c: $("${PODMAN[@]}" inspect --format '{{range .Mounts}}{{.Type}} {{.Name}} at {{.Destination}} {{end}}' "$c")"
done

# The quire services first, as docker compose stops dependents before what they depend on:
# podman-compose 1.6 stops every container at once, and a worker that loses Redis before its
# SIGTERM fails (exit 1). It also keeps no record of --scale: `stop` (and `down`, but for
# --remove-orphans) knows the replicas the file declares only, so the extra worker is stopped
# by hand, at the same time.
extra=()
for c in $(containers worker); do
    grep -qFx "$c" <<<"$WORKERS_AT_UP" || extra+=("$c")
done
stop_extra=
if ((${#extra[@]})); then
    log "stopping ${extra[*]} (added by --scale) with podman stop -t 45"
    "${PODMAN[@]}" stop -t 45 "${extra[@]}" >"$LOGS/stop-extra.log" 2>&1 &
    stop_extra=$!
fi
compose 180 stop api worker scheduler >"$LOGS/stop.log" 2>&1 || {
    tail -n 30 "$LOGS/stop.log" >&2
    die "podman-compose stop api worker scheduler failed (see above)"
}
[[ -z $stop_extra ]] || wait "$stop_extra" || die "podman stop ${extra[*]} failed: $(cat "$LOGS/stop-extra.log")"
for service in api worker scheduler; do
    for c in $(containers "$service"); do
        st=$(state "$c")
        [[ $st == "exited exit=0" ]] || die "$c is $st after SIGTERM, expected exit 0"
        # (Into a file first: `podman logs | grep -q` fails under pipefail by SIGPIPE.)
        "${PODMAN[@]}" logs "$c" >"$LOGS/$c.log" 2>&1
        grep -q 'shutdown requested; finishing in-flight work' "$LOGS/$c.log" ||
            die "$c: its log does not show the drain ('shutdown requested; finishing in-flight work')"
    done
done
log "api, workers, scheduler: exit 0 after SIGTERM, drain logged"

# --- 7. down ------------------------------------------------------------------------------------

phase "down -v --remove-orphans (nothing left)"
dump_logs
if [[ $KEEP == 1 ]]; then
    log "QUIRE_CT_KEEP=1: not taking the stack down"
else
    DOWN_DONE=1
    compose 180 down -v --remove-orphans >"$LOGS/down.log" 2>&1 || {
        tail -n 30 "$LOGS/down.log" >&2
        remove_leftovers
        die "podman-compose down -v --remove-orphans failed (see above)"
    }
    left=$(
        containers
        "${PODMAN[@]}" pod ls --format '{{.Name}}' | { grep -Fx "pod_$PROJECT" || true; }
        "${PODMAN[@]}" volume ls -q | { grep -F "${PROJECT}_" || true; }
        "${PODMAN[@]}" network ls --format '{{.Name}}' | { grep -F "$PROJECT" || true; }
    )
    if [[ -n $left ]]; then
        remove_leftovers
        die "podman-compose down -v left: ${left//$'\n'/ }"
    fi
    log "containers, pod, network and volumes of $PROJECT removed"
fi

phase ""
echo
echo "compose-test: PASSED"
print_phases
echo "  total: $(elapsed "$T0" "$(date +%s.%N)") s"
