# Sourced (not run) by deploy/container-test.sh and deploy/compose-test.sh: what both need to
# run quire's image with podman on this machine, where no registry is reachable:
#
#   - PODMAN (the podman command with this host's settings) and ULIMITS (run/build flags);
#   - log, die, and the timing of phases: phase NAME, print_phases, elapsed, T0;
#   - podman_tools [PACKAGE...]: installs podman, runc, debootstrap, curl (and the packages
#     given) with apt-get when missing, writes /etc/containers/containers.conf when absent;
#   - ensure_base_image: makes localhost/quire-base:bookworm with `debootstrap
#     --variant=minbase` (plus ca-certificates) and `podman import`, unless it exists;
#   - build_quire_image: strips a copy of the binary into deploy/dist/quire and builds
#     deploy/Dockerfile's `prebuilt` target on the base image (sets IMAGE_SIZE).
#
# The sourcing script sets LOG_TAG (the prefix of its messages) first. Variables set here:
# ROOT, DEPLOY, DIST, LOGS (deploy/dist/logs), BINARY, BASE_IMAGE, IMAGE, PODMAN, NOFILE,
# ULIMITS, T0; exported: DISABLE_HC_SYSTEMD=true.
#
# Environment: QUIRE_BINARY (target/debug/quire; relative to the repository root or absolute),
# QUIRE_CT_BASE_IMAGE (localhost/quire-base:bookworm), QUIRE_CT_IMAGE
# (localhost/quire:container-test), QUIRE_CT_MIRROR (the Debian mirror debootstrap uses, else
# the one apt uses, else http://deb.debian.org/debian), QUIRE_CT_REBUILD_BASE=1 (make the base
# image again).
# shellcheck shell=bash disable=SC2034 # the variables are the sourcing script's

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deploy
DIST=$DEPLOY/dist
LOGS=$DIST/logs

