#!/usr/bin/env bash
# migrate-local --two-phase (docs/cutover.md): a writer inserts into the old release's database all
# through phase 1 and until the old postgres stops; afterwards every row it saw committed is in the
# new database, and the old one holds nothing the new one lacks. The report records the downtime.
# Then the same with --db-method logical (the path another postgres major version takes): the
# dump replayed inside the downtime, the old database's writes held meanwhile.
. "$(dirname "$0")/lib.sh"
make_pair
sql "$OLD" "create table w (id int primary key, at timestamptz default now())" >/dev/null
cp -a "$NEW/data" "$WORK/expected"
# (--modify-window=-1: times compared to the nanosecond, as migrate's; see local_migrate.sh)
rsync -a --force --modify-window=-1 "$OLD/data/" "$WORK/expected/"

# start_writer TABLE: one psql session, an insert per line, each followed by an \echo of its id,
# printed to $WORK/committed-TABLE once the insert committed (autocommit); it ends when the old
# postgres stops
start_writer() {
  (
    echo $BASHPID >"$WORK/producer-$1.pid"
    i=0
    while :; do
      i=$((i + 1))
      printf 'insert into %s(id) values (%d);\n\\echo %d\n' "$1" "$i" "$i" || exit 0
      sleep 0.02
    done
  ) | docker exec -i "$(pg_container "$OLD")" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 \
    >"$WORK/committed-$1" 2>"$WORK/writer-$1.err" &
  sleep 2
  check "the writer is writing into $1" test "$(wc -l <"$WORK/committed-$1")" -gt 10
}
# start_reconnecting_writer TABLE: an insert per session (docker exec psql -c each), logged once
# it committed: ending the old database's sessions does not stop it, only holding its writes does
start_reconnecting_writer() {
  local c
  c=$(pg_container "$OLD")
  : >"$WORK/committed-$1"
  (
    echo $BASHPID >"$WORK/producer-$1.pid"
    i=0
    while :; do
      i=$((i + 1))
      docker exec "$c" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 -c "insert into $1(id) values ($i)" \
        >/dev/null 2>>"$WORK/writer-$1.err" && echo "$i" >>"$WORK/committed-$1"
      sleep 0.02
    done
  ) &
  # a docker exec each: a few a second, fewer on a loaded machine
  for _ in $(seq 120); do
    (($(wc -l <"$WORK/committed-$1") > 5)) && break
    sleep 0.5
  done
  check "the writer is writing into $1" test "$(wc -l <"$WORK/committed-$1")" -gt 5
}
stop_writer() {
  kill "$(cat "$WORK/producer-$1.pid")" 2>/dev/null || true
  wait || true
}
start_writer w

run_local "$WORK/dry.out" "$WORK/dry.err" --from-path "$OLD" --to-path "$NEW" --two-phase --dry-run --json
check "the dry run estimates the downtime from its parts, with the machine's pace measured" \
  test "$(json "$WORK/dry.out" 'abs(j["data"]["downtime_estimate"]["seconds"] - sum(j["data"]["downtime_estimate"]["parts"].values())) < 0.01 and j["data"]["downtime_estimate"]["seconds"] > 2 and j["data"]["downtime_estimate"]["measured"]["pace"] > 0' 2>/dev/null)" = True
check "the dry run made no replication slot and left the new database as it was" \
  test "$(sql "$OLD" 'select count(*) from pg_replication_slots')/$(sql "$NEW" 'select count(*) from pg_tables where tablename = '"'w'"'')" = 0/0

run_local "$WORK/run.out" "$WORK/run.err" --from-path "$OLD" --to-path "$NEW" --two-phase --json
check "migrate-local --two-phase exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || tail -20 "$WORK/run.err"
stop_writer w
steps=$(json "$WORK/run.out" '" | ".join(s["name"] for s in j["steps"])' 2>/dev/null || true)
check "its steps: the standby copy and WAL rounds while the old release serves, then the cutover" \
  grep -q 'merge data/ | copy database (standby) | ship WAL | stop old services | merge data/ (final delta) | cut over database | restart | release the old server.s WAL | verify database' <<<"$steps"
check "the report records the downtime" \
  test "$(json "$WORK/run.out" 'j["data"]["downtime"]["seconds"] > 0 and "downtime" in [c["name"] for c in j["checks"]]' 2>/dev/null)" = True
phase1=$(json "$WORK/run.out" '[s["detail"] for s in j["steps"] if s["name"] == "ship WAL"][0]' 2>/dev/null | sed -n 's/.* in \([0-9]*\) rounds.*/\1/p')
check "WAL kept being shipped after phase 1's rounds, until the old postgres stopped" \
  test "$(json "$WORK/run.out" 'j["database"]["wal_rounds"]' 2>/dev/null || echo 0)" -gt "${phase1:-1000}"
