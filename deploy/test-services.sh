#!/usr/bin/env bash
# Makes sure the services the test suite talks to are available, and says what it did:
#   - PostgreSQL at 127.0.0.1:5432, user `postgres` without a password over TCP, database `test`,
#     with pg_stat_statements loaded (the cost guard counts statements with it);
#   - Redis at 127.0.0.1:6379, and the `redis-server` and `redis-cli` binaries (the HA tests
#     start sentinels and a cluster of their own) and `openssl` (their TLS certificates);
#   - `pdftotext` and `pdftoppm` (both from poppler-utils), which tests use to read PDFs back
#     (text, and pages rasterised to decode their QR codes);
#   - mold (Debian's), the linker .cargo/config.toml names;
#   - `varnishd` (Debian's `varnish`), which quire/tests/integration/cdn.rs starts in the foreground
#     on a free port (only the binary: the package's own service is not needed);
#   - Python 3 with `aiosmtpd` (PyPI), the SMTP server worker/tests/integration/smtp.rs starts on a free port;
#   - `schemathesis` (PyPI, pinned: SCHEMATHESIS_VERSION), which deploy/contract-test.sh runs;
#   - Chromium (Debian's `chromium`) and Playwright (PyPI, pinned: PLAYWRIGHT_VERSION, driving
#     that Chromium: it downloads no browser), which deploy/browser-test.sh runs;
#   - an S3-compatible server at 127.0.0.1:5055: `moto` in server mode (PyPI, pinned:
#     MOTO_VERSION), in memory, for the object storage tests (QUIRE_TEST_S3_URL);
#   - pypdf (PyPI, pinned: PYPDF_VERSION), which deploy/pdf-conformance.py reads PDFs with, and
#     jwcrypto and jsonschema (PyPI, pinned: JWCRYPTO_VERSION, JSONSCHEMA_VERSION), which
#     deploy/credential-check.py verifies Open Badges credentials with; pyHanko (PyPI, pinned:
#     PYHANKO_VERSION), which validates signed PDFs beside poppler's `pdfsig`;
#   - `openapi-spec-validator` (PyPI, pinned: OPENAPI_SPEC_VALIDATOR_VERSION), which the OpenAPI
#     integration test and deploy/contract-test.sh run on the served document;
#   - `openapi-python-client` (PyPI, pinned: OPENAPI_PYTHON_CLIENT_VERSION) and pytest (PYTEST_VERSION),
#     Node.js 20 or later with npm (Debian's packages when missing), which clients/generate.sh
#     and clients/test.sh run (the TypeScript generator is pinned in clients/typescript).
# Already up -> does nothing (well under a second). Installed but stopped -> starts them.
# Absent -> installs them from Debian's packages (apt-get), configures trust auth on loopback,
# starts them. Waits (bounded) until both answer; on failure says which service and why, and
# exits non-zero. Never skips silently. Safe to run any number of times.
#
# Overridable (for testing this script beside the real services): TEST_SERVICES_WAIT_SECS (30),
# TEST_SERVICES_PG_PORT (5432), TEST_SERVICES_REDIS_PORT (6379), TEST_SERVICES_S3_PORT (5055).
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=${TEST_SERVICES_PG_PORT:-5432}
PG_USER=postgres
PG_DB="test"
REDIS_HOST=127.0.0.1
REDIS_PORT=${TEST_SERVICES_REDIS_PORT:-6379}
WAIT_SECS=${TEST_SERVICES_WAIT_SECS:-30}
S3_HOST=127.0.0.1
S3_PORT=${TEST_SERVICES_S3_PORT:-5055}
S3_LOG=/tmp/quire-moto-server.log
REDIS_DIR=/var/lib/redis
REDIS_LOG=/var/log/redis/ci.log
HBA_MARKER="# added by quire deploy/test-services.sh"

log() { echo "test-services: $*"; }
fail() {
    echo "test-services: ERROR: $*" >&2
    exit 1
}

# Root runs commands directly; anyone else needs passwordless sudo for installs and starts.
if [[ $(id -u) -eq 0 ]]; then
    AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    AS_ROOT=(sudo -n)
