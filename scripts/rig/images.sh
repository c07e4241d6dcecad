#!/usr/bin/env bash
# Build the migrate test images from host packages only (no registry needed):
#
#   migrate-test/busybox:1    busybox-static + applet links
#   migrate-test/postgres:15  Debian's postgresql-15 binaries + libs + entrypoint
#
# Usage: scripts/rig/images.sh [--force]
#   Builds each image only if it is absent; --force rebuilds both.
set -euo pipefail

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$RIG_DIR/../lib/common.sh"

BUSYBOX_IMAGE="migrate-test/busybox:1"
POSTGRES_IMAGE="migrate-test/postgres:15"
PG_VER=15
PG_LIB="/usr/lib/postgresql/$PG_VER"
PG_SHARE="/usr/share/postgresql/$PG_VER"

FORCE=0
for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (usage: $0 [--force])" ;;
    esac
done

need_root
ensure_packages busybox-static "postgresql-$PG_VER"
ensure_engine

# Scratch space for the root filesystems; removed on exit, failure included.
WORK_ROOT="$(mktemp -d /tmp/migrate-img.XXXXXX)"
trap 'rm -rf "$WORK_ROOT"' EXIT

image_exists() {
    docker image inspect "$1" >/dev/null 2>&1
}

# install_busybox ROOTFS : /bin/busybox plus a link in /bin for every applet.
install_busybox() {
    local root="$1" applet
    mkdir -p "$root/usr/bin" "$root/usr/sbin"
    ln -sfn usr/bin "$root/bin"
    ln -sfn usr/sbin "$root/sbin"
    cp /bin/busybox "$root/usr/bin/busybox"
    while read -r applet; do
        [[ -z "$applet" || "$applet" == busybox ]] && continue
        [[ -e "$root/usr/bin/$applet" ]] || ln -s busybox "$root/usr/bin/$applet"
    done < <(/bin/busybox --list)
}

# base_fs ROOTFS : common directories and files of both images.
base_fs() {
    local root="$1"
    mkdir -p "$root"/{etc,root,tmp,var/tmp,usr/lib,usr/lib64,proc,sys,dev,run}
    ln -sfn usr/lib "$root/lib"
    ln -sfn usr/lib64 "$root/lib64"
    chmod 1777 "$root/tmp" "$root/var/tmp"
    chmod 700 "$root/root"
    cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL administrator:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PW
    cat >"$root/etc/group" <<'GR'
root:x:0:
postgres:x:999:
nogroup:x:65534:
GR
    printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
    printf '/bin/sh\n' >"$root/etc/shells"
}

build_busybox() {
    local work root
    work="$(mktemp -d "$WORK_ROOT/build.XXXXXX")"
    root="$work/rootfs"
    base_fs "$root"
    install_busybox "$root"
    mkdir -p "$root/srv" "$root/www"
    tar --numeric-owner -C "$root" -c . |
        docker import \
            -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            -c 'CMD ["sh"]' \
            -m "migrate test busybox (from host busybox-static)" \
            - "$BUSYBOX_IMAGE" >/dev/null
    rm -rf "$work"
}

# copy_keep_path ROOTFS FILE : copy FILE (dereferenced) to the same path in ROOTFS.
copy_keep_path() {
    local root="$1" f="$2"
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
}

write_entrypoint() {
    cat >"$1" <<'ENTRY'
#!/bin/sh
# Minimal stand-in for the official postgres image entrypoint.
# Honours POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA,
# POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD and /docker-entrypoint-initdb.d.
set -eu

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD:=}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"
: "${POSTGRES_INITDB_ARGS:=}"
export PGDATA

log() { echo "entrypoint: $*" >&2; }

# shell_quote ARGS... : print ARGS as one single-quoted shell word each.
shell_quote() {
    for a in "$@"; do
        printf "'%s' " "$(printf '%s' "$a" | sed "s/'/'\\\\''/g")"
    done
}

# as_postgres CMD ARGS... : run CMD as the postgres user. busybox su parses
# options anywhere on its command line, so the command goes in one quoted
# -c string; `exec` there means no extra process stays around.
as_postgres() {
    if [ "$(id -u)" = 0 ]; then
        su -p -s /bin/sh postgres -c "exec $(shell_quote "$@")"
    else
        "$@"
    fi
}

