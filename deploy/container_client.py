#!/usr/bin/env python3
"""Client side of deploy/container-test.sh (Python 3 standard library only).

Subcommands (each exits non-zero with a message on the first failed check):

  wait-ready URL [URL...]   until every URL answers 200 (bounded by --timeout)
  load                      submits certificates with a JPEG photo, a CSV batch and a report,
                            runs --kill-cmd once --kill-at certificates have succeeded, waits
                            until every job is final, then checks every job, file, the batch
                            archive, the jobs table (psql) and the bucket; writes --out (JSON)
  schedules                 waits until GET /v1/schedules shows a tick and a succeeded run of
                            the `health` schedule
  make-bucket / drop-bucket creates an S3 bucket / empties and deletes it (path-style, no auth:
                            the moto server accepts unsigned requests)

The photo is a real baseline JPEG made here by a small encoder (no imaging library needed).
"""

import argparse
import base64
import concurrent.futures as cf
import csv
import hashlib
import io
import json
import math
import shlex
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile


def log(msg):
    print(f"client: {msg}", flush=True)


def fail(msg):
    print(f"client: FAILED: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- a minimal baseline JPEG encoder ---------------------------------------------------------
# 4:4:4 YCbCr, one quantisation table, and Huffman tables that give every possible symbol a
# code of one fixed length (valid: no code is all ones), so no standard table is needed.

def _zigzag():
    order = []
    for s in range(15):
        cells = [(i, s - i) for i in range(8) if 0 <= s - i < 8]
        order += cells if s % 2 else [(c, r) for r, c in cells]
    return [r * 8 + c for r, c in order]


ZIGZAG = _zigzag()
COS = [[math.cos((2 * x + 1) * u * math.pi / 16) for x in range(8)] for u in range(8)]
CU = [math.sqrt(0.5)] + [1.0] * 7


def _dct(block):
    rows = [[0.5 * CU[u] * sum(block[y * 8 + x] * COS[u][x] for x in range(8)) for u in range(8)]
            for y in range(8)]
    out = [0.0] * 64
    for u in range(8):
        for v in range(8):
            out[v * 8 + u] = 0.5 * CU[v] * sum(rows[y][u] * COS[v][y] for y in range(8))
    return out


def _category(v):
    v = abs(v)
    n = 0
    while v:
        n += 1
        v >>= 1
    return n


class _Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, length):
        for i in range(length - 1, -1, -1):
            self.acc = (self.acc << 1) | ((value >> i) & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = self.n = 0

    def flush(self):
        while self.n:
            self.put(1, 1)
        return bytes(self.out)


DC_SYMBOLS = list(range(12))  # 4-bit codes
AC_SYMBOLS = [0x00, 0xF0] + [(r << 4) | s for r in range(16) for s in range(1, 11)]  # 8-bit codes
DC_CODE = {s: (i, 4) for i, s in enumerate(DC_SYMBOLS)}
AC_CODE = {s: (i, 8) for i, s in enumerate(AC_SYMBOLS)}


def _segment(marker, payload):
    return bytes([0xFF, marker]) + (len(payload) + 2).to_bytes(2, "big") + payload


def _dht(table_class, table_id, length, symbols):
    counts = [0] * 16
    counts[length - 1] = len(symbols)
    return _segment(0xC4, bytes([(table_class << 4) | table_id]) + bytes(counts) + bytes(symbols))


def jpeg(width, height, pixel, quant=6):
    """A baseline JPEG of pixel(x, y) -> (r, g, b)."""
    planes = ([], [], [])
    for y in range(height):
        for x in range(width):
            r, g, b = pixel(x, y)
            planes[0].append(0.299 * r + 0.587 * g + 0.114 * b - 128)
            planes[1].append(-0.168736 * r - 0.331264 * g + 0.5 * b)
            planes[2].append(0.5 * r - 0.418688 * g - 0.081312 * b)
    bits = _Bits()
    pred = [0, 0, 0]
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            for c in range(3):
                block = [planes[c][min(by + j, height - 1) * width + min(bx + i, width - 1)]
                         for j in range(8) for i in range(8)]
                coef = _dct(block)
                q = [int(round(coef[k] / quant)) for k in ZIGZAG]
                diff, pred[c] = q[0] - pred[c], q[0]
                size = _category(diff)
                bits.put(*DC_CODE[size])
                if size:
                    bits.put(diff if diff > 0 else diff + (1 << size) - 1, size)
                run = 0
                last = max((k for k in range(1, 64) if q[k]), default=0)
                for k in range(1, last + 1):
                    if q[k] == 0:
                        run += 1
                        continue
                    while run > 15:
                        bits.put(*AC_CODE[0xF0])
                        run -= 16
                    size = _category(q[k])
                    bits.put(*AC_CODE[(run << 4) | size])
                    bits.put(q[k] if q[k] > 0 else q[k] + (1 << size) - 1, size)
                    run = 0
                if last < 63:
                    bits.put(*AC_CODE[0x00])
    components = b"".join(bytes([i, 0x11, 0]) for i in (1, 2, 3))
    return b"".join([
        b"\xff\xd8",
        _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        _segment(0xDB, bytes([0]) + bytes([quant] * 64)),
        _segment(0xC0, bytes([8]) + height.to_bytes(2, "big") + width.to_bytes(2, "big")
                 + bytes([3]) + components),
        _dht(0, 0, 4, DC_SYMBOLS),
        _dht(1, 0, 8, AC_SYMBOLS),
        _segment(0xDA, bytes([3]) + b"".join(bytes([i, 0x00]) for i in (1, 2, 3))
                 + bytes([0, 63, 0])),
        bits.flush(),
        b"\xff\xd9",
    ])


def jpeg_photo():
    """The photo quire/tests/integration/helpers.rs uses: 120 x 160, a colour gradient."""
    return jpeg(120, 160, lambda x, y: ((x * 2) % 256, (y + 40) % 256, 150))


# --- HTTP ----------------------------------------------------------------------------------------

class Api:
    def __init__(self, base, key=None, timeout=60):
        self.base = base.rstrip("/")
        self.key = key
        self.timeout = timeout

    def request(self, method, path, body=None, content_type=None, retries=8):
        url = path if path.startswith("http") else self.base + path
        headers = {}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
            content_type = content_type or "application/json"
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(retries + 1):
            req = urllib.request.Request(url, data=body, method=method, headers=headers)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return r.status, r.read(), r.headers
            except urllib.error.HTTPError as e:
                data = e.read()
                if e.code == 503 and attempt < retries:
                    time.sleep(min(float(e.headers.get("Retry-After") or 1), 5))
                    continue
                return e.code, data, e.headers
            except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
                if attempt < retries:
                    time.sleep(0.5)
                    continue
                raise RuntimeError(f"{method} {url}: {e}") from e
        raise AssertionError("unreachable")

    def json(self, method, path, body=None, expect=(200,), **kw):
        status, data, _ = self.request(method, path, body, **kw)
        if status not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {status}: {data[:500]!r}")
        return json.loads(data)


# --- wait-ready ----------------------------------------------------------------------------------

def cmd_wait_ready(args):
    deadline = time.monotonic() + args.timeout
    for url in args.urls:
        last = None
        while True:
            try:
                with urllib.request.urlopen(url, timeout=3) as r:
                    if r.status == 200:
                        break
                    last = f"HTTP {r.status}"
            except urllib.error.HTTPError as e:
                last = f"HTTP {e.code}: {e.read()[:300]!r}"
            except Exception as e:  # noqa: BLE001 - connection refused while starting
                last = str(e)
            if time.monotonic() > deadline:
                fail(f"{url} not ready after {args.timeout}s (last: {last})")
            time.sleep(0.2)
        log(f"ready: {url}")


# --- load ----------------------------------------------------------------------------------------

def report_body():
    """A small SAT report (as quire/tests/integration/reports.rs `report(2, 10)`)."""
    photo = base64.b64encode(jpeg_photo()).decode()
    sections = []
    for s in range(2):
        rows = []
        for r in range(10):
            result = "fail" if r % 7 == 3 else ("n/a" if r % 5 == 4 else "pass")
            rows.append({"item": f"{s + 1}.{r + 1}",
                         "description": f"Check interlock {r} of panel {s}",
                         "expected": "Trips within 200 ms", "actual": "180 ms",
                         "result": result, "remarks": ""})
        sections.append({"title": f"Functional group {s + 1}",
                         "body": "Tests run with the plant **offline**.", "rows": rows})
    return {
        "document_number": "SAT-2026-0042", "revision": "B",
        "project": "North Plant Expansion", "client": "Acme Water Ltd",
        "site": "North Plant, Basin 3", "system": "Filtration PLC and SCADA",
        "issued_on": "2026-11-21", "test_start": "2026-11-17", "test_end": "2026-11-19",
        "scope": "This report covers the SAT of the filtration system.\n\n- PLC logic\n- SCADA screens",
        "equipment": [{"name": "Multimeter", "model": "Fluke 87V", "serial": "12345678",
                       "calibration_due": "2027-03-01"}],
        "sections": sections,
        "punch_list": [{"item": "P-1", "description": "Label cabinet doors", "severity": "low",
                        "owner": "J. Smith", "due": "2026-12-01"}],
        "text_sections": [{"title": "Observations", "body": "No deviations beyond the punch list."}],
        "images": [{"image": photo, "caption": "Panel wiring"}],
        "signoffs": [
            {"name": "Alex Engineer", "role": "Commissioning engineer", "company": "Acme",
             "date": "2026-11-19", "signature": photo},
            {"name": "Kim Client", "role": "Client representative", "company": "Acme Water",
             "date": "2026-11-20"},
        ],
    }


class Phases:
    def __init__(self):
        self.t0 = time.monotonic()
        self.last = self.t0
        self.times = {}

    def done(self, name):
        now = time.monotonic()
        self.times[name] = round(now - self.last, 2)
        log(f"phase {name}: {now - self.last:.1f} s")
        self.last = now


def count_succeeded_certificates(api, at_least):
    """Whether at least `at_least` (<= 200) certificate jobs have succeeded: one page."""
    page = api.json("GET", f"/v1/jobs?status=succeeded&kind=certificate&limit={at_least}")
    return len(page["jobs"]) >= at_least


def psql(database_url, sql):
    out = subprocess.run(["psql", "-X", "-w", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                          database_url, "-c", sql], capture_output=True, text=True)
    if out.returncode:
        fail(f"psql: {out.stderr.strip()}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def s3_keys(endpoint, bucket, prefix=""):
    keys, token = [], None
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    while True:
        query = {"list-type": "2", "prefix": prefix}
        if token:
            query["continuation-token"] = token
        url = f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(urllib.request.Request(url, headers=S3_AUTH), timeout=30) as r:
            root = ET.fromstring(r.read())
        keys += [c.find(f"{ns}Key").text for c in root.findall(f"{ns}Contents")]
        if (root.findtext(f"{ns}IsTruncated") or "false") != "true":
            return keys
        token = root.findtext(f"{ns}NextContinuationToken")


def cmd_load(args):
    ph = Phases()
    api = Api(args.api, args.key)
    photo = jpeg_photo()
    photo_b64 = base64.b64encode(photo).decode()
    log(f"JPEG photo: {len(photo)} bytes")
    pool = cf.ThreadPoolExecutor(args.threads)

    # Kill a worker once enough certificates succeeded (in a thread: submissions go on).
    kill = {"done": False, "at": None, "succeeded_before": None}

    def killer():
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            try:
                if count_succeeded_certificates(api, args.kill_at):
                    break
            except Exception as e:  # noqa: BLE001
                log(f"kill watcher: {e}")
            time.sleep(0.2)
        else:
            return
        log(f"{args.kill_at} certificates succeeded: running {args.kill_cmd!r}")
        kill["at"] = round(time.monotonic() - ph.t0, 2)
        out = subprocess.run(shlex.split(args.kill_cmd), capture_output=True, text=True)
        if out.returncode:
            log(f"kill command failed ({out.returncode}): {out.stderr.strip()}")
        else:
            kill["done"] = True

    kill_thread = None
    if args.kill_cmd:
        kill_thread = threading.Thread(target=killer, daemon=True)
        kill_thread.start()

    # 1. Certificates, each with the photo.
    def submit(i):
        body = {"recipient_name": f"Container Test {i:04d}", "course_name": "Advanced Typesetting",
                "issuer_name": "Quire Academy", "issued_on": "2026-11-21", "photo": photo_b64}
        status, data, _ = api.request("POST", "/v1/certificates", body)
        if status != 202:
            raise RuntimeError(f"certificate {i}: HTTP {status}: {data[:500]!r}")
        return json.loads(data)["id"]

    cert_ids = list(pool.map(submit, range(args.certs)))
    ph.done(f"submit {len(cert_ids)} certificates")

    # 2. A CSV batch.
    rows = "".join(f"Batch Person {i:05d},Container Orchestration\n" for i in range(args.batch_rows))
    csv_body = ("recipient_name,course_name\n" + rows).encode()
    batch = api.json("POST", "/v1/certificates/batch?template=classic", csv_body,
                     expect=(202,), content_type="text/csv")
    batch_id = batch["id"]
    if batch["total"] != args.batch_rows:
        fail(f"batch total {batch['total']} != {args.batch_rows}")
    ph.done(f"submit batch of {args.batch_rows}")

    # 3. A report.
    report_id = api.json("POST", "/v1/reports", report_body(), expect=(202,))["id"]
    ph.done("submit report")

    # Wait until the batch is complete and every other job is final.
    deadline = time.monotonic() + args.timeout
    while True:
        view = api.json("GET", f"/v1/batches/{batch_id}")
        if view["complete"]:
            break
        if time.monotonic() > deadline:
            fail(f"batch not complete after {args.timeout}s: {view['counts']}")
        time.sleep(1)
    batch_job_ids = [r[0] for r in psql(args.database_url,
                                        f"select id from jobs where batch_id = '{batch_id}'")]
    if len(batch_job_ids) != args.batch_rows:
        fail(f"{len(batch_job_ids)} jobs in the batch's rows, expected {args.batch_rows}")
    all_ids = cert_ids + batch_job_ids + [report_id]

    def final(job_id):
        while True:
            job = api.json("GET", f"/v1/jobs/{job_id}")
            if job["status"] in ("succeeded", "dead", "cancelled"):
                return job
            if time.monotonic() > deadline:
                return job
            time.sleep(0.5)

    jobs = dict(zip(all_ids, pool.map(final, all_ids)))
    not_ok = {i: (j["status"], j.get("error")) for i, j in jobs.items() if j["status"] != "succeeded"}
    if not_ok:
        fail(f"{len(not_ok)} jobs did not succeed, e.g. {list(not_ok.items())[:5]}")
    ph.done(f"all {len(all_ids)} jobs succeeded (API)")
    if kill_thread:
        kill_thread.join(timeout=1)
        if not kill["done"]:
            fail("the worker was never killed (the kill command did not run or failed)")

    # Every file through the API: sha256 and size as the job view says, a PDF.
    def download(job_id):
        status, data, headers = api.request("GET", f"/v1/jobs/{job_id}/file")
        result = jobs[job_id]["result"]
        if status != 200:
            return f"{job_id}: HTTP {status}"
        sha = hashlib.sha256(data).hexdigest()
        if sha != result["sha256"] or len(data) != result["bytes"] or not data.startswith(b"%PDF-"):
            return f"{job_id}: sha256 {sha} / {len(data)} bytes, view says {result}"
        return sha

    shas = dict(zip(all_ids, pool.map(download, all_ids)))
    bad = [s for s in shas.values() if len(s) != 64]
    if bad:
        fail(f"{len(bad)} downloads wrong, e.g. {bad[:3]}")
    ph.done(f"downloaded {len(shas)} files, sha256 checked")

    # The batch archive: every PDF plus manifest.csv, sha256s matching.
    status, data, _ = api.request("GET", f"/v1/batches/{batch_id}/archive")
    if status != 200:
        fail(f"archive: HTTP {status}: {data[:300]!r}")
    zf = zipfile.ZipFile(io.BytesIO(data))
    names = zf.namelist()
    pdfs = [n for n in names if n.endswith(".pdf")]
    manifest = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
    if len(pdfs) != args.batch_rows or len(manifest) != args.batch_rows:
        fail(f"archive: {len(pdfs)} PDFs, {len(manifest)} manifest rows, expected {args.batch_rows}")
    for row in manifest:
        got = hashlib.sha256(zf.read(row["file"])).hexdigest()
        if got != row["sha256"] or got != shas.get(row["job_id"]):
            fail(f"archive: {row['file']} sha256 {got}, manifest {row['sha256']}, "
                 f"download {shas.get(row['job_id'])}")
    ph.done(f"archive: {len(pdfs)} PDFs + manifest.csv ({len(data)} bytes), sha256s match")

    # The jobs table: every job succeeded once, result sha256 = downloaded, file keys unique.
    rows = psql(args.database_url,
                "select id, kind, status, attempt, result from jobs where kind <> 'maintenance'")
    table = {r[0]: r for r in rows}
    missing = [i for i in all_ids if i not in table]
    extra = [i for i in table if i not in jobs]
    if missing or extra:
        fail(f"jobs table: {len(missing)} submitted jobs missing, {len(extra)} unexpected rows")
    attempts = {}
    files = {}
    for job_id, kind, status, attempt, result in rows:
        if status != "succeeded":
            fail(f"jobs table: {job_id} is {status}")
        result = json.loads(result)
        if result["sha256"] != shas[job_id]:
            fail(f"jobs table: {job_id} sha256 {result['sha256']} != downloaded {shas[job_id]}")
        files.setdefault(result["file"], []).append(job_id)
        attempts[int(attempt)] = attempts.get(int(attempt), 0) + 1
    dup = {f: ids for f, ids in files.items() if len(ids) > 1}
    if dup:
        fail(f"jobs table: result files shared by several jobs: {list(dup.items())[:3]}")
    ph.done(f"jobs table: {len(rows)} rows succeeded, {len(files)} distinct files, attempts {attempts}")

    # The bucket holds every result file (keys are relative to the storage URL's prefix).
    keys = set(s3_keys(args.s3_endpoint, args.bucket, args.s3_prefix))
    stripped = {k[len(args.s3_prefix):].lstrip("/") for k in keys}
    absent = [f for f in files if f not in stripped and f not in keys]
    if absent:
        fail(f"bucket: {len(absent)} result files not in s3://{args.bucket}/{args.s3_prefix}, "
             f"e.g. {absent[:3]} (some keys: {sorted(keys)[:3]})")
    referenced = {args.s3_prefix.strip("/") + "/" + f if args.s3_prefix else f for f in files}
    unreferenced = sorted(k for k in keys if k not in referenced and k not in files)
    ph.done(f"bucket: {len(keys)} objects, every result file present; "
            f"{len(unreferenced)} objects no row refers to: {unreferenced[:5]}")

    summary = {
        "certificates": len(cert_ids), "batch_rows": args.batch_rows, "reports": 1,
        "jobs_succeeded": len(rows), "downloads_checked": len(shas),
        "archive_pdfs": len(pdfs), "archive_bytes": len(data), "attempts": attempts,
        "retried_jobs": sum(n for a, n in attempts.items() if a > 1),
        "worker_killed_at_s": kill["at"], "bucket_objects": len(keys),
        "unreferenced_objects": unreferenced,
        "phases_s": ph.times, "total_s": round(time.monotonic() - ph.t0, 2),
        "batch_id": batch_id, "report_id": report_id,
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(summary, f, indent=2)
    log("summary: " + json.dumps({k: v for k, v in summary.items() if k != "phases_s"}))


# --- schedules -----------------------------------------------------------------------------------

def cmd_schedules(args):
    api = Api(args.api, args.key)
    deadline = time.monotonic() + args.timeout
    while True:
        schedules = {s["name"]: s for s in api.json("GET", "/v1/schedules")["schedules"]}
        health = schedules.get(args.name)
        if health is None:
            fail(f"no schedule {args.name!r} in {sorted(schedules)}")
        run = health.get("last_run") or {}
        if health.get("last_tick_at") and run.get("status") == "succeeded":
            log(f"schedule {args.name}: cron {health['cron']!r}, last tick {health['last_tick_at']}, "
                f"last run {run['id']} succeeded at {run.get('finished_at')}, "
                f"next {health.get('next_run_at')}")
            return
        if time.monotonic() > deadline:
            fail(f"schedule {args.name}: no succeeded run after {args.timeout}s: {health}")
        time.sleep(1)


# --- bucket --------------------------------------------------------------------------------------

# moto accepts any signature, but refuses some unsigned requests (DELETE: 403): a dummy one.
S3_AUTH = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
                            "SignedHeaders=host, Signature=0"}


def _s3(method, url):
    req = urllib.request.Request(url, method=method, data=b"" if method == "PUT" else None,
                                 headers=S3_AUTH)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def cmd_make_bucket(args):
    _s3("PUT", f"{args.s3_endpoint}/{args.bucket}")
    log(f"bucket {args.bucket} created at {args.s3_endpoint}")


def cmd_drop_bucket(args):
    try:
        keys = s3_keys(args.s3_endpoint, args.bucket)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            return
        raise
    with cf.ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: _s3("DELETE", f"{args.s3_endpoint}/{args.bucket}/"
                                    f"{urllib.parse.quote(k)}"), keys))
    _s3("DELETE", f"{args.s3_endpoint}/{args.bucket}")
    log(f"bucket {args.bucket} dropped ({len(keys)} objects)")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    w = sub.add_parser("wait-ready")
    w.add_argument("urls", nargs="+")
    w.add_argument("--timeout", type=float, default=60)
    w.set_defaults(func=cmd_wait_ready)

    ld = sub.add_parser("load")
    ld.add_argument("--api", required=True)
    ld.add_argument("--key", required=True)
    ld.add_argument("--database-url", required=True)
    ld.add_argument("--s3-endpoint", required=True)
    ld.add_argument("--bucket", required=True)
    ld.add_argument("--s3-prefix", default="")
    ld.add_argument("--certs", type=int, default=500)
    ld.add_argument("--batch-rows", type=int, default=1000)
    ld.add_argument("--kill-at", type=int, default=200, help="at most 200 (one page)")
    ld.add_argument("--kill-cmd", default="")
    ld.add_argument("--threads", type=int, default=16)
    ld.add_argument("--timeout", type=float, default=300)
    ld.add_argument("--out")
    ld.set_defaults(func=cmd_load)

    s = sub.add_parser("schedules")
    s.add_argument("--api", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--name", default="health")
    s.add_argument("--timeout", type=float, default=90)
    s.set_defaults(func=cmd_schedules)

    for name, func in (("make-bucket", cmd_make_bucket), ("drop-bucket", cmd_drop_bucket)):
        b = sub.add_parser(name)
        b.add_argument("--s3-endpoint", required=True)
        b.add_argument("--bucket", required=True)
        b.set_defaults(func=func)

    args = p.parse_args()
    if getattr(args, "kill_at", 1) > 200:
        fail("--kill-at is at most 200")
    try:
        args.func(args)
    except RuntimeError as e:
        fail(str(e))


if __name__ == "__main__":
    main()
