#!/bin/sh
# Entrypoint of the Redis stand-in (deploy/compose-local/Containerfile): like the official redis
# image's, `redis-server [options]` runs as user redis in /data with protected mode off (the
# official image's default: it is reached over the container network). Anything else is run
# as given.
set -eu
if [ "${1:-}" != redis-server ]; then
    exec "$@"
fi
chown -R redis:redis /data
exec setpriv --reuid=redis --regid=redis --init-groups "$@" --protected-mode no