# Anything that is not postgres (or a postgres option) runs as given.
if [ "$#" -eq 0 ]; then
    set -- postgres
elif [ "${1#-}" != "$1" ]; then
    set -- postgres "$@"
fi
if [ "$1" != postgres ]; then
    exec "$@"
fi

if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    if [ "$(stat -c %u "$PGDATA")" != 999 ]; then
        chown -R postgres:postgres "$PGDATA"
    fi
    chmod 700 "$PGDATA"
    chown postgres:postgres /var/run/postgresql
    chmod 2775 /var/run/postgresql
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        log "error: database is uninitialized and POSTGRES_PASSWORD is not set"
        log "       (set POSTGRES_PASSWORD, or POSTGRES_HOST_AUTH_METHOD=trust)"
        exit 1
    fi
    log "initializing database in $PGDATA (superuser $POSTGRES_USER)"
    pwfile="$(mktemp /tmp/pgpw.XXXXXX)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres:postgres "$pwfile" 2>/dev/null || true
    locale_args="--locale=C.UTF-8 --encoding=UTF8"
    if [ ! -d /usr/lib/locale/C.utf8 ]; then
        locale_args="--locale=C --encoding=UTF8"
    fi
    # shellcheck disable=SC2086  # word splitting of the arg strings is wanted
    as_postgres initdb -D "$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
        $locale_args $POSTGRES_INITDB_ARGS >/tmp/initdb.log 2>&1 || {
        cat /tmp/initdb.log >&2
        rm -f "$pwfile"
        exit 1
    }
    rm -f "$pwfile"
    cat >"$PGDATA/pg_hba.conf" <<HBA
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   trust
host    all       all   ::1/128        trust
local   replication all                trust
host    replication all all            $POSTGRES_HOST_AUTH_METHOD
host    all       all   all            $POSTGRES_HOST_AUTH_METHOD
HBA
    echo "listen_addresses = '*'" >>"$PGDATA/postgresql.auto.conf"

    # The temporary server listens only on a private socket dir, so that
    # pg_isready (healthchecks) does not report ready before init is done.
    init_sock="$(mktemp -d /tmp/pginit.XXXXXX)"
    chown postgres:postgres "$init_sock" 2>/dev/null || true
    export PGHOST="$init_sock"
    as_postgres pg_ctl -D "$PGDATA" -w -s -l /tmp/pg-init.log \
        -o "-c listen_addresses='' -c unix_socket_directories=$init_sock" start
    if [ "$POSTGRES_DB" != postgres ]; then
        exists="$(as_postgres psql -X -q -t -A -U "$POSTGRES_USER" -d postgres \
            -c "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'")"
        if [ "$exists" != 1 ]; then
            log "creating database $POSTGRES_DB"
            as_postgres psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
                -c "CREATE DATABASE \"$POSTGRES_DB\""
        fi
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        [ -f "$f" ] || continue
        case "$f" in
            *.sh) log "running $f"
                # shellcheck disable=SC1090  # user-supplied init script
                . "$f" ;;
            *.sql) log "running $f"
                as_postgres psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) log "running $f"
                gunzip -c "$f" | as_postgres psql -X -q -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" ;;
            *) log "ignoring $f" ;;
        esac
    done
    as_postgres pg_ctl -D "$PGDATA" -w -s -m fast stop
    unset PGHOST
    rmdir "$init_sock" 2>/dev/null || true
    log "init done"
fi

log "starting $*"
if [ "$(id -u)" = 0 ]; then
    exec su -p -s /bin/sh postgres -c "exec $(shell_quote "$@")"
fi
exec "$@"
ENTRY
    chmod 755 "$1"
}