BINARY=${QUIRE_BINARY:-target/debug/quire}
[[ $BINARY == /* ]] || BINARY=$ROOT/$BINARY
BASE_IMAGE=${QUIRE_CT_BASE_IMAGE:-localhost/quire-base:bookworm}
IMAGE=${QUIRE_CT_IMAGE:-localhost/quire:container-test}

# Rootful podman nested in a container host: runc and cgroupfs (no systemd), and explicit
# rlimits (podman's defaults ask for more than this host allows). nofile: 65536, or the hard
# limit of this shell when lower (raising it needs CAP_SYS_RESOURCE, which may be missing).
PODMAN=(podman --runtime runc --cgroup-manager cgroupfs --events-backend file)
NOFILE=65536
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < NOFILE)); then
    NOFILE=$(ulimit -Hn)
fi
ULIMITS=(--ulimit "nofile=$NOFILE:$NOFILE" --ulimit "nproc=8192:8192")
# No systemd, hence no timers for healthchecks: without this podman logs an error for each
# container with a healthcheck it starts or removes (`podman healthcheck run` still works).
export DISABLE_HC_SYSTEMD=true

log() { echo "$LOG_TAG: $*"; }
die() {
    echo "$LOG_TAG: ERROR: $*" >&2
    exit 1
}

# --- timing -------------------------------------------------------------------------------------

T0=$(date +%s.%N)
PHASE=
PHASE_T=
PHASES=()
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
phase() { # name (empty: close the current phase)
    local now
    now=$(date +%s.%N)
    if [[ -n $PHASE ]]; then
        PHASES+=("$(printf '%-66s %6s s' "$PHASE" "$(elapsed "$PHASE_T" "$now")")")
        log "phase done: $PHASE ($(elapsed "$PHASE_T" "$now") s)"
    fi
    PHASE=$1
    PHASE_T=$now
    [[ -z $PHASE ]] || log "phase: $PHASE"
}
print_phases() { printf '  %s\n' "${PHASES[@]}"; }

# --- tools --------------------------------------------------------------------------------------

podman_tools() { # [more Debian packages: NAME or COMMAND:NAME]
    [[ $(id -u) -eq 0 ]] || die "run as root (rootful podman, debootstrap)"
    local tool missing=() installed=()
    for tool in podman:podman runc:runc debootstrap:debootstrap curl:curl "$@"; do
        if [[ $tool == *:* ]]; then
            command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
        else
            dpkg-query -W -f '${Status}' "$tool" 2>/dev/null | grep -q 'ok installed' ||
                missing+=("$tool")
        fi
    done
    if ((${#missing[@]})); then
        log "apt-get install ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=120 update -qq || die "apt-get update failed"
        apt-get -o DPkg::Lock::Timeout=120 install -y -qq --no-install-recommends "${missing[@]}" \
            >/dev/null || die "apt-get install ${missing[*]} failed"
    fi
    # For interactive use of podman on this host too (and for tools that run podman themselves):
    # the same settings as the flags above, only when there is no containers.conf yet (an
    # existing one is left alone; the flags win anyway).
    if [[ ! -e /etc/containers/containers.conf ]]; then
        mkdir -p /etc/containers
        cat >/etc/containers/containers.conf <<EOF
# Written by quire deploy/podman-lib.sh: rootful podman on a host without systemd.
[containers]
default_ulimits = ["nofile=$NOFILE:$NOFILE", "nproc=8192:8192"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
        log "wrote /etc/containers/containers.conf"
    fi
    "${PODMAN[@]}" info >/dev/null || die "podman does not work here (see above)"
}

# --- base image ---------------------------------------------------------------------------------

debian_mirror() {
    if [[ -n ${QUIRE_CT_MIRROR:-} ]]; then
        echo "$QUIRE_CT_MIRROR"
        return
    fi
    local uri
    # deb822 stanzas (URIs + Suites with bookworm), then one-line sources.
    uri=$(awk '
        /^[[:space:]]*$/ { if (u != "" && s ~ /(^| )bookworm( |$)/) { print u; exit } u = ""; s = "" }
        /^URIs:/ { u = $2 }
        /^Suites:/ { $1 = ""; s = $0 " " }
        END { if (u != "" && s ~ /(^| )bookworm( |$)/) print u }' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1)
    if [[ -z $uri ]]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { if ($(i + 1) == "bookworm") print $i; break } }' \
            /etc/apt/sources.list 2>/dev/null | head -n 1)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

remove_rootfs() {
    # debootstrap mounts proc/sys inside while it works: never delete through a mount.
    { grep -F " $1/" /proc/mounts || true; } | awk '{ print $2 }' | sort -r |
        xargs -r -n 1 umount -l 2>/dev/null || true
    rm -rf --one-file-system "$1"
}

make_base_image() {
    local mirror rootfs
    mirror=$(debian_mirror)
    rootfs=$(mktemp -d /var/tmp/quire-base.XXXXXX)
    mkdir -p "$LOGS"
    log "debootstrap --variant=minbase --include=ca-certificates bookworm from $mirror (log $LOGS/debootstrap.log)"
    if ! debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" \
        >"$LOGS/debootstrap.log" 2>&1; then
        tail -n 40 "$LOGS/debootstrap.log" >&2
        remove_rootfs "$rootfs"
        die "debootstrap failed (see above)"
    fi
    # As slim as debian:bookworm-slim: no package cache or lists, man pages, docs (copyright
    # files kept), locales; logs emptied.
    (
        cd "$rootfs" || exit 1
        rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* \
            usr/share/man/* usr/share/info/* usr/share/locale/* var/log/apt/* var/log/*.log \
            var/cache/debconf/*-old var/lib/dpkg/*-old
        find usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
        find usr/share/doc -mindepth 1 -type d -empty -delete
    )
    tar --numeric-owner --xattrs -C "$rootfs" -c . |
        "${PODMAN[@]}" import --quiet \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["/bin/bash"]' \
            --message "debootstrap --variant=minbase --include=ca-certificates bookworm $mirror" \
            - "$BASE_IMAGE" >/dev/null || { remove_rootfs "$rootfs"; die "podman import failed"; }
    remove_rootfs "$rootfs"
}

# Opens the phase "base image" only when it has work to do.
ensure_base_image() {
    if [[ ${QUIRE_CT_REBUILD_BASE:-0} == 1 ]] && "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
        "${PODMAN[@]}" rmi -f "$BASE_IMAGE" >/dev/null
    fi
    if "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
        log "base image $BASE_IMAGE exists (QUIRE_CT_REBUILD_BASE=1 makes it again)"
    else
        phase "base image (debootstrap + podman import)"
        make_base_image
        log "base image $BASE_IMAGE: $("${PODMAN[@]}" image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes"
    fi
}

# --- quire image --------------------------------------------------------------------------------

build_quire_image() {
    [[ -x $BINARY ]] || die "no binary at $BINARY (build it: cargo build -p quire; or set QUIRE_BINARY)"
    mkdir -p "$DIST" "$LOGS"
    # A copy first: the build may replace the file while we read it.
    cp "$BINARY" "$DIST/quire.tmp"
    strip -o "$DIST/quire" "$DIST/quire.tmp"
    rm -f "$DIST/quire.tmp"
    # The base has glibc and libgcc only: refuse a binary that wants more.
    local others old_image new_image
    others=$(ldd "$DIST/quire" | awk '{ print $1 }' |
        grep -vE '^(linux-vdso\.so|/lib64/ld-linux-x86-64\.so|lib(c|m|gcc_s|pthread|dl|rt)\.so)' || true)
    [[ -z $others ]] || die "$BINARY links libraries the base image lacks: $others"
    old_image=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE" 2>/dev/null || true)
    if ! "${PODMAN[@]}" build -f "$DEPLOY/Dockerfile" --ignorefile "$DEPLOY/Dockerfile.dockerignore" \
        --target prebuilt --build-arg "RUNTIME_BASE=$BASE_IMAGE" --network host "${ULIMITS[@]}" \
        -t "$IMAGE" "$ROOT" >"$LOGS/build.log" 2>&1; then
        tail -n 40 "$LOGS/build.log" >&2
        die "podman build failed (see above)"
    fi
    new_image=$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$IMAGE")
    if [[ -n $old_image && $old_image != "$new_image" ]]; then
        "${PODMAN[@]}" rmi "$old_image" >/dev/null 2>&1 || true
    fi
    IMAGE_SIZE=$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")
    log "image $IMAGE: $IMAGE_SIZE bytes ($((IMAGE_SIZE / 1000000)) MB; binary $(stat -c %s "$DIST/quire") bytes stripped)"
}
