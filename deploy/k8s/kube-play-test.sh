#!/usr/bin/env bash
# Runs the Kubernetes manifests of deploy/k8s/ with `podman kube play` on this machine, as far
# as podman (4.3, Debian bookworm) can: the migrate Job's pod, then the api, worker and
# scheduler Deployments (one pod each), with the ConfigMap (--configmap) and the Secret (as a
# podman secret), against the host's PostgreSQL, Redis and S3 (moto) server; then submits a
# certificate, downloads its PDF and checks what the pods run with (read-only root, uid
# 10001, no capabilities, memory/CPU limits, scratch volumes); then `podman kube down`.
#
#   bash deploy/k8s/kube-play-test.sh     (after deploy/container-test.sh built the image)
#
# What is changed for podman, in a rendered copy under deploy/dist/kube-play/ (the manifests
# themselves stay as Kubernetes wants them):
#   - the Job becomes a Pod (kube play in podman 4.3 plays Pods, Deployments and PVCs only; it
#     ignores Services and has no Secret kind: the Secret becomes a podman secret, whose
#     content kube play wants as a JSON map of base64 values);
#   - hostNetwork, and no `ports` (the services are on the host's loopback; podman refuses
#     port mappings with the host network), probe ports numeric; each role gets free ports;
#   - the image is the local one, imagePullPolicy Never;
#   - emptyDir volumes get names unique per pod: podman 4.3 turns an emptyDir into a *named*
#     volume called after the volume, so `tmp` and `data` would otherwise be one volume shared
#     by every pod.
# What podman does not do and this test therefore does not show: readiness and startup probes
# (ignored), liveness probes run only by systemd timers (none here; `podman healthcheck run`
# runs one by hand, and fails: podman runs httpGet probes as `curl` inside the container,
# and the image has no curl; the kubelet does the GET itself), terminationGracePeriodSeconds
# (podman stops with its own 10 s), Services. Replicas are set to 1 in the copy: podman plays
# each replica as a pod, and on the host network two workers would want one health port.
#
# Environment: QUIRE_CT_IMAGE (localhost/quire:container-test), QUIRE_CT_KEEP=1 (leave it all).
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")
IMAGE=${QUIRE_CT_IMAGE:-localhost/quire:container-test}
KEEP=${QUIRE_CT_KEEP:-0}
PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres
S3_ENDPOINT=http://127.0.0.1:5055
RUN_ID=$(date +%H%M%S)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
NAME=quire-kp-$RUN_ID
DB_NAME=quire_kp_${RUN_ID//-/_}
DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB_NAME
OUT=$DEPLOY/dist/kube-play
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs --events-backend file)
PY=$HERE/.venv/bin/python
T0=$SECONDS

log() { echo "kube-play: $*"; }
die() {
    echo "kube-play: ERROR: $*" >&2
    exit 1
}

