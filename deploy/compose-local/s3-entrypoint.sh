#!/bin/sh
# Entrypoint of the S3 stand-in for MinIO (deploy/compose-local/Containerfile): `[minio] server
# ...` (MinIO's arguments: data directory, --console-address; ignored) starts the moto S3 server
# on 0.0.0.0:9000, in memory, exiting 0 on SIGTERM (as PID 1 Python would ignore it). It accepts
# any credentials (MINIO_ROOT_USER/PASSWORD are not checked). Anything else is run as given
# (e.g. `mc ...`).
set -eu
if [ "${1:-}" = minio ]; then
    shift
fi
if [ "${1:-}" != server ]; then
    exec "$@"
fi
echo "s3 stand-in: moto_server on 0.0.0.0:9000 in place of: minio $*"
exec /opt/moto/bin/python3 -c '
import signal, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
from moto.server import main
main(["-H", "0.0.0.0", "-p", "9000"])'
