#!/usr/bin/env bash
# The data/ merge against its oracle: on generated trees, `migrate merge-dir SRC DST` must
# leave DST exactly as `rsync -a --force SRC/ DST/` does (every entry, every attribute), must
# not change a hard-link snapshot of DST taken before (data.backup/ shares its inodes), and a
# second run must write nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
seeds=${MERGE_SEEDS:-"1 2 3 4 5 6 7 8"}
files=${MERGE_FILES:-400}
checksum_seeds=${MERGE_CHECKSUM_SEEDS-"1 2 3"}
base_flags=${MERGE_FLAGS:-}  # e.g. --via-agent: the same oracle through the agent protocol
work=$(mktemp -d /tmp/merge-oracle.XXXXXX)
trap 'rm -rf "$work"' EXIT
state() { python3 "$here/../tools/treestate.py" "$1"; }
fail=0
for seed in $seeds; do
  d=$work/$seed
  # Odd seeds plan and apply a few entries at a time: every chunk boundary case comes up.
  flags=$base_flags
  ((seed % 2)) && flags="$flags --chunk-items $((seed + 2))"
  python3 "$here/../tools/gentree.py" "$d/src" "$d/dst" --seed "$seed" --files "$files"
  cp -a "$d/dst" "$d/by-rsync"
  cp -a "$d/dst" "$d/by-migrate"
  cp -al "$d/by-migrate" "$d/backup"
  state "$d/backup" >"$d/backup.before"
  rsync -a --force "$d/src/" "$d/by-rsync/"
  "$bin/migrate" merge-dir -q $flags "$d/src" "$d/by-migrate" >"$d/out1"
  state "$d/by-rsync" >"$d/expect"
  state "$d/by-migrate" >"$d/got"
  state "$d/backup" >"$d/backup.after"
  if ! diff -u "$d/expect" "$d/got" >"$d/diff"; then
    echo "FAIL seed $seed: merge differs from rsync -a --force:"; head -40 "$d/diff"; fail=1; continue
  fi
  if ! diff -u "$d/backup.before" "$d/backup.after" >"$d/bdiff"; then
    echo "FAIL seed $seed: the hard-link snapshot changed:"; head -20 "$d/bdiff"; fail=1; continue
  fi
  "$bin/migrate" merge-dir -q $flags --json "$d/src" "$d/by-migrate" >"$d/out2"
  if ! python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); p=j["plan"]; sys.exit(0 if j["files_written"]==0 and p["create"]==0 and p["replace"]==0 and p["attrs"]==0 else 1)' "$d/out2"; then
    echo "FAIL seed $seed: a second run still changed something:"; cat "$d/out2"; fail=1; continue
  fi
  echo "ok seed $seed: $(wc -l <"$d/expect") entries equal to rsync's; snapshot unchanged; re-run idle"
  # --checksum against rsync -c: same size and time but other content is replaced too.
  if [[ " $checksum_seeds " == *" $seed "* ]]; then
    cp -a "$d/dst" "$d/c-rsync"
    cp -a "$d/dst" "$d/c-migrate"
    rsync -a --force -c "$d/src/" "$d/c-rsync/"
    "$bin/migrate" merge-dir -q $flags --checksum "$d/src" "$d/c-migrate" >/dev/null
    state "$d/c-migrate" >"$d/c-got"
    if ! diff -u <(state "$d/c-rsync") "$d/c-got" >"$d/cdiff"; then
      echo "FAIL seed $seed: merge --checksum differs from rsync -a --force -c:"; head -40 "$d/cdiff"; fail=1; continue
    fi
    if cmp -s "$d/expect" "$d/c-got"; then
      echo "FAIL seed $seed: --checksum changed nothing more than the quick check (the case is missing)"; fail=1; continue
    fi
    echo "ok seed $seed: --checksum equal to rsync -c"
  fi
done
exit $fail
