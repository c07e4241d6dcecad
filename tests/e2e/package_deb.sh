#!/usr/bin/env bash
# The Debian package as an operator installs it: built with cpack from this build, its files
# and conffile, installed with dpkg on this machine, the systemd unit verified, the daemon run
# from the installed path, then purged.
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$E2E_DIR/checks.sh"
BUILD=$(cd "${MIGRATE_BIN:?}/.." && pwd)
WORK=$(mktemp -d /tmp/e2e-package.XXXXXX)
work=$WORK
installed=0
cleanup() {
  if ((installed)); then dpkg -P migrate >/dev/null 2>&1 || true; fi
  [[ -n "${d:-}" ]] && kill "$d" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$BUILD" && cpack -G DEB -B "$WORK/pkg") >"$WORK/cpack.log" 2>&1 || { cat "$WORK/cpack.log"; exit 1; }
deb=$(ls "$WORK"/pkg/migrate_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' >"$WORK/files"
for f in ./usr/bin/migrate ./usr/bin/migrate-local ./usr/bin/migrate-agent ./usr/lib/systemd/system/migrate.service \
  ./etc/migrate/daemon.yml ./usr/share/doc/migrate/daemon.md; do
  check "the package holds $f" grep -qx "$f" "$WORK/files"
done
check "daemon.yml is a conffile" bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/migrate/daemon.yml"
check "it depends on restic" bash -c "dpkg-deb -f '$deb' Depends | grep -q restic"

if [[ -e /usr/bin/migrate ]] || dpkg-query -W -f='${Status}' migrate 2>/dev/null | grep -q installed; then
  echo "skip - a migrate is installed on this machine already: the install checks would replace it"
  finish
  exit 0
fi
installed=1  # from here on the cleanup purges whatever dpkg left
capture dpkg dpkg -i "$deb"
check "dpkg -i installs it" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/dpkg.err"
check "the unit passes systemd-analyze verify" systemd-analyze verify /usr/lib/systemd/system/migrate.service
check "the template configuration is refused until it is filled in" bash -c "! /usr/bin/migrate daemon --check 2>/dev/null"

mkdir -p "$WORK/inst"
echo pw >"$WORK/pw"
PORT=$((19990 + RANDOM % 9))  # outside port_block's 18100-19899
cat >"$WORK/daemon.yml" <<Y
install: $WORK/inst
repo: $WORK/repo
password_file: $WORK/pw
listen: 127.0.0.1:$PORT
token_file: $WORK/token
state_dir: $WORK/state
Y
/usr/bin/migrate daemon --config "$WORK/daemon.yml" >"$WORK/d.log" 2>&1 &
d=$!
for _ in $(seq 100); do [[ -s "$WORK/token" ]] && curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
check "the installed daemon answers its API" test "$(curl -s -H "Authorization: Bearer $(cat "$WORK/token")" "http://127.0.0.1:$PORT/api/feature/getConfig?configType=backup" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["backupConfig"]["backupRetentionCount"])')" = 30
kill -TERM "$d"
wait "$d" && drc=0 || drc=$?
d=
check "and stops on SIGTERM with exit 0" test "$drc" -eq 0
capture purge dpkg -P migrate
installed=0
check "dpkg -P removes it" bash -c "test $rc -eq 0 && test ! -e /usr/bin/migrate && test ! -e /etc/migrate/daemon.yml"
finish
