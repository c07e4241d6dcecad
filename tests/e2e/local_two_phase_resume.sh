#!/usr/bin/env bash
# migrate-local --two-phase killed with SIGKILL inside its downtime (docs/cutover.md "Resuming"),
# then run again: the second run completes the cutover, the new database holds every row the old
# one had as it stopped, the report counts the downtime from the first attempt's stop, and the old
# server keeps no replication slot. Then the same with the kill after the new release started
# (before the old server's slot was dropped).
. "$(dirname "$0")/lib.sh"
make_pair
sql "$OLD" "create table w (id int primary key)" >/dev/null
sql "$OLD" "insert into w select generate_series(1, 1000)" >/dev/null

# kill_at STEP: runs migrate-local --two-phase and SIGKILLs it once its log shows STEP begun
kill_at() {
  local pid i seen
  seen=$(cat "$NEW"/migration/*/migration.log 2>/dev/null | grep -c -- "== $1" || true)  # in the logs of earlier runs
  "$BIN/migrate-local" --from-path "$OLD" --to-path "$NEW" --two-phase --yes </dev/null >"$WORK/killed.out" 2>&1 &
  pid=$!
  for ((i = 0; i < 6000; i++)); do
    (($(cat "$NEW"/migration/*/migration.log 2>/dev/null | grep -c -- "== $1" || true) > seen)) && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.01
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
# resume_after STEP ROWS: kill at STEP, run again; the checks an operator makes
resume_after() {
  kill_at "$1"
  check "the first run was killed at '$1', in or after the downtime" \
    grep -qs -- "== stop old services" "$(ls -d "$NEW"/migration/2*/ | tail -1)/migration.log"
  local began
  began=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["downtime_began"]["utc"])' \
    "$(ls -d "$NEW"/migration/2*/ | tail -1)/state.json" 2>/dev/null || true)
  run_local "$WORK/again.out" "$WORK/again.err" --from-path "$OLD" --to-path "$NEW" --two-phase --yes --json
  check "run again, it completes (exit 0)" test "$RC" -eq 0
  [[ $RC -eq 0 ]] || tail -20 "$WORK/again.err"
  check "the report says it resumed" test "$(json "$WORK/again.out" 'j["resumed"]' 2>/dev/null)" = True
  check "its downtime counts from the first attempt's stop ($began)" \
    test "$(json "$WORK/again.out" 'j["data"]["downtime"]["from"] + " " + str(j["data"]["downtime"]["resumed"])' 2>/dev/null)" = "$began True"
  check "the new database holds the old one's rows" test "$(sql "$NEW" "select count(*) from w")" = "$2"
  compose_in "$OLD" up -d postgres >/dev/null 2>&1
  wait_healthy "$OLD"
  check "the old server keeps no replication slot" test "$(sql "$OLD" 'select count(*) from pg_replication_slots')" = 0
}
resume_after "cut over database" 1000
check "the new database is a primary" test "$(sql "$NEW" 'select pg_is_in_recovery()')" = f
for t in users events audit; do
  check "rows of $t equal the old release's" test "$(sql "$NEW" "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done

# the old release back in service, more rows; killed once the new release runs, before the old
# server's slot is dropped
compose_in "$OLD" up -d >/dev/null 2>&1
wait_healthy "$OLD"
sql "$OLD" "insert into w select generate_series(1001, 1500)" >/dev/null
resume_after "release the old server's WAL" 1500
finish
