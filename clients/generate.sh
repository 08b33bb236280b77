#!/usr/bin/env bash
# Regenerates the official clients from the OpenAPI document the binary serves with default
# settings (`quire openapi`):
#   clients/openapi.json                  the document itself;
#   clients/python/                       openapi-python-client (OPC_VERSION), package `quire_client`
#                                         (its tests/ are ours and kept);
#   clients/typescript/src/generated/     @hey-api/openapi-ts (pinned in clients/typescript/package.json).
#
#   bash clients/generate.sh          rewrite them in place
#   bash clients/generate.sh --check  regenerate into a temporary directory and fail, showing the
#                                     difference, if the checked-in clients are not what the
#                                     document generates (the test command's `clients` step)
#
# Needs openapi-python-client (OPC_VERSION), Node.js 20 and npm (bash deploy/test-services.sh
# installs them) and the debug binary (built if missing). Overridable: QUIRE_BIN.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

OPC_VERSION=0.29.1
BIN=${QUIRE_BIN:-target/debug/quire}

fail() {
    echo "clients: ERROR: $*" >&2
    exit 1
}

check=0
case ${1:-} in
--check) check=1 ;;
"") ;;
*) fail "usage: clients/generate.sh [--check]" ;;
esac

command -v openapi-python-client >/dev/null 2>&1 ||
    fail "openapi-python-client is not installed (bash deploy/test-services.sh installs it)"
[[ $(openapi-python-client --version) == *" $OPC_VERSION" ]] ||
    fail "openapi-python-client $OPC_VERSION is needed, found: $(openapi-python-client --version)"
command -v npm >/dev/null 2>&1 || fail "npm is not installed (bash deploy/test-services.sh installs it)"
if [[ ! -x $BIN ]]; then
    echo "clients: $BIN missing: cargo build -p quire"
    cargo build -q -p quire
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

# Defaults only: no setting of the caller's changes the document the clients are made from.
env -i PATH="$PATH" HOME="${HOME:-/tmp}" "$BIN" openapi >"$OUT/openapi.json"

# Python. The document is OpenAPI 3.1, which this generator reads. CSV uploads, PDFs and ZIPs
# are bytes to it (`File`) only as application/octet-stream, hence the overrides.
cat >"$OUT/opc.yaml" <<'EOF'
project_name_override: quire-client
package_name_override: quire_client
post_hooks: []
content_type_overrides:
  text/csv: application/octet-stream
  application/pdf: application/octet-stream
  application/zip: application/octet-stream
EOF
openapi-python-client generate --path "$OUT/openapi.json" --config "$OUT/opc.yaml" \
    --output-path "$OUT/python" >"$OUT/python.log" 2>&1 ||
    { cat "$OUT/python.log" >&2; fail "openapi-python-client failed"; }
# Its own tests directory is not generated; ours is kept.
if [[ -d clients/python/tests ]]; then
    cp -R clients/python/tests "$OUT/python/tests"
fi

# TypeScript, with the generator pinned by the package's lock file.
(cd clients/typescript && npm ci --no-audit --no-fund --silent) || fail "npm ci in clients/typescript failed"
clients/typescript/node_modules/.bin/openapi-ts -i "$OUT/openapi.json" -o "$OUT/typescript" \
    >"$OUT/typescript.log" 2>&1 ||
    { cat "$OUT/typescript.log" >&2; fail "@hey-api/openapi-ts failed"; }

if ((check)); then
    stale=0
    diff -u clients/openapi.json "$OUT/openapi.json" || stale=1
    diff -ru clients/python "$OUT/python" -x __pycache__ -x .pytest_cache || stale=1
    diff -ru clients/typescript/src/generated "$OUT/typescript" || stale=1
    ((stale == 0)) || fail "the checked-in clients are not what the document generates: run bash clients/generate.sh and commit"
    echo "clients: clients/python and clients/typescript are up to date with the document"
else
    cp "$OUT/openapi.json" clients/openapi.json
    rm -rf clients/python clients/typescript/src/generated
    cp -R "$OUT/python" clients/python
    mkdir -p clients/typescript/src
    cp -R "$OUT/typescript" clients/typescript/src/generated
    echo "clients: regenerated clients/python and clients/typescript/src/generated"
fi
