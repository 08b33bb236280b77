#!/usr/bin/env bash
# Checks the monitoring files: the Prometheus configs (promtool check config), the alerting
# rules (promtool check rules) and their unit tests (promtool test rules alerts.test.yml), the
# Grafana dashboard's structure, and that every PromQL expression of alerts.yml and
# deploy/grafana/quire.json parses: each is sent to a throwaway, empty Prometheus on a free
# loopback port (instant query), with Grafana's variables replaced first (exprs.py).
#
#   bash deploy/prometheus/check.sh
#
# Installs Debian's `prometheus` package (promtool and prometheus) with apt when promtool is
# missing, without letting it start its service (a temporary policy-rc.d denies it; a service
# started anyway is stopped and disabled). A few seconds once installed.
#
# Against a real Prometheus scraping quire (expressions that must also return data):
#   python3 deploy/prometheus/exprs.py --query http://HOST:9090 [--require-data] FILE...
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DEPLOY=$(dirname "$HERE")
DASHBOARD=$DEPLOY/grafana/quire.json
T0=$(date +%s)
export PYTHONDONTWRITEBYTECODE=1  # exprs.py is imported below: no __pycache__ in the tree

log() { echo "check: $*"; }
die() {
    echo "check: ERROR: $*" >&2
    exit 1
}

WORK=$(mktemp -d)
PROM_PID=""
POLICY_CREATED=""
cleanup() {
    if [[ -n $PROM_PID ]]; then
        kill "$PROM_PID" 2>/dev/null || true
        wait "$PROM_PID" 2>/dev/null || true
    fi
    if [[ -n $POLICY_CREATED ]]; then rm -f /usr/sbin/policy-rc.d; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------- promtool
stop_packaged_prometheus() {
    # Only the service the package installs: systemd unit, or the sysv script's pid file.
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        systemctl disable --now prometheus.service >/dev/null 2>&1 || true
    fi
    local pidfile=/run/prometheus/prometheus.pid pid
    if [[ -r $pidfile ]]; then
        pid=$(cat "$pidfile")
        if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == /usr/bin/prometheus ]]; then
            log "stopping the prometheus service the package started (pid $pid)"
            if [[ -x /etc/init.d/prometheus ]]; then /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
            kill "$pid" 2>/dev/null || true
        fi
    fi
    if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/prometheus ]]; then
        update-rc.d prometheus disable >/dev/null 2>&1 || true
    fi
}

if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
    command -v apt-get >/dev/null || die "promtool is missing and there is no apt-get: install Prometheus (promtool, prometheus) yourself"
    log "installing Debian's prometheus package (promtool, prometheus)"
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        # Keeps dpkg from starting the packaged service (invoke-rc.d and deb-systemd-invoke
        # both ask it); removed again on exit.
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        POLICY_CREATED=1
    fi
    apt_install() {
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 install -y -qq \
            --no-install-recommends prometheus >"$WORK/apt.log" 2>&1
    }
    if ! apt_install; then
        apt-get -o DPkg::Lock::Timeout=120 update -qq >/dev/null 2>&1 || true
        apt_install || {
            tail -20 "$WORK/apt.log" >&2
            die "apt-get install prometheus failed"
        }
    fi
    if [[ -n $POLICY_CREATED ]]; then
        rm -f /usr/sbin/policy-rc.d
        POLICY_CREATED=""
    fi
    stop_packaged_prometheus
fi
log "$(promtool --version 2>&1 | head -1)"

# ---------------------------------------------------------------------------- configs and rules
cd "$HERE"
for config in prometheus.yml prometheus-kubernetes.yml; do
    [[ -e $config ]] || continue
    note=""
    if ! promtool check config "$config" >"$WORK/out" 2>&1; then
        grep -q 'field kubernetes_sd_configs not found' "$WORK/out" || {
            cat "$WORK/out" >&2
            die "$config: promtool check config failed"
        }
        # Debian builds Prometheus without Kubernetes discovery: check everything else, with
        # static targets in place of the kubernetes_sd_configs block (a copy beside the
        # original, so that rule_files still resolve).
        copy=".check.$config"
        python3 -c '
import re, sys
text = open(sys.argv[1]).read()
out, n = re.subn(r"(?m)^( *)kubernetes_sd_configs:\n(?:\1 .*\n|\s*\n)*",
                 lambda m: m.group(1) + "static_configs:\n" + m.group(1) + "  - targets: [\"127.0.0.1:1\"]\n", text)
assert n, "no kubernetes_sd_configs block"
open(sys.argv[2], "w").write(out)
' "$config" "$copy" || die "$config: could not replace kubernetes_sd_configs"
        if ! promtool check config "$copy" >"$WORK/out" 2>&1; then
            rm -f "$copy"
            cat "$WORK/out" >&2
            die "$config: promtool check config failed (kubernetes_sd_configs replaced by static targets)"
        fi
        rm -f "$copy"
        note="; this promtool lacks kubernetes_sd_configs, checked with static targets in its place"
    fi
    log "$config: valid ($(grep -c '^  - job_name:' "$config") scrape jobs, rule files found$note)"
done

