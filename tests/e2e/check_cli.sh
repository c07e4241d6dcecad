#!/usr/bin/env bash
# migrate check on the real engine: the table, --json, --require-gpu, folders that are not
# installs, --from-path's disk rows, --from's placeholder row, a stopped postgres with its fix.
# The machines this runs on have no GPU: the GPU row must say so.
. "$(dirname "$0")/lib.sh"

# This suite's compose projects are named chk<pid>..., apart from the migtest* projects that
# other suites and the rig clean up; it removes exactly the stacks it started.
PREFIX=chk$$
cleanup_suite() {
  local d
  for d in "$WORK"/releases/*/; do
    [[ -f "$d/docker-compose.yml" ]] && compose_in "${d%/}" down -v >/dev/null 2>&1 || true
  done
  if [[ -z "${KEEP_WORK:-}" ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}

PY=/usr/bin/python3
OLD=$WORK/releases/1.0.0
NEW=$WORK/releases/2.0.0
base=$(port_block)
new_release "$OLD" 1.0.0 "$base"
new_release "$NEW" 2.0.0 "$((base + 1))"
compose_in "$OLD" up -d postgres >/dev/null 2>&1
compose_in "$NEW" up -d postgres >/dev/null 2>&1
wait_healthy "$OLD"
wait_healthy "$NEW"
echo "seed" >"$OLD/data/seed.txt"

# run_check OUT ARGS...: migrate check with no stdin; sets RC, stderr into OUT.err.
run_check() {
  local out=$1
  shift
  set +e
  "$BIN/migrate" check "$@" </dev/null >"$out" 2>"$out.err"
  RC=$?
  set -e
}
# row FILE NAME STATUS [TEXT]: the table has row NAME with STATUS (and TEXT in its detail).
row() {
  local line
  line=$(grep -E "^$2 +$3 " "$1") || return 1
  [[ -z "${4:-}" || "$line" == *"$4"* ]]
}
# jrow FILE NAME FIELD: FIELD of the JSON row NAME.
jrow() { "$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); print([c[sys.argv[3]] for c in j["checks"] if c["name"]==sys.argv[2]][0])' "$@"; }

run_check "$WORK/ok.txt" --to-path "$NEW"
cat "$WORK/ok.txt"
check "a healthy install passes (exit 0)" test "$RC" = 0
check "docker engine row is ok with the server version" row "$WORK/ok.txt" "docker engine" ok "server "
check "compose row is ok and says v1 or v2" row "$WORK/ok.txt" compose ok "(v"
check "install row names the release" row "$WORK/ok.txt" install ok "release 2.0.0"
check "postgres row says the database answers" row "$WORK/ok.txt" postgres ok "appdb in project ${PREFIX}200, postgres 15"
check "free disk row is ok" row "$WORK/ok.txt" "free disk" ok "free in $NEW"
check "the GPU row says this host has no GPU" row "$WORK/ok.txt" gpu skip "no GPU"
check "the summary line counts the checks" grep -q "^all 5 checks passed, 1 skipped$" "$WORK/ok.txt"

run_check "$WORK/ok.json" --to-path "$NEW" --json
check "--json exits 0 too" test "$RC" = 0
check "--json parses and says ok" test "$(json "$WORK/ok.json" 'j["result"]')" = ok
check "--json has format version 1" test "$(json "$WORK/ok.json" 'j["version"]')" = 1
check "--json: docker engine ok" test "$(jrow "$WORK/ok.json" "docker engine" status)" = ok
check "--json: compose ok" test "$(jrow "$WORK/ok.json" compose status)" = ok
check "--json: gpu skip" test "$(jrow "$WORK/ok.json" gpu status)" = skip
check "--json: nothing but JSON on stdout" "$PY" -c 'import json,sys; json.load(open(sys.argv[1]))' "$WORK/ok.json"

run_check "$WORK/gpu.txt" --to-path "$NEW" --require-gpu
check "--require-gpu on a host without GPU exits 1" test "$RC" = 1
check "--require-gpu makes the GPU row fail" row "$WORK/gpu.txt" gpu fail "no GPU"
check "... with what to do" grep -q "fix: run this on the GPU server, or install the NVIDIA driver" "$WORK/gpu.txt"
run_check "$WORK/gpu.json" --to-path "$NEW" --require-gpu --json
check "--require-gpu --json says fail" test "$(json "$WORK/gpu.json" 'j["result"]')" = fail

run_check "$WORK/img.txt" --to-path "$NEW" --gpu-image migrate-test/busybox:1
check "--gpu-image without a GPU runs no container and passes" test "$RC" = 0
check "--gpu-image without a GPU: one GPU row, skip" row "$WORK/img.txt" gpu skip "no GPU"

run_check "$WORK/missing.txt" --to-path "$WORK/no-such-folder"
check "a missing --to-path exits 1" test "$RC" = 1
check "a missing --to-path is a failed install row naming it" \
  row "$WORK/missing.txt" install fail "the folder $WORK/no-such-folder does not exist"
mkdir -p "$WORK/plain"
run_check "$WORK/plain.txt" --to-path "$WORK/plain"
check "a folder that is not an install exits 1" test "$RC" = 1
check "... with a failed install row saying why" row "$WORK/plain.txt" install fail "is not an install: it has no docker-compose.yml"
check "... and what to do" grep -q "fix: give --to-path the release folder that holds docker-compose.yml" "$WORK/plain.txt"
(cd "$WORK/plain" && "$BIN/migrate" check >"$WORK/cwd.txt" 2>&1) && RC=0 || RC=$?
check "without --to-path, a current folder that is not an install is skipped, not failed" test "$RC" = 0
check "... and the row says how to name one" row "$WORK/cwd.txt" install skip "give --to-path DIR"

run_check "$WORK/nodb.txt" --to-path "$NEW" --db-service nosuch
check "an unknown --db-service fails the postgres row" row "$WORK/nodb.txt" postgres fail "has no service 'nosuch'"

run_check "$WORK/from.txt" --to-path "$NEW" --from-path "$OLD"
cat "$WORK/from.txt"
check "--from-path on two healthy installs exits 0" test "$RC" = 0
check "--from-path checks the source install" row "$WORK/from.txt" "source install" ok "release 1.0.0"
check "--from-path checks the source's postgres" row "$WORK/from.txt" "source postgres" ok "appdb in project ${PREFIX}100"
check "free disk compares with what the migration needs" row "$WORK/from.txt" "free disk" ok "needed at most (data/ "
check "free disk for the replayed database is checked" row "$WORK/from.txt" "free disk for the database" ok "twice the source database"
run_check "$WORK/same.txt" --to-path "$NEW" --from-path "$NEW"
check "the same folder as source and target fails" row "$WORK/same.txt" "source install" fail "the same folder"

# Port 1 on loopback: nothing listens, so the connection is refused at once.
# (The rows of a reachable old server are tested in remote_migrate.sh.)
run_check "$WORK/remote.txt" --to-path "$NEW" --from root@127.0.0.2:1
check "--from a host that refuses exits 1" test "$RC" = 1
check "... with a failed ssh row saying it was refused" row "$WORK/remote.txt" ssh fail "refused the connection on port 1"
check "... and what to do" grep -q "fix: fix the SSH access" "$WORK/remote.txt"

compose_in "$NEW" stop postgres >/dev/null 2>&1
run_check "$WORK/stopped.txt" --to-path "$NEW"
cat "$WORK/stopped.txt"
check "a stopped postgres exits 1" test "$RC" = 1
check "a stopped postgres is a failed row" row "$WORK/stopped.txt" postgres fail "service postgres of project ${PREFIX}200 is not running"
check "... whose fix starts it" grep -q "fix: start it: .* up -d postgres$" "$WORK/stopped.txt"
run_check "$WORK/stopped.json" --to-path "$NEW" --json
check "--json carries the fix" bash -c '[[ "$1" == *"up -d postgres" ]]' _ "$(jrow "$WORK/stopped.json" postgres fix)"
check "the check changed nothing: postgres is still stopped" test -z "$(pg_container "$NEW")"

set +e
"$BIN/migrate" check --no-such-flag >/dev/null 2>&1
RC=$?
set -e
check "an unknown flag is bad usage (exit 2)" test "$RC" = 2

finish
