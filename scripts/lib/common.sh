# shellcheck shell=bash
# Shared helpers for the migrate test rig. Source this file; do not execute it.
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib/common.sh"
#
# Provides: log, die, need_root, ensure_packages, ensure_engine, compose_cmd.

if [[ -n "${_MIGRATE_COMMON_SH:-}" ]]; then
    return 0
fi
_MIGRATE_COMMON_SH=1

# log MSG... : print "[rig] MSG" to stderr.
log() {
    printf '[rig] %s\n' "$*" >&2
}

# die MSG... : print an error to stderr and exit 1.
die() {
    printf '[rig] ERROR: %s\n' "$*" >&2
    exit 1
}

# need_root : exit unless running as uid 0.
need_root() {
    if [[ "$(id -u)" -ne 0 ]]; then
        die "this script must run as root (uid 0); try: sudo $0"
    fi
}

# _pkg_installed PKG : true if dpkg reports PKG as installed.
_pkg_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

# ensure_packages PKG... : apt-get install the packages not installed yet.
# Runs `apt-get update` once (per shell) if something has to be installed.
_MIGRATE_APT_UPDATED=""
ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        _pkg_installed "$pkg" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    need_root
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install manually: ${missing[*]}"
    local logf=/tmp/migrate-rig-apt.log
    log "installing packages: ${missing[*]} (log: $logf)"
    export DEBIAN_FRONTEND=noninteractive
    if [[ -z "$_MIGRATE_APT_UPDATED" ]]; then
        if ! apt-get update -q >>"$logf" 2>&1; then
            tail -n 20 "$logf" >&2 || true
            die "apt-get update failed (see $logf)"
        fi
        _MIGRATE_APT_UPDATED=1
    fi
    if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$logf" 2>&1; then
        tail -n 20 "$logf" >&2 || true
        die "apt-get install failed for: ${missing[*]} (see $logf)"
    fi
    for pkg in "${missing[@]}"; do
        _pkg_installed "$pkg" || die "package $pkg still not installed after apt-get (see $logf)"
    done
}

# ensure_engine : make sure a docker engine answers; start dockerd if not.
ensure_engine() {
    if docker info >/dev/null 2>&1; then
        return 0
    fi
    command -v dockerd >/dev/null 2>&1 || die "docker engine not running and dockerd not installed (apt-get install docker.io)"
    need_root
    local logf=/var/log/migrate-dockerd.log
    mkdir -p /var/log /var/lib/docker /run /etc/docker
    log "starting dockerd (log: $logf)"
    setsid dockerd >"$logf" 2>&1 </dev/null &
    local i
    for ((i = 0; i < 60; i++)); do
        if docker info >/dev/null 2>&1; then
            log "docker engine is up"
            return 0
        fi
        sleep 1
    done
    tail -n 30 "$logf" >&2 || true
    die "docker engine did not answer within 60 s (see $logf)"
}

# compose_cmd : echo the compose command to use ("docker compose" or "docker-compose").
# Usage: read -r -a COMPOSE <<<"$(compose_cmd)"; "${COMPOSE[@]}" up -d
compose_cmd() {
    if docker compose version >/dev/null 2>&1; then
        echo "docker compose"
    elif command -v docker-compose >/dev/null 2>&1; then
        echo "docker-compose"
    else
        die "neither 'docker compose' (v2 plugin) nor 'docker-compose' (v1) is available"
    fi
}

# What building and testing migrate needs, all Debian packages.
BUILD_PACKAGES=(g++ cmake ninja-build pkg-config libboost-dev libboost-filesystem-dev libyaml-cpp-dev
  nlohmann-json3-dev libcli11-dev libxxhash-dev libcurl4-openssl-dev catch2 librsync-dev libb2-dev libzstd-dev
  libssh2-1-dev libarchive-dev libhowardhinnant-date-dev libssl-dev)
# bind9-dnsutils: the rfc2136 DNS provider; awscli: the route53 one. bind9 (a DNS server) only for
# the tests: scripts/rig/bind.sh.
RUNTIME_PACKAGES=(docker.io docker-compose rsync postgresql-15 postgresql-client-15 busybox-static python3
  python3-yaml curl util-linux bind9-dnsutils awscli restic tzdata)
# Only the tests need these: a real sshd for the remote migration, clang's libFuzzer, iptables
# (a port that drops connections, in a network namespace of the test's own), fish and tcsh (an
# old server's user whose login shell is not POSIX), rclone (restic's REST backend), jq (the
# daemon's API driven with the seed's own jq lines), dpkg-dev (cpack's dependency list),
# systemd (systemd-analyze verify of the package's unit), openssl (the API's test certificate) and
# iproute2 (scripts/rig/swarm.sh: the Swarm nodes' network namespaces, veths and bridge).
TEST_PACKAGES=(openssh-server openssh-client sudo clang-14 libclang-rt-14-dev iptables fish tcsh rclone jq dpkg-dev
  systemd openssl iproute2)

# build_migrate [BUILD_DIR] : configure and build (optimised, with line tables for backtraces:
# -g1 compiles a quarter faster than -g) into BUILD_DIR (default build). The libraries, programs
# and unit tests are compiled in unity batches of 8 files: a fresh build took 240 s instead of
# 534 s on 2 cores (2026-12-02); an edit recompiles its batch. The batches are CI's, so a helper
# or `using` in a file that meets another file's fails here as there (build with this function).
build_migrate() {
    local root build
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
    build="${1:-$root/build}"
    log "building migrate in $build"
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DCMAKE_UNITY_BUILD=ON -DCMAKE_UNITY_BUILD_BATCH_SIZE=8 >/dev/null
    cmake --build "$build" -- -j"$(nproc)" >"$build/build.log" 2>&1 || { tail -n 40 "$build/build.log" >&2; die "build failed (see $build/build.log)"; }
}
