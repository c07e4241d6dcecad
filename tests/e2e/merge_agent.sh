#!/usr/bin/env bash
# The data/ merge through the agent protocol (a local migrate-agent over pipes: the frames,
# listing checks, pipelined requests and deltas of a remote migration, without SSH):
# the same oracle as merge_oracle.sh (rsync -a --force), then deltas of changed large files.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/checks.sh"
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}

MERGE_FLAGS=--via-agent MERGE_CHECKSUM_SEEDS="1 2" MERGE_SEEDS=${MERGE_SEEDS:-"1 2 3 4"} bash "$here/merge_oracle.sh"
echo "ok - the merge through the agent equals rsync -a --force on generated trees"

work=$(mktemp -d /tmp/merge-agent.XXXXXX)
chmod 755 "$work"  # the unreadable-file case runs as nobody
trap 'rm -rf "$work"' EXIT
src=$work/src dst=$work/dst
mkdir -p "$src"
for f in append middle truncate prepend other same; do head -c 4000000 /dev/urandom >"$src/$f.bin"; done
"$bin/migrate" merge-dir -q --via-agent "$src" "$dst" >/dev/null
echo tail >>"$src/append.bin"
printf 'XXXXXXXXXXXXXXXXXXXXXXXXXXXX' | dd of="$src/middle.bin" bs=1 seek=2000000 conv=notrunc status=none
truncate -s 3000000 "$src/truncate.bin"
{ echo head; cat "$src/prepend.bin"; } >"$src/prepend.tmp" && mv "$src/prepend.tmp" "$src/prepend.bin"
head -c 4000000 /dev/urandom >"$src/other.bin"
"$bin/migrate" merge-dir -q --json --via-agent "$src" "$dst" >"$work/out"
j() { python3 -c "import json,sys; print(json.load(open('$work/out'))$1)"; }
check "every changed file arrives equal to the source's" diff -r "$src" "$dst"
check "five changed files travel as deltas" test "$(j '["agent"]["delta_files"]')" = 5
# four small edits travel as a few KB each; the rewritten file travels whole (~4 MB)
in=$(j '["agent"]["bytes_in"]')
check "the bytes received are the one rewritten file plus small deltas ($in)" \
  test "$in" -gt 4000000 -a "$in" -lt 4400000
check "times and modes carried" test "$(stat -c %Y.%a "$src/middle.bin")" = "$(stat -c %Y.%a "$dst/middle.bin")"

# A source file that cannot be read (as nobody: mode 000) fails the run with its name, and
# leaves no temporary file behind.
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$work/u"
  cp -a "$src" "$work/u/src"
  chown -R nobody "$work/u"
  chmod 000 "$work/u/src/same.bin"
  chown root "$work/u/src/same.bin"
  set +e
  su nobody -s /bin/sh -c "'$bin/migrate' merge-dir -q --via-agent '$work/u/src' '$work/u/dst'" >"$work/u/out" 2>&1
  rc=$?
  set -e
  check "an unreadable source file is refused before anything is copied (exit 2)" test "$rc" = 2
  check "nothing was copied" test ! -e "$work/u/dst"
  check "the error names the file" grep -q "same.bin" "$work/u/out"
  check "no temporary file is left under the target" test -z "$(find "$work/u/dst" -name '.migrate.tmp.*' 2>/dev/null)"
fi
finish
