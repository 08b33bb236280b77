#!/usr/bin/env python3
"""A minimal RFC 3161 time-stamping authority over HTTP, for tests: each POSTed
`application/timestamp-query` is answered by `openssl ts -reply` with the TSA certificate and
key in DIR (tsa.pem, tsa.key; chain.pem: the certificates to include). Prints
`listening <port>` once it accepts requests, then serves until killed.

    tsa-server.py DIR [PORT]      # PORT 0 (default): a free one
"""

import http.server
import pathlib
import subprocess
import sys
import tempfile

DIR = pathlib.Path(sys.argv[1]).resolve()
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0

CONFIG = f"""
[tsa]
default_tsa = tsa_config

[tsa_config]
dir = {DIR}
serial = $dir/tsa-serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
certs = $dir/chain.pem
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.3.6.1.4.1.99999.1
other_policies = 1.3.6.1.4.1.99999.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        query = self.rfile.read(length)
        with tempfile.TemporaryDirectory() as work:
            work = pathlib.Path(work)
            (work / "query.tsq").write_bytes(query)
            done = subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(DIR / "tsa.cnf"),
                 "-queryfile", str(work / "query.tsq"), "-out", str(work / "reply.tsr")],
                capture_output=True,
            )
            if done.returncode != 0:
                self.send_response(500)
                self.end_headers()
                self.wfile.write(done.stderr)
                return
            reply = (work / "reply.tsr").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


(DIR / "tsa.cnf").write_text(CONFIG)
serial = DIR / "tsa-serial"
if not serial.exists():
    serial.write_text("01\n")
server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