else
    AS_ROOT=(__not_root__)
fi
as_root() {
    if [[ ${AS_ROOT[0]:-} == __not_root__ ]]; then
        fail "need root (or passwordless sudo) to run: $*"
    fi
    "${AS_ROOT[@]}" "$@"
}
# Runs a command as the OS user `postgres` (peer/trust auth on the local socket).
# (From /, which user postgres can always enter.)
as_postgres() (
    cd /
    if [[ $(id -un) == postgres ]]; then
        "$@"
    elif [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        as_root runuser -u postgres -- "$@"
    fi
)

# --- probes -------------------------------------------------------------------------------

tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

pg_up() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d postgres -t 2 >/dev/null 2>&1
    else
        tcp_open "$PG_HOST" "$PG_PORT"
    fi
}

redis_up() {
    if command -v redis-cli >/dev/null 2>&1; then
        [[ $(timeout 3 redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
    else
        # No client: speak the protocol over bash's /dev/tcp.
        # shellcheck disable=SC2016 # expanded by the inner bash
        timeout 3 bash -c '
            exec 3<>"/dev/tcp/$1/$2" || exit 1
            printf "PING\r\n" >&3
            IFS= read -r -t 2 reply <&3 || exit 1
            [[ $reply == "+PONG"* ]]' _ "$REDIS_HOST" "$REDIS_PORT" 2>/dev/null
    fi
}

# psql over TCP as `postgres` with no password; prints psql's error on failure.
pg_tcp_query() {
    local db=$1 sql=$2
    PGCONNECT_TIMEOUT=5 psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$db" \
        -v ON_ERROR_STOP=1 -tAc "$sql" 2>&1
}

pg_test_db_ok() {
    command -v psql >/dev/null 2>&1 && pg_tcp_query "$PG_DB" 'select 1' >/dev/null 2>&1
}

# moto answers S3's ListBuckets at / with XML.
s3_up() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        printf "GET / HTTP/1.0\r\nHost: $1\r\n\r\n" >&3
        IFS= read -r -t 2 status <&3 || exit 1
        [[ $status == "HTTP/"*" 200"* ]]' _ "$S3_HOST" "$S3_PORT" 2>/dev/null
}

wait_for() { # name probe
    local name=$1 probe=$2 deadline=$((SECONDS + WAIT_SECS))
    until "$probe"; do
        if ((SECONDS >= deadline)); then
            return 1
        fi
        sleep 0.3
    done
    log "$name answers"
}

# --- fast path ------------------------------------------------------------------------------

poppler_present() { command -v pdftotext >/dev/null 2>&1 && command -v pdftoppm >/dev/null 2>&1; }
aiosmtpd_present() { command -v python3 >/dev/null 2>&1 && python3 -c 'import aiosmtpd' >/dev/null 2>&1; }
# The reference implementation of Standard Webhooks: the webhook tests verify every
# delivery's signature with it, independently of quire's own signing.
STANDARDWEBHOOKS_VERSION=1.3.0
standardwebhooks_present() { python3 -c 'import standardwebhooks' >/dev/null 2>&1; }
# Pinned: its checks change between releases, and the contract test must not change with them.
SCHEMATHESIS_VERSION=4.32.5
schemathesis_present() {
    command -v schemathesis >/dev/null 2>&1 &&
        [[ $(schemathesis --version 2>/dev/null) == *" $SCHEMATHESIS_VERSION"* ]]
}

# Playwright drives Debian's Chromium (`executable_path`); its own browsers are never fetched.
PLAYWRIGHT_VERSION=1.49.1
chromium_present() { command -v chromium >/dev/null 2>&1; }
playwright_present() {
    [[ $(python3 -c 'import importlib.metadata as m; print(m.version("playwright"))' 2>/dev/null) == "$PLAYWRIGHT_VERSION" ]]
}

OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
spec_validator_present() {
    command -v openapi-spec-validator >/dev/null 2>&1 &&
        [[ $(python3 -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null) == "$OPENAPI_SPEC_VALIDATOR_VERSION" ]]
}
OPENAPI_PYTHON_CLIENT_VERSION=0.29.1
python_client_generator_present() {
    command -v openapi-python-client >/dev/null 2>&1 &&
        [[ $(openapi-python-client --version 2>/dev/null) == *" $OPENAPI_PYTHON_CLIENT_VERSION" ]]
}
PYTEST_VERSION=9.2.0
pytest_present() {
    [[ $(python3 -c 'import importlib.metadata as m; print(m.version("pytest"))' 2>/dev/null) == "$PYTEST_VERSION" ]]
}
# pypdf reads the declared PDF standards back from the files (deploy/pdf-conformance.py): a
# reader other than typst, which wrote them.
PYPDF_VERSION=6.1.0
pypdf_present() {
    [[ $(python3 -c 'import importlib.metadata as m; print(m.version("pypdf"))' 2>/dev/null) == "$PYPDF_VERSION" ]]
}
# jwcrypto (an independent JOSE implementation) verifies the Open Badges credentials' signatures
# against the served DID document, and jsonschema validates them against
# deploy/openbadges-credential.schema.json (deploy/credential-check.py).
JWCRYPTO_VERSION=1.5.6
JSONSCHEMA_VERSION=4.26.0
jwcrypto_present() {
    [[ $(python3 -c 'import importlib.metadata as m; print(m.version("jwcrypto"))' 2>/dev/null) == "$JWCRYPTO_VERSION" ]]
}
jsonschema_present() {
    python3 -c 'import jsonschema, sys; sys.exit(0 if hasattr(jsonschema, "Draft202012Validator") else 1)' >/dev/null 2>&1
}
# pyHanko validates the PAdES signatures of signed PDFs (quire/tests/integration/signing.rs),
# an implementation independent of quire's and of poppler's pdfsig.
PYHANKO_VERSION=0.38.0
PYHANKO_CLI_VERSION=0.6.0
pyhanko_present() {
    [[ $(pyhanko --version 2>/dev/null) == "pyHanko, version $PYHANKO_VERSION (CLI $PYHANKO_CLI_VERSION)" ]]
}
# The TypeScript client's generator (@hey-api/openapi-ts 0.94) needs Node.js 20.19 or later.
node_present() {
    command -v npm >/dev/null 2>&1 &&
        node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}

MOTO_VERSION=5.2.1
moto_present() {
    command -v moto_server >/dev/null 2>&1 &&
        [[ $(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null) == "$MOTO_VERSION" ]]
}

# Test databases of earlier runs (quire_t_<unix secs>_<id>, one per production test) are
# dropped once older than an hour: a machine that runs the tests every day would otherwise fill
# its disk (each is ~10 MB). One in use is never dropped (DROP DATABASE refuses it).
drop_old_test_databases() {
    local cutoff names name dropped=0
    cutoff=$(($(date +%s) - 3600))
    names=$(pg_tcp_query postgres "select datname from pg_database where datname ~ '^quire_t_[0-9]+_' and split_part(datname, '_', 3)::bigint < $cutoff") || return 0
    for name in $names; do
        if pg_tcp_query postgres "drop database \"$name\"" >/dev/null; then
            dropped=$((dropped + 1))
        fi
    done
    ((dropped == 0)) || log "PostgreSQL: dropped $dropped test databases older than an hour"
}

mold_present() { command -v mold >/dev/null 2>&1; }
varnish_present() { command -v varnishd >/dev/null 2>&1 || [[ -x /usr/sbin/varnishd ]]; }
pg_stat_statements_loaded() { [[ $(pg_tcp_query postgres 'show shared_preload_libraries' 2>/dev/null) == *pg_stat_statements* ]]; }

if pg_up && redis_up && pg_test_db_ok && pg_stat_statements_loaded && mold_present && varnish_present && poppler_present && aiosmtpd_present && standardwebhooks_present && schemathesis_present && chromium_present && playwright_present && spec_validator_present && python_client_generator_present && pytest_present && pypdf_present && jwcrypto_present && jsonschema_present && pyhanko_present && node_present && s3_up; then
    log "PostgreSQL ($PG_HOST:$PG_PORT, db $PG_DB, pg_stat_statements), mold, varnishd, Redis ($REDIS_HOST:$REDIS_PORT) and S3 ($S3_HOST:$S3_PORT) answer, pdftotext, pdftoppm, aiosmtpd, standardwebhooks, schemathesis $SCHEMATHESIS_VERSION, chromium, playwright $PLAYWRIGHT_VERSION, openapi-spec-validator $OPENAPI_SPEC_VALIDATOR_VERSION, openapi-python-client $OPENAPI_PYTHON_CLIENT_VERSION, pytest $PYTEST_VERSION and Node.js $(node --version) present: nothing to do"
    drop_old_test_databases
    exit 0
fi

# --- install what is missing ------------------------------------------------------------------

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || fail "cannot install $*: apt-get not found (not a Debian machine?)"
    export DEBIAN_FRONTEND=noninteractive
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        as_root apt-get -o DPkg::Lock::Timeout=120 update -qq ||
            fail "apt-get update failed (needed to install $*)"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    as_root apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "$@" ||
        fail "apt-get install $* failed"
}

pg_installed() { compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; }
redis_installed() { command -v redis-server >/dev/null 2>&1; }

missing=()
if ! pg_up && ! pg_installed; then
    log "PostgreSQL is not installed"
    missing+=(postgresql)
elif ! command -v psql >/dev/null 2>&1; then
    log "psql (PostgreSQL client) is not installed"
    missing+=(postgresql-client)
fi
# The HA tests (quire/tests/integration/redis_ha.rs) start redis-server, sentinels and a
# cluster (redis-cli --cluster create) of their own, even when a Redis already answers.
if ! redis_installed || ! command -v redis-cli >/dev/null 2>&1; then
    log "Redis (redis-server, redis-cli) is not installed"
    missing+=(redis-server)
fi
# The TLS test makes its certificate authority with openssl.
if ! command -v openssl >/dev/null 2>&1; then
    log "openssl is not installed (the Redis TLS test makes its certificates with it)"
    missing+=(openssl)
fi
if ! poppler_present; then
    log "pdftotext/pdftoppm (poppler-utils) are not installed"
    missing+=(poppler-utils)
fi
if ! chromium_present; then
    log "chromium is not installed"
    missing+=(chromium)
fi
# .cargo/config.toml links with mold: every cargo command after this step needs it.
if ! command -v mold >/dev/null 2>&1; then
    log "mold (the linker .cargo/config.toml names) is not installed"
    missing+=(mold)
fi
if ! varnish_present; then
    log "varnishd (the CDN purge tests' cache) is not installed"
    missing+=(varnish)
fi
if ! node_present && ! command -v node >/dev/null 2>&1; then
    log "Node.js and npm are not installed (the TypeScript client's generator and tests)"
    missing+=(nodejs npm)
fi
if ! command -v python3 >/dev/null 2>&1; then
    log "python3 is not installed (needed for aiosmtpd)"
    missing+=(python3 python3-pip)
fi
if ((${#missing[@]} > 0)); then
    apt_install "${missing[@]}"
fi
poppler_present || fail "pdftotext or pdftoppm still missing after installing poppler-utils"
command -v mold >/dev/null 2>&1 || fail "mold still missing after installing it"
varnish_present || fail "varnishd still missing after installing varnish"
redis_installed || fail "redis-server still missing after installing it"
command -v openssl >/dev/null 2>&1 || fail "openssl still missing after installing it"

# --- aiosmtpd and schemathesis (PyPI) -----------------------------------------------------------

pip_install() { # name requirement
    local name=$1 requirement=$2 out
    log "$name is not installed: python3 -m pip install $requirement"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    # Debian's system Python refuses plain pip installs (PEP 668); it needs the
    # override on such a system; this is a test machine.
    if ! out=$(python3 -m pip install -q "$requirement" 2>&1); then
        if grep -q 'externally-managed-environment' <<<"$out"; then
            out=$(python3 -m pip install -q --break-system-packages "$requirement" 2>&1) ||
                { echo "$out" >&2; fail "$name: pip install failed (see above)"; }
        else
            echo "$out" >&2
            fail "$name: python3 -m pip install $requirement failed (see above)"
        fi
    fi
}
aiosmtpd_present || pip_install aiosmtpd aiosmtpd
aiosmtpd_present || fail "aiosmtpd: installed, but python3 -c 'import aiosmtpd' still fails"
standardwebhooks_present || pip_install standardwebhooks "standardwebhooks==$STANDARDWEBHOOKS_VERSION"
standardwebhooks_present || fail "standardwebhooks: installed, but python3 -c 'import standardwebhooks' still fails"
schemathesis_present || pip_install schemathesis "schemathesis==$SCHEMATHESIS_VERSION"
schemathesis_present || fail "schemathesis: installed, but \`schemathesis --version\` is not $SCHEMATHESIS_VERSION (is another one first on PATH?)"
chromium_present || fail "chromium: still missing after installing Debian's package"
playwright_present || pip_install playwright "playwright==$PLAYWRIGHT_VERSION"
playwright_present || fail "playwright: installed, but version $PLAYWRIGHT_VERSION not found"
spec_validator_present || pip_install openapi-spec-validator "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
spec_validator_present || fail "openapi-spec-validator: installed, but version $OPENAPI_SPEC_VALIDATOR_VERSION not found on PATH"
python_client_generator_present || pip_install openapi-python-client "openapi-python-client==$OPENAPI_PYTHON_CLIENT_VERSION"
python_client_generator_present || fail "openapi-python-client: installed, but \`openapi-python-client --version\` is not $OPENAPI_PYTHON_CLIENT_VERSION"
pytest_present || pip_install pytest "pytest==$PYTEST_VERSION"
pytest_present || fail "pytest: installed, but version $PYTEST_VERSION not found"
pypdf_present || pip_install pypdf "pypdf==$PYPDF_VERSION"
pypdf_present || fail "pypdf: installed, but version $PYPDF_VERSION not found"
jwcrypto_present || pip_install jwcrypto "jwcrypto==$JWCRYPTO_VERSION"
jwcrypto_present || fail "jwcrypto: installed, but version $JWCRYPTO_VERSION not found"
jsonschema_present || pip_install jsonschema "jsonschema==$JSONSCHEMA_VERSION"
jsonschema_present || fail "jsonschema: installed, but python3 -c 'import jsonschema' finds no Draft202012Validator"
if ! pyhanko_present; then
    pip_install pyHanko "pyhanko==$PYHANKO_VERSION"
    pip_install pyhanko-cli "pyhanko-cli==$PYHANKO_CLI_VERSION"
fi
pyhanko_present || fail "pyHanko: installed, but \`pyhanko --version\` is not $PYHANKO_VERSION (CLI $PYHANKO_CLI_VERSION)"
node_present || fail "Node.js 20.19 or later with npm is needed (found: $(node --version 2>/dev/null || echo none)); Debian 12's nodejs is 18: install a newer one"
if ! s3_up; then
    moto_present || pip_install moto "moto[server]==$MOTO_VERSION"
    moto_present || fail "moto: installed, but moto_server or version $MOTO_VERSION not found"
fi

# --- PostgreSQL ---------------------------------------------------------------------------------

# The cluster (VERSION NAME) that listens on $PG_PORT, if any.
pg_cluster() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 1
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '$3 == port { print $1, $2; exit }'
}

ensure_pg_running() {
    if pg_up; then
        return 0
    fi
    pg_installed || fail "PostgreSQL: not answering at $PG_HOST:$PG_PORT and not installed"
    local cluster ver name
    cluster=$(pg_cluster || true)
    if [[ -z $cluster ]]; then
        # shellcheck disable=SC2012 # version directories: plain names
        ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
        name=main
        [[ -e /etc/postgresql/$ver/$name ]] && name="port$PG_PORT"
        log "PostgreSQL: no cluster on port $PG_PORT, creating $ver/$name"
        as_root pg_createcluster --port "$PG_PORT" "$ver" "$name" >/dev/null ||
            fail "PostgreSQL: pg_createcluster --port $PG_PORT $ver $name failed"
        cluster="$ver $name"
    fi
    read -r ver name <<<"$cluster"
    log "PostgreSQL: starting cluster $ver/$name"
    local out
    if ! out=$(as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start 2>&1); then
        # "already running" is fine: it may still be coming up.
        if ! grep -qi 'already running' <<<"$out"; then
            echo "$out" >&2
            tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
            fail "PostgreSQL: pg_ctlcluster $ver $name start failed (see above)"
        fi
    fi
    if ! wait_for "PostgreSQL ($PG_HOST:$PG_PORT)" pg_up; then
        tail -n 20 "/var/log/postgresql/postgresql-$ver-$name.log" >&2 2>/dev/null || true
        fail "PostgreSQL: started cluster $ver/$name but nothing answers at $PG_HOST:$PG_PORT after ${WAIT_SECS}s"
    fi
}

# Password-less TCP login for `postgres` on loopback: trust lines at the top of pg_hba.conf
# (first match wins), added only when such a login fails, then a reload.
ensure_pg_trust() {
    local out
    if out=$(pg_tcp_query postgres 'select 1'); then
        return 0
    fi
    if ! grep -qiE 'password|authentication|no pg_hba.conf entry' <<<"$out"; then
        fail "PostgreSQL: cannot connect as $PG_USER to $PG_HOST:$PG_PORT: $out"
    fi
    local hba
    hba=$(as_postgres psql -X -p "$PG_PORT" -tAc 'show hba_file' 2>/dev/null) ||
        fail "PostgreSQL: password-less login over TCP refused ($out) and cannot read hba_file over the local socket"
    if as_root grep -qF "$HBA_MARKER" "$hba"; then
        fail "PostgreSQL: $hba already has trust lines for loopback but login still fails: $out"
    fi
    log "PostgreSQL: adding trust auth for 127.0.0.1/32 and ::1/128 to $hba"
    as_root sed -i "1i $HBA_MARKER\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust" "$hba" ||
        fail "PostgreSQL: cannot edit $hba"
    as_postgres psql -X -p "$PG_PORT" -tAc 'select pg_reload_conf()' >/dev/null ||
        fail "PostgreSQL: cannot reload the configuration after editing $hba"
    local deadline=$((SECONDS + 10))
    until out=$(pg_tcp_query postgres 'select 1'); do
        ((SECONDS < deadline)) || fail "PostgreSQL: login as $PG_USER over TCP still fails after enabling trust: $out"
        sleep 0.3
    done
}

# pg_stat_statements loaded (the cost guard, quire/tests/integration/cost.rs, counts what the
# core path costs with it): added to shared_preload_libraries and the cluster restarted, once.
ensure_pg_stat_statements() {
    local libs
    libs=$(pg_tcp_query postgres 'show shared_preload_libraries') ||
        fail "PostgreSQL: cannot read shared_preload_libraries: $libs"
    if [[ ,${libs// /}, == *,pg_stat_statements,* ]]; then
        return 0
    fi
    log "PostgreSQL: loading pg_stat_statements (shared_preload_libraries) and restarting"
    local value=pg_stat_statements
    [[ -n $libs ]] && value="$libs,pg_stat_statements"
    local out
    out=$(pg_tcp_query postgres "alter system set shared_preload_libraries = '$value'") ||
        fail "PostgreSQL: cannot set shared_preload_libraries: $out"
    local cluster ver name
    cluster=$(pg_cluster) || fail "PostgreSQL: no cluster listens on port $PG_PORT to restart"
    read -r ver name <<<"$cluster"
    if ! out=$(as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart 2>&1); then
        echo "$out" >&2
        fail "PostgreSQL: pg_ctlcluster $ver $name restart failed (see above)"
    fi
    wait_for "PostgreSQL ($PG_HOST:$PG_PORT)" pg_up ||
        fail "PostgreSQL: restarted cluster $ver/$name but nothing answers at $PG_HOST:$PG_PORT"
    libs=$(pg_tcp_query postgres 'show shared_preload_libraries')
    [[ $libs == *pg_stat_statements* ]] ||
        fail "PostgreSQL: pg_stat_statements still not loaded after the restart ($libs)"
}

ensure_pg_db() {
    local out
    out=$(pg_tcp_query postgres "select 1 from pg_database where datname = '$PG_DB'") ||
        fail "PostgreSQL: cannot query pg_database: $out"
    if [[ $out != 1 ]]; then
        log "PostgreSQL: creating database $PG_DB"
        out=$(pg_tcp_query postgres "create database \"$PG_DB\"") ||
            grep -q 'already exists' <<<"$out" ||
            fail "PostgreSQL: cannot create database $PG_DB: $out"
    fi
    out=$(pg_tcp_query "$PG_DB" 'select 1') ||
        fail "PostgreSQL: cannot connect to database $PG_DB as $PG_USER over TCP: $out"
}

# --- Redis ------------------------------------------------------------------------------------------

ensure_redis_running() {
    if redis_up; then
        return 0
    fi
    redis_installed || fail "Redis: not answering at $REDIS_HOST:$REDIS_PORT and not installed"
    if tcp_open "$REDIS_HOST" "$REDIS_PORT"; then
        fail "Redis: something listens on $REDIS_HOST:$REDIS_PORT but does not answer PING (still loading, or password-protected?)"
    fi
    log "Redis: starting redis-server on $REDIS_HOST:$REDIS_PORT (no persistence)"
    as_root mkdir -p "$REDIS_DIR" "$(dirname "$REDIS_LOG")"
    local out
    if ! out=$(as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" \
        --save "" --appendonly no --dir "$REDIS_DIR" --logfile "$REDIS_LOG" 2>&1); then
        echo "$out" >&2
        tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
        fail "Redis: redis-server failed to start (see above)"
    fi
    if ! wait_for "Redis ($REDIS_HOST:$REDIS_PORT)" redis_up; then
        tail -n 20 "$REDIS_LOG" >&2 2>/dev/null || true
        fail "Redis: started redis-server but nothing answers PING at $REDIS_HOST:$REDIS_PORT after ${WAIT_SECS}s (log: $REDIS_LOG)"
    fi
}

# --- S3 (moto server) -----------------------------------------------------------------------------

ensure_s3_running() {
    if s3_up; then
        return 0
    fi
    if tcp_open "$S3_HOST" "$S3_PORT"; then
        fail "S3: something listens on $S3_HOST:$S3_PORT but does not answer as S3"
    fi
    log "S3: starting moto_server on $S3_HOST:$S3_PORT (in memory; log $S3_LOG)"
    setsid nohup moto_server -H "$S3_HOST" -p "$S3_PORT" >"$S3_LOG" 2>&1 </dev/null &
    if ! wait_for "S3 ($S3_HOST:$S3_PORT)" s3_up; then
        tail -n 20 "$S3_LOG" >&2 2>/dev/null || true
        fail "S3: started moto_server but nothing answers at $S3_HOST:$S3_PORT after ${WAIT_SECS}s"
    fi
}

ensure_s3_running
ensure_pg_running
ensure_pg_trust
ensure_pg_stat_statements
ensure_pg_db
drop_old_test_databases
ensure_redis_running

pg_up || fail "PostgreSQL: stopped answering at $PG_HOST:$PG_PORT"
redis_up || fail "Redis: stopped answering at $REDIS_HOST:$REDIS_PORT"
s3_up || fail "S3: stopped answering at $S3_HOST:$S3_PORT"
log "ready: PostgreSQL $PG_HOST:$PG_PORT (user $PG_USER, db $PG_DB), Redis $REDIS_HOST:$REDIS_PORT, S3 http://$S3_HOST:$S3_PORT, pdftotext $(command -v pdftotext), pdftoppm $(command -v pdftoppm), aiosmtpd $(python3 -c 'import aiosmtpd; print(aiosmtpd.__version__)'), $(schemathesis --version)"
