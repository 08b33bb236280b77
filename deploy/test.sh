#!/usr/bin/env bash
# The project's test command (what CI runs through .ci/run): services, format, lints, tests.
# Stops at the first failing step and exits with its status; prints the time of each step.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

export QUIRE_TEST_DATABASE_URL=${QUIRE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
export QUIRE_TEST_REDIS_URL=${QUIRE_TEST_REDIS_URL:-redis://127.0.0.1:6379}
export QUIRE_TEST_S3_URL=${QUIRE_TEST_S3_URL:-http://127.0.0.1:5055}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

now_ms() { date +%s%3N; }
fmt_ms() { printf '%d.%03ds' $(($1 / 1000)) $(($1 % 1000)); }

TEST_START=$(now_ms)

step() { # name command...
    local name=$1
    shift
    local start rc=0
    start=$(now_ms)
    echo "==> [test] $name: $*"
    "$@" || rc=$?
    local took=$(($(now_ms) - start))
    if ((rc != 0)); then
        echo "==> [test] FAILED: $name (exit $rc) after $(fmt_ms "$took")" >&2
        exit "$rc"
    fi
    echo "==> [test] done: $name in $(fmt_ms "$took")"
}

step "services" bash deploy/test-services.sh
echo "==> [test] QUIRE_TEST_DATABASE_URL=$QUIRE_TEST_DATABASE_URL QUIRE_TEST_REDIS_URL=$QUIRE_TEST_REDIS_URL QUIRE_TEST_S3_URL=$QUIRE_TEST_S3_URL"
step "fmt" cargo fmt --all -- --check
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
# Before the tests: it installs Prometheus (Debian's package) when missing, which the metrics
# test runs.
step "prometheus" bash deploy/prometheus/check.sh
step "test" cargo test --workspace
# The image built from the binary the tests just built, run for real with podman (no shared
# volume, a worker killed mid-run), then deploy/docker-compose.yml started with podman-compose
# (stand-ins for the registry images), and the Kubernetes manifests checked and played.
step "containers" bash deploy/container-test.sh
step "compose" bash deploy/compose-test.sh
step "k8s-validate" bash deploy/k8s/validate.sh
step "k8s-play" bash deploy/k8s/kube-play-test.sh
step "contract" bash deploy/contract-test.sh
# The official clients: regenerated from the document and compared with the checked-in ones,
# then each run end to end against a quire.
step "clients" bash clients/test.sh
# The dashboard in Debian's Chromium, driven by Playwright.
step "browser" bash deploy/browser-test.sh
# The book in docs/ built with mdBook, every link and anchor checked.
step "docs" bash deploy/docs-check.sh

echo "==> [test] all steps passed in $(fmt_ms $(($(now_ms) - TEST_START)))"