promtool check rules alerts.yml >"$WORK/out" 2>&1 || {
    cat "$WORK/out" >&2
    die "alerts.yml: promtool check rules failed"
}
log "alerts.yml: $(grep -o '[0-9]* rules found' "$WORK/out")"

# Every alert has a for:, a severity and both annotations (promtool does not require them).
python3 - alerts.yml <<'EOF' || die "alerts.yml: an alert lacks for:, severity, summary or description"
import re, sys
text = open(sys.argv[1]).read()
items = re.split(r"\n(?=[ \t]*- alert: )", text)[1:]
bad = [re.search(r"alert: (\S+)", i).group(1) for i in items
       if not all(re.search(p, i, re.M) for p in (r"^\s+for: \d+[smh]", r"^\s+severity: (critical|warning|info)$",
                                                  r"^\s+summary: ", r"^\s+description: "))]
if bad:
    sys.exit("missing for/severity/summary/description: " + ", ".join(bad))
EOF

promtool test rules alerts.test.yml >"$WORK/out" 2>&1 || {
    cat "$WORK/out" >&2
    die "alerts.test.yml: promtool test rules failed"
}
# Every alert of alerts.yml is tested.
untested=$(comm -23 <(grep -o '^ *- alert: [A-Za-z0-9_]*' alerts.yml | awk '{print $3}' | sort -u) \
    <(grep -o 'alertname: [A-Za-z0-9_]*' alerts.test.yml | awk '{print $2}' | sort -u))
[[ -z $untested ]] || die "alerts.test.yml: alerts without a test: $untested"
log "alerts.test.yml: passed ($(grep -c '^  - interval:' alerts.test.yml) test groups, $(grep -c 'eval_time:' alerts.test.yml) evaluations, every alert tested)"

# ---------------------------------------------------------------------------- dashboard
python3 - "$DASHBOARD" <<'EOF' || die "quire.json: bad dashboard structure"
import json, sys
d = json.load(open(sys.argv[1]))
assert d.get("schemaVersion", 0) >= 36, "schemaVersion"
names = {v["name"]: v for v in d["templating"]["list"]}
assert names.get("datasource", {}).get("type") == "datasource", "no datasource variable"
assert "kind" in names, "no kind variable"
ids, cells = set(), {}
for p in d["panels"]:
    assert p["id"] not in ids, f"duplicate panel id {p['id']}"
    ids.add(p["id"])
    g = p["gridPos"]
    assert g["x"] + g["w"] <= 24, f"panel {p['title']} wider than the grid"
    for x in range(g["x"], g["x"] + g["w"]):
        for y in range(g["y"], g["y"] + g["h"]):
            assert (x, y) not in cells, f"panels {cells.get((x, y))!r} and {p['title']!r} overlap"
            cells[(x, y)] = p["title"]
    if p["type"] != "row":
        assert p["datasource"]["uid"] == "${datasource}", f"panel {p['title']} not on ${{datasource}}"
        assert p["targets"], f"panel {p['title']} has no query"
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${datasource}", f"query of {p['title']} not on ${{datasource}}"
print(f"check: quire.json: {len(d['panels'])} panels, no overlap, every query on ${{datasource}}")
EOF

# ---------------------------------------------------------------------------- expressions
python3 "$HERE/exprs.py" --with-source alerts.yml "$DASHBOARD" >"$WORK/exprs.tsv"
[[ -s $WORK/exprs.tsv ]] || die "exprs.py found no expression"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'global:\n  scrape_interval: 1m\n' >"$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!
URL="http://127.0.0.1:$PORT"
python3 - "$URL" "$PROM_PID" <<'EOF' || {
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
for _ in range(150):
    try:
        if urllib.request.urlopen(url + "/-/ready", timeout=2).status == 200:
            sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("prometheus exited")
    time.sleep(0.2)
sys.exit("prometheus not ready after 30 s")
EOF
    cat "$WORK/prometheus.log" >&2
    die "the throwaway prometheus on 127.0.0.1:$PORT did not start"
}

python3 - "$URL" "$WORK/exprs.tsv" "$HERE" <<'EOF' || die "PromQL expressions that do not parse (above)"
import sys
from collections import Counter
sys.path.insert(0, sys.argv[3])
from exprs import query

url, tsv = sys.argv[1], sys.argv[2]
# The check must be able to fail: a broken expression has to be refused.
status, _ = query(url, "sum(rate(quire_jobs_started_total[5m])")
assert status == "error", "the throwaway prometheus accepted a broken expression"
total, bad = Counter(), Counter()
for line in open(tsv, encoding="utf-8"):
    where, expr = line.rstrip("\n").split("\t", 1)
    name = where.split(":", 1)[0].rsplit("/", 1)[-1]
    total[name] += 1
    status, info = query(url, expr)
    if status != "success":
        bad[name] += 1
        print(f"check: {where}: {info}\n    {expr}", file=sys.stderr)
for name in total:
    print(f"check: {name}: {total[name]} expressions, {total[name] - bad[name]} parse, {bad[name]} errors")
sys.exit(1 if sum(bad.values()) else 0)
EOF

log "all checks passed in $(($(date +%s) - T0)) s"
