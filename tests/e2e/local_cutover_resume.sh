#!/usr/bin/env bash
# migrate-local --two-phase killed with SIGKILL inside its downtime (docs/cutover.md "Resuming"),
# then run again: the second run completes the cutover, the new database holds every row the old
# one had as it stopped, the report counts the downtime from the first attempt's stop, and the old
# server keeps no replication slot. Then killed after the new release started (before the old
# server's slot was dropped) and written to: the re-run finishes without copying over that write.
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
  KILLED=0
  wait "$pid" 2>/dev/null || KILLED=$?
}
# last_state FIELD: the last run folder's state.json, FIELD of it
last_state() { python3 -c 'import json,sys; print(eval("json.load(open(sys.argv[1]))" + sys.argv[2]))' "$(ls -d "$NEW"/migration/2*/ | tail -1)/state.json" "$1" 2>/dev/null || true; }

# killed inside the downtime, as the database is cut over: the re-run carries the cutover out again
kill_at "cut over database"
check "the first run was killed (SIGKILL) as it began to cut over the database" test "$KILLED" = 137
[[ $KILLED = 137 ]] || tail -20 "$WORK/killed.out"
began=$(last_state '["downtime_began"]["utc"]') began_epoch=$(last_state '["downtime_began"]["epoch"]')
rerun_at=$(date +%s.%N)
run_local "$WORK/again.out" "$WORK/again.err" --from-path "$OLD" --to-path "$NEW" --two-phase --yes --json
check "run again, it completes (exit 0)" test "$RC" -eq 0
[[ $RC -eq 0 ]] || tail -20 "$WORK/again.err"
check "the report says it resumed" test "$(json "$WORK/again.out" 'j["resumed"]' 2>/dev/null)" = True
check "its downtime counts from the first attempt's stop ($began), not the re-run's" \
  test "$(json "$WORK/again.out" 'j["data"]["downtime"]["from"] + " " + str(j["data"]["downtime"]["resumed"]) + " " + str(j["data"]["downtime"]["seconds"] >= '"$rerun_at - $began_epoch"')' 2>/dev/null)" = "$began True True"
check "the new database holds the old one's rows" test "$(sql "$NEW" "select count(*) from w")" = 1000
check "the new database is a primary" test "$(sql "$NEW" 'select pg_is_in_recovery()')" = f
compose_in "$OLD" up -d postgres >/dev/null 2>&1
wait_healthy "$OLD"
check "the old server keeps no replication slot" test "$(sql "$OLD" 'select count(*) from pg_replication_slots')" = 0
for t in users events audit; do
  check "rows of $t equal the old release's" test "$(sql "$NEW" "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done

# the old release back in service, more rows; killed once the new release runs (before the old
# server's slot is dropped); the new release takes a write; the re-run must not copy over it
compose_in "$OLD" up -d >/dev/null 2>&1
wait_healthy "$OLD"
sql "$OLD" "insert into w select generate_series(1001, 1500)" >/dev/null
kill_at "release the old server's WAL"
check "the second run was killed (SIGKILL) after the new release started" test "$KILLED" = 137
[[ $KILLED = 137 ]] || tail -20 "$WORK/killed.out"
check "its state says the cutover was done" test "$(last_state '["cutover_done"]')" = True
sql "$NEW" "insert into w values (99999)" >/dev/null
# the old release serving again meanwhile: its writes since would be lost, so finishing is refused
compose_in "$OLD" up -d >/dev/null 2>&1
run_local "$WORK/served.out" "$WORK/served.err" --from-path "$OLD" --to-path "$NEW" --two-phase --yes --json
check "with the old release serving again, finishing is refused (exit 2) and says why" \
  bash -c "test $RC = 2 && grep -q 'serves again since this run.s cutover' '$WORK/served.err'"
compose_in "$OLD" stop app >/dev/null 2>&1
run_local "$WORK/again2.out" "$WORK/again2.err" --from-path "$OLD" --to-path "$NEW" --two-phase --yes --json
check "run again, it completes (exit 0)" test "$RC" -eq 0
[[ $RC -eq 0 ]] || tail -20 "$WORK/again2.err"
check "it did not copy the database again" \
  test "$(json "$WORK/again2.out" '[s["status"] for s in j["steps"] if s["name"] == "cut over database"]' 2>/dev/null)" = "['skipped']"
check "the write the new release took after the cutover is still there, with the old rows" \
  test "$(sql "$NEW" "select count(*) from w")" = 1501
compose_in "$OLD" up -d postgres >/dev/null 2>&1
wait_healthy "$OLD"
check "the old server keeps no replication slot" test "$(sql "$OLD" 'select count(*) from pg_replication_slots')" = 0
finish