check "the copy's rows were verified against the stopped source's" \
  test "$(json "$WORK/run.out" '[c["ok"] for c in j["checks"] if c["name"] == "database row counts and sequences"]' 2>/dev/null)" = "[True]"
echo "downtime $(json "$WORK/run.out" 'j["data"]["downtime"]["seconds"]' 2>/dev/null) s; the dry run estimated $(json "$WORK/dry.out" 'j["data"]["downtime_estimate"]["seconds"]' 2>/dev/null) s"
last=$(tail -1 "$WORK/committed-w")
check "the writer wrote through phase 1 (more than 2 s of inserts)" test "${last:-0}" -gt 100
check "every row the writer saw committed is in the new database" \
  test "$(sql "$NEW" "select count(*) from w where id <= ${last:-0}")" = "${last:-0}"
check "the old postgres is down after the cutover" test -z "$(pg_container "$OLD")"
compose_in "$OLD" up -d postgres >/dev/null 2>&1
wait_healthy "$OLD"
check "nothing landed on the old database that the new one lacks" \
  test "$(sql "$OLD" "select count(*), max(id) from w")" = "$(sql "$NEW" "select count(*), max(id) from w")"
check "the cutover's replication slot is gone from the old server" test "$(sql "$OLD" 'select count(*) from pg_replication_slots')" = 0
check "schema (pg_dump -s) equals the old one's" diff <(schema "$OLD") <(schema "$NEW")
for t in users events audit; do
  check "rows of $t equal the old release's" test "$(sql "$NEW" "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done
check "the new database is a primary, not a standby any more" test "$(sql "$NEW" 'select pg_is_in_recovery()')" = f
check "data/ equals rsync -a --force (every entry and attribute)" diff <(state "$WORK/expected") <(state "$NEW/data")
port=$(sed -n 's/^APP_PORT=//p' "$NEW/.env")
check "the new app serves the migrated data" bash -c "curl -fsS http://127.0.0.1:$port/index.html | grep -qx 'old index'"

# --- the logical path inside the downtime
compose_in "$OLD" up -d >/dev/null 2>&1
wait_healthy "$OLD"
sql "$OLD" "create table w2 (id int primary key)" >/dev/null
start_reconnecting_writer w2
run_local "$WORK/dry2.out" "$WORK/dry2.err" --from-path "$OLD" --to-path "$NEW" --two-phase --db-method logical --dry-run --json
check "the logical path's dry run estimates the replay inside the downtime" \
  test "$(json "$WORK/dry2.out" '"replay database" in j["data"]["downtime_estimate"]["parts"] and "last WAL" not in j["data"]["downtime_estimate"]["parts"]' 2>/dev/null)" = True
check "its plan says the downtime grows with the database" \
  grep -q 'replays the dump inside the downtime' <(json "$WORK/dry2.out" '[c["detail"] for c in j["checks"] if c["name"] == "database method"][0]')
before_run=$(wc -l <"$WORK/committed-w2")
run_local "$WORK/run2.out" "$WORK/run2.err" --from-path "$OLD" --to-path "$NEW" --two-phase --db-method logical --json
check "migrate-local --two-phase --db-method logical exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || tail -20 "$WORK/run2.err"
stop_writer w2
steps=$(json "$WORK/run2.out" '" | ".join(s["name"] + ("(skipped)" if s["status"] == "skipped" else "") for s in j["steps"])' 2>/dev/null || true)
check "its steps: no standby; in the downtime the writes held and the dump replayed" \
  grep -q 'merge data/ | copy database (standby)(skipped) | stop old services | merge data/ (final delta) | hold writes | replay database | restart' <<<"$steps"
[[ -n "$steps" ]] || tail -5 "$WORK/run2.err"
last=$(tail -1 "$WORK/committed-w2")
# (one `docker exec` a row: a few a second, and the logical path's phase 1 is short, a second or
# two; at least one row committed while the run ran says the old release kept serving.)
check "the writer kept writing during the run, until the cutover ($before_run committed before it, $(wc -l <"$WORK/committed-w2") in all)" \
  test "$(wc -l <"$WORK/committed-w2")" -gt "$before_run"
check "every row it saw committed is in the new database" \
  test "$(sql "$NEW" "select count(*) from w2 where id in ($(paste -sd, "$WORK/committed-w2"))")" = "$(wc -l <"$WORK/committed-w2")"
check "the report records the downtime" test "$(json "$WORK/run2.out" 'j["data"]["downtime"]["seconds"] > 0' 2>/dev/null)" = True
compose_in "$OLD" up -d postgres >/dev/null 2>&1
wait_healthy "$OLD"
check "nothing landed on the old database that the new one lacks" \
  test "$(sql "$OLD" "select count(*), max(id) from w2")" = "$(sql "$NEW" "select count(*), max(id) from w2")"
check "schema (pg_dump -s) equals the old one's" diff <(schema "$OLD") <(schema "$NEW")
finish
