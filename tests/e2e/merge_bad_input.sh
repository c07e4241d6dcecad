#!/usr/bin/env bash
# The merge refuses what it cannot do correctly, before writing anything: an unreadable
# source file, overlapping folders, a target that is a file, a full disk.
set -euo pipefail
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/merge-bad.XXXXXX)
mnt=""
trap '[[ -n "$mnt" ]] && umount "$mnt" 2>/dev/null; rm -rf "$work"' EXIT
. "$(dirname "$0")/checks.sh"
state() { python3 "$here/../tools/treestate.py" "$1"; }
# expect CODE PATTERN CMD...: CMD exits CODE and says PATTERN on stderr.
expect() {
  local code=$1 pattern=$2 rc
  shift 2
  set +e
  "$@" >"$work/out" 2>"$work/err"
  rc=$?
  set -e
  [[ $rc -eq $code ]] && grep -q -- "$pattern" "$work/err" || { echo "  exit $rc, stderr: $(cat "$work/err")"; return 1; }
}

mkdir -p "$work/src/sub" "$work/dst"
echo one >"$work/src/a"
echo secret >"$work/src/sub/unreadable"
chmod 000 "$work/src/sub/unreadable"
echo keep >"$work/dst/keep"
chmod -R a+rwX "$work/dst"
chmod a+rx "$work" "$work/src" "$work/src/sub"
state "$work/dst" >"$work/dst.before"
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
  as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  check "an unreadable source file is named, exit 2" expect 2 "cannot read .*sub/unreadable" as_nobody "$bin/migrate" merge-dir -q "$work/src" "$work/dst"
  check "and nothing was written" diff "$work/dst.before" <(state "$work/dst")
fi
check "overlapping folders are refused" expect 2 "overlap" "$bin/migrate" merge-dir "$work/src" "$work/src/sub"
echo file >"$work/afile"
check "a target that is a file is refused" expect 2 "is not a folder" "$bin/migrate" merge-dir "$work/src" "$work/afile"
check "relative SRC and a new relative DST are taken from the current folder" \
  bash -c 'cd "$1" && "$2/migrate" merge-dir -q src new-dst/ && test "$(cat new-dst/a)" = one' _ "$work" "$bin"
check "a missing source is refused" expect 2 "is not a folder" "$bin/migrate" merge-dir "$work/nope" "$work/dst"

# A full disk: a 2 MiB file system receives 8 MiB. The run fails naming the cause and leaves
# no half-written file under a final name; with room again, the same run completes.
mnt=$work/small
mkdir -p "$mnt" "$work/big"
head -c 3000000 /dev/urandom >"$work/big/one"
head -c 3000000 /dev/urandom >"$work/big/two"
head -c 3000000 /dev/urandom >"$work/big/three"
if mount -t tmpfs -o size=2m tmpfs "$mnt" 2>/dev/null; then
  check "a full disk fails with the cause" expect 1 "No space left on device" "$bin/migrate" merge-dir -q "$work/big" "$mnt/data"
  check "nothing half-written is left, temporary files included" test -z "$(ls -A "$mnt/data" 2>/dev/null)"
  mount -o remount,size=20m "$mnt"
  check "with room again the merge completes" "$bin/migrate" merge-dir -q "$work/big" "$mnt/data"
  check "and the copy is whole" diff <(state "$work/big") <(state "$mnt/data")
  umount "$mnt"
  mnt=""
else
  echo "skip - cannot mount a tmpfs here (no CAP_SYS_ADMIN)"
fi
finish