build_postgres() {
    local work root f lib
    work="$(mktemp -d "$WORK_ROOT/build.XXXXXX")"
    root="$work/rootfs"
    base_fs "$root"
    install_busybox "$root"

    # PostgreSQL itself (without the LLVM JIT: it would drag in ~100 MB of libLLVM).
    mkdir -p "$root$PG_LIB" "$root$PG_SHARE"
    tar -C "$PG_LIB" --exclude=./lib/llvmjit.so --exclude=./lib/llvmjit_types.bc \
        --exclude=./lib/bitcode -c . | tar -C "$root$PG_LIB" -x
    tar -C "$PG_SHARE" --exclude=./man -c . | tar -C "$root$PG_SHARE" -x

    # Every shared library the binaries and modules need, at the same path.
    local libs
    libs="$(
        for f in "$PG_LIB"/bin/* "$PG_LIB"/lib/*.so; do
            [[ "$f" == */llvmjit.so ]] && continue
            ldd "$f" 2>/dev/null || true
        done | awk '
            /not found/ { print "MISSING " $1; next }
            $2 == "=>" && $3 ~ /^\// { print $3; next }
            $1 ~ /^\// { print $1 }' | sort -u
    )"
    while read -r lib; do
        [[ -z "$lib" ]] && continue
        if [[ "$lib" == MISSING* ]]; then
            log "warning: library not found on host: ${lib#MISSING }"
            continue
        fi
        copy_keep_path "$root" "$lib"
    done <<<"$libs"
    # Make sure the dynamic loader is present whatever ldd printed for it.
    for lib in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
        [[ -e "$lib" ]] && copy_keep_path "$root" "$lib"
    done

    # Locale C.UTF-8 (compiled, ~400 kB) and time zones (postgres uses system tzdata).
    if [[ -d /usr/lib/locale/C.utf8 ]]; then
        mkdir -p "$root/usr/lib/locale"
        cp -a /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
    fi
    if [[ -d /usr/share/zoneinfo ]]; then
        mkdir -p "$root/usr/share"
        cp -a /usr/share/zoneinfo "$root/usr/share/"
        ln -sfn /usr/share/zoneinfo/Etc/UTC "$root/etc/localtime"
        echo "Etc/UTC" >"$root/etc/timezone"
    fi

    mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql" "$root/docker-entrypoint-initdb.d"
    chown -R 999:999 "$root/var/lib/postgresql" "$root/var/run/postgresql"
    chmod 700 "$root/var/lib/postgresql/data"
    chmod 2775 "$root/var/run/postgresql"
    write_entrypoint "$root/entrypoint.sh"

    tar --numeric-owner -C "$root" -c . |
        docker import \
            -c "ENV PATH=$PG_LIB/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
            -c 'ENV PGDATA=/var/lib/postgresql/data' \
            -c 'ENV LANG=C.UTF-8' \
            -c 'EXPOSE 5432' \
            -c 'ENTRYPOINT ["/entrypoint.sh"]' \
            -c 'CMD ["postgres"]' \
            -m "migrate test postgres $PG_VER (from host postgresql-$PG_VER)" \
            - "$POSTGRES_IMAGE-import" >/dev/null

    # `docker import` cannot set STOPSIGNAL; the official image stops postgres
    # with SIGINT (fast shutdown), so add it with a one-line local build
    # (no registry involved). Fall back to the plain import if that fails.
    printf 'FROM %s\nSTOPSIGNAL SIGINT\n' "$POSTGRES_IMAGE-import" >"$work/Dockerfile"
    if DOCKER_BUILDKIT=0 docker build -q -t "$POSTGRES_IMAGE" "$work" \
        -f "$work/Dockerfile" >"$work/build.log" 2>&1 </dev/null; then
        docker rmi "$POSTGRES_IMAGE-import" >/dev/null
    else
        log "warning: could not set STOPSIGNAL SIGINT (docker build failed); postgres stops on SIGTERM (smart shutdown)"
        sed 's/^/    /' "$work/build.log" >&2 || true
        docker tag "$POSTGRES_IMAGE-import" "$POSTGRES_IMAGE"
        docker rmi "$POSTGRES_IMAGE-import" >/dev/null
    fi
    rm -rf "$work"
}

build_one() {
    local image="$1" fn="$2" start
    if [[ "$FORCE" -eq 0 ]] && image_exists "$image"; then
        log "$image already present (use --force to rebuild)"
        return 0
    fi
    local old_id
    old_id="$(docker image inspect -f '{{.Id}}' "$image" 2>/dev/null || true)"
    start=$SECONDS
    log "building $image"
    "$fn"
    log "built $image in $((SECONDS - start)) s"
    # Drop the replaced image if nothing uses it any more (best effort).
    if [[ -n "$old_id" && "$old_id" != "$(docker image inspect -f '{{.Id}}' "$image")" ]]; then
        docker rmi "$old_id" >/dev/null 2>&1 || true
    fi
}

build_one "$BUSYBOX_IMAGE" build_busybox
build_one "$POSTGRES_IMAGE" build_postgres
