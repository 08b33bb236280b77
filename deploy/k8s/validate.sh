#!/usr/bin/env bash
# Validates the manifests in deploy/k8s/ against the Kubernetes API schemas with
# kubernetes-validate (PyPI, pinned; installed into deploy/k8s/.venv, gitignored), in strict
# mode (unknown fields are errors), for each version in K8S_VERSIONS; then checks the rules this
# deployment relies on (policy.py beside this file): probes, grace period above
# QUIRE_SHUTDOWN_GRACE_SECS, resources, non-root with a read-only root, emptyDir scratch only.
#
#   bash deploy/k8s/validate.sh
#
# Environment: K8S_VERSIONS (default "1.37.0 1.30.0": the newest this kubernetes-validate knows
# and an older one still common in clusters), KUBERNETES_VALIDATE_VENV (default
# deploy/k8s/.venv).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBERNETES_VALIDATE_VERSION=1.37.0
K8S_VERSIONS=${K8S_VERSIONS:-"1.37.0 1.30.0"}
VENV=${KUBERNETES_VALIDATE_VENV:-$HERE/.venv}
MANIFESTS=(configmap.yaml secret.yaml migrate-job.yaml api.yaml worker.yaml scheduler.yaml)

log() { echo "validate: $*"; }
die() {
    echo "validate: ERROR: $*" >&2
    exit 1
}

if [[ $("$VENV/bin/kubernetes-validate" --version 2>/dev/null) != *"$KUBERNETES_VALIDATE_VERSION"* ]]; then
    log "installing kubernetes-validate==$KUBERNETES_VALIDATE_VERSION into $VENV"
    if ! python3 -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 needs python3-venv for that.
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
            --no-install-recommends python3-venv >/dev/null || die "python3 -m venv failed and python3-venv could not be installed"
        python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
    fi
    "$VENV/bin/pip" install -q "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" ||
        die "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION failed"
fi

cd "$HERE"
for version in $K8S_VERSIONS; do
    "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" "${MANIFESTS[@]}" ||
        die "schema validation against Kubernetes $version failed (see above)"
    log "schemas: ${#MANIFESTS[@]} files valid against Kubernetes $version (strict)"
done

# The validator must reject what is wrong, or the pass above means nothing.
bad=$(mktemp)
trap 'rm -f "$bad"' EXIT
sed 's/^  replicas: 2$/  replica: 2/' api.yaml >"$bad"
if "$VENV/bin/kubernetes-validate" --strict --quiet -k "${K8S_VERSIONS%% *}" "$bad" >/dev/null 2>&1; then
    die "kubernetes-validate accepted a Deployment with an unknown field (replica): it checks nothing"
fi

# Every file the kustomization lists exists, and every manifest is listed.
"$VENV/bin/python" - "${MANIFESTS[@]}" <<'EOF' || die "kustomization.yaml does not list the manifests"
import sys, yaml
listed = yaml.safe_load(open("kustomization.yaml"))["resources"]
assert sorted(listed) == sorted(sys.argv[1:]), (listed, sys.argv[1:])
EOF

"$VENV/bin/python" "$HERE/policy.py" "${MANIFESTS[@]}" || die "policy checks failed (see above)"
log "OK"
