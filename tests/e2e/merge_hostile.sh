#!/usr/bin/env bash
# A hostile agent (build/bin/hostile-agent) against the receiver: each scenario of rsync's 2024
# advisories and their cousins must end in a clear protocol error (exit 1), with nothing outside
# the target read, written or revealed, and no half-written file under a final name.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/checks.sh"
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
work=$(mktemp -d /tmp/merge-hostile.XXXXXX)
trap 'rm -rf "$work"' EXIT
state() { python3 "$here/../tools/treestate.py" "$1"; }
mkdir -p "$work/outside"
head -c 100000 /dev/urandom >"$work/outside/secret"
state "$work/outside" >"$work/outside.before"

# run SCENARIO EXPECTED-MESSAGE [TARGET-SETUP]: a fresh target, the hostile agent, the checks.
run() {
  local scenario=$1 expect=$2 setup=${3:-}
  local dst=$work/dst-$scenario
  mkdir -p "$dst"
  head -c 100000 /dev/urandom >"$dst/big.bin"
  touch -d @1600000000 "$dst/big.bin"
  [ -n "$setup" ] && (cd "$dst" && eval "$setup")
  state "$dst" >"$work/$scenario.before"
  : >"$work/$scenario.log"
  set +e
  HOSTILE=$scenario HOSTILE_LOG=$work/$scenario.log HOSTILE_OUTSIDE=$work/outside MIGRATE_AGENT=$bin/hostile-agent \
    timeout 60 "$bin/migrate" merge-dir -q ${MERGE_EXTRA:-} --via-agent "$work/outside" "$dst" >"$work/$scenario.out" 2>&1
  local rc=$?
  set -e
  check "$scenario: refused with exit 1 ($(tail -c 160 "$work/$scenario.out" | tr '\n' ' '))" test "$rc" = 1
  check "$scenario: the error says: $expect" grep -q -- "$expect" "$work/$scenario.out"
  check "$scenario: nothing outside the target changed" diff -q "$work/outside.before" <(state "$work/outside")
  check "$scenario: nothing named pwned exists anywhere" test -z "$(find "$work" / -xdev -maxdepth 3 -name 'pwned*' 2>/dev/null)"
  check "$scenario: no temporary or half-written file in the target" \
    test -z "$(find "$dst" -name '.migrate.tmp.*')"
}

run not-agent "does not speak the migrate agent protocol"
run error-at-once "the local agent failed: hostile-agent: cannot serve ?\[2Jtoday"
# Both exit at once: our HELLO finds them gone (EPIPE) or not, at random (about 1 run in 5
# found them gone). Either way the error must tell what they sent, not the failed write.
# (agent/session_test.cc forces the EPIPE case.)
for scenario in not-agent error-at-once; do
  expect="does not speak the migrate agent protocol"
  [ "$scenario" = error-at-once ] && expect="the local agent failed: hostile-agent: cannot serve"
  told=0
  for i in $(seq 20); do
    set +e
    HOSTILE=$scenario MIGRATE_AGENT=$bin/hostile-agent timeout 60 "$bin/migrate" merge-dir -q --via-agent \
      "$work/outside" "$work/dst-$scenario" >"$work/$scenario-$i.out" 2>&1
    set -e
    grep -q "$expect" "$work/$scenario-$i.out" && told=$((told + 1))
  done
  check "$scenario, 20 runs: each error tells what the agent sent ($told of 20)" test "$told" = 20
done
run huge-frame "a frame of 4294967295 bytes"
run truncated "ends in the middle of a frame"
run absolute "an absolute name"
run dotdot "'..' component"
run nul "a name with a NUL byte"
run long-name "longer than 255 bytes"
run duplicate "duplicate or out of order"
run through-symlink "not inside a folder sent before it"
run wrong-totals "LIST_END counts 1004 bytes"
run hash-on-folder "a content hash on an entry that is not a file"
# The target already holds the listing's first thousand entries but one (a/f0500's mtime
# differs): the receiver plans them in chunks of 16 while the listing still comes, and the
# entry out of order after them must stop the merge with the target exactly as it was, a/f0500
# included: nothing is written before the whole listing is checked.
same_as_listed='touch -d @1600000000 big.bin && mkdir a && for i in $(seq -f %04g 0 999); do printf abcd >a/f$i; done &&
  chmod 644 a/f* && chmod 755 a . && touch -d @1700000000 a/f* a . && touch -m -d @1600000001 a/f0500'
MERGE_EXTRA="--chunk-items 16" run late-violation "duplicate or out of order" "$same_as_listed"
check "late-violation: the target is exactly as it was" diff -q "$work/late-violation.before" <(state "$work/dst-late-violation")
run wrong-index "an answer for another file"
run data-outside-file "DATA frame where"
# A delta whose COPY reaches past the receiver's copy of the file: refused, nothing served.
run copy-outside "copies from outside the target's copy"
check "copy-outside: the receiver sent a signature of its own big.bin (the case was reached)" grep -q "^SIG" "$work/copy-outside.log"
# The target's big.bin is a symlink to a secret outside: the receiver must not sign (reveal) it,
# and must not write through it; the hash the agent sends lies, so the copy is refused.
run bad-hash "does not match what the agent read" "rm big.bin && ln -s '$work/outside/secret' big.bin"
check "bad-hash: no signature was sent for a file reached through a symlink" bash -c "! grep -q '^SIG' '$work/bad-hash.log'"
check "bad-hash: the symlink in the target is untouched" test "$(readlink "$work/dst-bad-hash/big.bin")" = "$work/outside/secret"

# Nothing the receiver sends is built from uninitialized memory (rsync's CVE-2024-12085):
# memcheck watches every byte written to the agent during a delta request.
if command -v valgrind >/dev/null; then
  mkdir -p "$work/vg"
  head -c 100000 /dev/urandom >"$work/vg/big.bin"
  set +e
  HOSTILE=copy-outside MIGRATE_AGENT=$bin/hostile-agent HOSTILE_OUTSIDE=$work/outside \
    valgrind -q --error-exitcode=99 --trace-children=no "$bin/migrate" merge-dir -q --via-agent "$work/outside" "$work/vg" \
    >"$work/vg.out" 2>&1
  rc=$?
  set -e
  check "memcheck: no uninitialized byte is sent to the agent (exit $rc, not 99)" test "$rc" = 1
  check "memcheck: no report" bash -c "! grep -q 'uninitialised' '$work/vg.out'"
fi
finish