PLAYED=()
DB_CREATED=0
BUCKET_CREATED=0
SECRET_CREATED=0
cleanup() {
    local rc=$?
    trap - EXIT ERR
    set +e
    if ((rc != 0)); then
        local c
        for c in $("${PODMAN[@]}" ps -a --format '{{.Names}}' | grep -F "$NAME"); do
            echo "----- $c ($("${PODMAN[@]}" inspect --format '{{.State.Status}} exit={{.State.ExitCode}}' "$c")) -----" >&2
            "${PODMAN[@]}" logs --tail 60 "$c" 2>&1 | tail -n 60 >&2
        done
    fi
    if [[ $KEEP == 1 ]]; then
        log "QUIRE_CT_KEEP=1: kept pods, volumes, secret, database $DB_NAME, bucket $NAME"
    else
        local f v
        for f in "${PLAYED[@]}"; do
            "${PODMAN[@]}" kube down "$f" >/dev/null 2>&1
        done
        for v in $("${PODMAN[@]}" volume ls -q | grep -F "$NAME"); do
            "${PODMAN[@]}" volume rm -f "$v" >/dev/null 2>&1
        done
        ((SECRET_CREATED == 0)) || "${PODMAN[@]}" secret rm "$NAME-secrets" >/dev/null 2>&1
        ((BUCKET_CREATED == 0)) || python3 "$DEPLOY/container_client.py" drop-bucket \
            --s3-endpoint "$S3_ENDPOINT" --bucket "$NAME" >/dev/null 2>&1
        ((DB_CREATED == 0)) || psql -X -q -w "$PG_ADMIN_URL" \
            -c "drop database if exists \"$DB_NAME\" with (force)" >/dev/null 2>&1
        redis-cli --scan --pattern "$NAME*" 2>/dev/null | xargs -r -n 500 redis-cli del >/dev/null 2>&1
    fi
    log "$( ((rc == 0)) && echo PASSED || echo FAILED) in $((SECONDS - T0)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "kube-play: ERROR: \`$BASH_COMMAND\` failed (exit $?) at line $LINENO" >&2' ERR

[[ $(id -u) -eq 0 ]] || die "run as root (rootful podman)"
"${PODMAN[@]}" image exists "$IMAGE" || die "no image $IMAGE: run deploy/container-test.sh first"
# Pods need podman's pause image, which podman builds from catatonit.
if ! command -v catatonit >/dev/null 2>&1 && [[ ! -x /usr/libexec/podman/catatonit ]]; then
    log "apt-get install catatonit (podman's pause process for pods)"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
        --no-install-recommends catatonit >/dev/null || die "cannot install catatonit"
fi
[[ -x $PY ]] || bash "$HERE/validate.sh" >/dev/null || die "deploy/k8s/validate.sh failed"
bash "$DEPLOY/test-services.sh" >/dev/null || die "deploy/test-services.sh failed"

psql -X -q -w "$PG_ADMIN_URL" -c "create database \"$DB_NAME\"" >/dev/null
DB_CREATED=1
curl -fsS -X PUT "$S3_ENDPOINT/$NAME" >/dev/null
BUCKET_CREATED=1
read -r API_PORT W_PORT S_PORT AH_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

# --- render -------------------------------------------------------------------------------------
rm -rf "$OUT"
mkdir -p "$OUT"
"$PY" - "$HERE" "$OUT" "$NAME" "$IMAGE" "$DATABASE_URL" "$API_PORT" "$W_PORT" "$S_PORT" "$AH_PORT" <<'EOF'
import base64, json, os, sys, yaml
here, out, name, image, database_url, api_port, w_port, s_port, ah_port = sys.argv[1:]
load = lambda f: [d for d in yaml.safe_load_all(open(f"{here}/{f}")) if d]

(cm,) = load("configmap.yaml")
cm["metadata"]["name"] = f"{name}-config"
cm["data"].update({
    "QUIRE_STORAGE_URL": f"s3://{name}/files", "QUIRE_S3__ENDPOINT": "http://127.0.0.1:5055",
    "QUIRE_S3__ALLOW_HTTP": "true", "QUIRE_BIND": f"127.0.0.1:{api_port}",
    "QUIRE_PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}", "QUIRE_REDIS_NAMESPACE": name,
    "QUIRE_LOG_FORMAT": "text", "NO_COLOR": "1",
})
yaml.safe_dump(cm, open(f"{out}/configmap.yaml", "w"))

(secret,) = load("secret.yaml")
values = {"DATABASE_URL": database_url, "REDIS_URL": "redis://127.0.0.1:6379",
          "QUIRE_S3__ACCESS_KEY_ID": "test", "QUIRE_S3__SECRET_ACCESS_KEY": "test",
          "QUIRE_SECRETS__KEK": base64.b64encode(os.urandom(32)).decode()}
assert set(values) == set(secret["stringData"]), "the Secret's keys changed"
json.dump({k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
          open(f"{out}/secret.json", "w"))

def adapt(kind_doc, role, health_port, probe_port=None):
    pod = kind_doc["spec"]["template"]["spec"]
    pod["hostNetwork"] = True
    (c,) = pod["containers"]
    c["image"], c["imagePullPolicy"] = image, "Never"
    c.pop("ports", None)
    for e in c.get("envFrom", []):
        if "configMapRef" in e:
            e["configMapRef"]["name"] = f"{name}-config"
        if "secretRef" in e:
            e["secretRef"]["name"] = f"{name}-secrets"
    for e in c.get("env", []):
        if e["name"] == "QUIRE_HEALTH_BIND":
            e["value"] = f"127.0.0.1:{health_port}"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        if probe in c:
            c[probe]["httpGet"]["port"] = int(probe_port or health_port)
    renames = {v["name"]: f"{name}-{role}-{v['name']}" for v in pod.get("volumes", [])}
    for v in pod.get("volumes", []):
        v["name"] = renames[v["name"]]
    for m in c.get("volumeMounts", []):
        m["name"] = renames[m["name"]]
    kind_doc["metadata"]["name"] = f"{name}-{role}"
    if "replicas" in kind_doc["spec"]:
        # podman plays every replica; on the host network they would share one health port.
        kind_doc["spec"]["replicas"] = 1
    return kind_doc

(job,) = load("migrate-job.yaml")
job = adapt(job, "migrate", 0)
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": job["metadata"],
       "spec": job["spec"]["template"]["spec"]}
yaml.safe_dump(pod, open(f"{out}/migrate-pod.yaml", "w"))

# The API probes its own port and serves its metrics on a health port of its own.
for role, port, probe in (("api", ah_port, api_port), ("worker", w_port, None),
                          ("scheduler", s_port, None)):
    docs = load(f"{role}.yaml")
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    yaml.safe_dump_all([adapt(d, role, port, probe) for d in deployments],
                       open(f"{out}/{role}.yaml", "w"))
EOF
"${PODMAN[@]}" secret create "$NAME-secrets" "$OUT/secret.json" >/dev/null
SECRET_CREATED=1
log "rendered into $OUT (database $DB_NAME, bucket $NAME, ports api $API_PORT worker $W_PORT scheduler $S_PORT)"

play() { # file
    PLAYED+=("$1")
    # podman 4.3 logs an error per container with a liveness probe where there is no systemd
    # (it cannot set the healthcheck's timer); anything else fails the test.
    "${PODMAN[@]}" kube play --configmap "$OUT/configmap.yaml" "$1" >"$1.log" 2>&1 ||
        { cat "$1.log" >&2; die "podman kube play $1 failed"; }
    if grep -v 'unable to get systemd connection' "$1.log" | grep -qi 'error'; then
        cat "$1.log" >&2
        die "podman kube play $1 reported errors"
    fi
}

# --- migrate (the Job's pod) ----------------------------------------------------------------------
play "$OUT/migrate-pod.yaml"
migrate=$NAME-migrate-migrate
for _ in $(seq 1 150); do
    [[ $("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$migrate") == exited ]] && break
    sleep 0.2
done
code=$("${PODMAN[@]}" inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$migrate")
[[ $code == "exited 0" ]] || die "migrate pod: $code; $("${PODMAN[@]}" logs "$migrate" 2>&1 | tail -n 20)"
log "migrate (Job's pod template as a Pod): exited 0"

# --- api, worker, scheduler -----------------------------------------------------------------------
for role in api worker scheduler; do
    play "$OUT/$role.yaml"
done
wait_ready() { # role port
    local deadline=$((SECONDS + 60))
    until curl -fsS -o /dev/null --max-time 3 "http://127.0.0.1:$2/ready" 2>/dev/null; do
        ((SECONDS < deadline)) || die "$1: /ready on port $2 not 200 after 60 s"
        sleep 0.3
    done
    log "$1 pod ready (/ready on $2)"
}
wait_ready api "$API_PORT"
wait_ready worker "$W_PORT"
wait_ready scheduler "$S_PORT"

# What the pods run with, as the manifests ask.
for role in api worker scheduler; do
    c=$("${PODMAN[@]}" ps --format '{{.Names}}' | grep -E "^$NAME-$role-pod-0-" | head -n 1)
    [[ -n $c ]] || die "no container for $role"
    facts=$("${PODMAN[@]}" inspect --format 'ro={{.HostConfig.ReadonlyRootfs}} user={{.Config.User}} caps={{len .EffectiveCaps}} mem={{.HostConfig.Memory}} cpu={{.HostConfig.CpuQuota}}' "$c")
    [[ $facts == "ro=true user=10001:10001 caps=0 "* ]] || die "$role runs with $facts"
    vols=$("${PODMAN[@]}" inspect --format '{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}' "$c")
    [[ $vols == *"$NAME-$role-tmp:/tmp"* && $vols == *"$NAME-$role-data:/data"* ]] ||
        die "$role mounts: $vols"
    "${PODMAN[@]}" exec "$c" sh -c 'touch /probe' 2>/dev/null && die "$role: the root is writable"
    "${PODMAN[@]}" exec "$c" sh -c 'touch /tmp/probe /data/probe' || die "$role: /tmp or /data not writable"
    hc=$("${PODMAN[@]}" healthcheck run "$c" 2>&1 || true)
    [[ -n $hc ]] || hc=healthy
    [[ $hc != unhealthy ]] || hc="unhealthy (expected: podman runs an httpGet probe as curl inside the container, and the image has no curl)"
    log "$role: $facts; volumes $vols; liveness probe as podman healthcheck: $hc"
done

# --- one certificate through the pods -----------------------------------------------------------
"${PODMAN[@]}" run --rm --network host -e "DATABASE_URL=$DATABASE_URL" "$IMAGE" \
    keys create --name kube-play --admin >"$OUT/key" 2>"$OUT/key.err" ||
    die "keys create failed: $(tail -n 5 "$OUT/key.err")"
KEY=$(tail -n 1 "$OUT/key")
API=http://127.0.0.1:$API_PORT
id=$(curl -fsS -X POST "$API/v1/certificates" -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: application/json' \
    -d '{"recipient_name": "Kube Play", "course_name": "Pods", "issued_on": "2026-11-21"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 150); do
    status=$(curl -fsS "$API/v1/jobs/$id" -H "Authorization: Bearer $KEY" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])')
    [[ $status == succeeded || $status == dead ]] && break
    sleep 0.2
done
[[ $status == succeeded ]] || die "certificate $id is $status"
curl -fsS -o "$OUT/certificate.pdf" "$API/v1/jobs/$id/file" -H "Authorization: Bearer $KEY"
[[ $(head -c 5 "$OUT/certificate.pdf") == %PDF- ]] || die "the download is no PDF"
log "certificate $id rendered by the worker pod, stored in S3, downloaded through the api pod ($(stat -c %s "$OUT/certificate.pdf") bytes)"

# --- down -----------------------------------------------------------------------------------------
for role in api worker scheduler; do
    "${PODMAN[@]}" kube down "$OUT/$role.yaml" >/dev/null 2>&1 || die "kube down $role failed"
done
log "kube down: api, worker, scheduler pods stopped and removed"
