#!/usr/bin/env bash
# migrate-local between two running demo releases: what an operator checks afterwards.
. "$(dirname "$0")/lib.sh"
make_pair

# --- a dry run changes nothing
state "$NEW/data" >"$WORK/new.before"
schema "$NEW" >"$WORK/new-schema.before"
set +e
"$BIN/migrate-local" --from-path "$OLD" --to-path "$NEW" --dry-run >"$WORK/dry.out" 2>&1
rc=$?
set -e
check "dry run exits 0" test "$rc" -eq 0
check "dry run prints the data plan" grep -q "to create" "$WORK/dry.out"
check "dry run prints the database plan" grep -q "^database: replace appdb" "$WORK/dry.out"
check "dry run leaves data/ as it was" cmp -s "$WORK/new.before" <(state "$NEW/data")
check "dry run leaves the database as it was" cmp -s "$WORK/new-schema.before" <(schema "$NEW")
check "dry run writes no migration folder" test ! -e "$NEW/migration"

# --- the oracle for data/: rsync -a --force of the same trees, its times compared to the
# nanosecond as migrate's are (--modify-window=-1; docs/migrate-local.md): by default rsync takes
# two times of the same second as equal, and leaves the new release's where both releases' trees
# were seeded within one second (the suites' make_pair, on a fast machine)
cp -a "$NEW/data" "$WORK/expected"
rsync -a --force --modify-window=-1 "$OLD/data/" "$WORK/expected/"

# --- the migration
run_local "$WORK/report.out" "$WORK/run.err" --from-path "$OLD" --to-path "$NEW" --json
rc=$RC
check "migrate-local exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || { cat "$WORK/run.err"; }
check "--json prints result ok" test "$(json "$WORK/report.out" 'j["result"]')" = ok
mdir=$(json "$WORK/report.out" 'j["migration_dir"]')
check "report.json is written" test "$(json "$mdir/report.json" 'j["result"]')" = ok
check "report.json has per-step times" test "$(json "$mdir/report.json" 'len([s for s in j["steps"] if s["seconds"] >= 0])')" -ge 5
check "the log is written" grep -q "merge data/" "$mdir/migration.log"

# data/
check "data/ equals rsync -a --force (every entry and attribute)" diff <(state "$WORK/expected") <(state "$NEW/data")
check "target-only files are kept" grep -qx "kept" "$NEW/data/target-only-dir/keep.me"
check "a replaced file has the source content" grep -qx "old index" "$NEW/data/index.html"
check "mtime carried to the nanosecond" test "$(stat -c %y "$NEW/data/index.html")" = "$(stat -c %y "$OLD/data/index.html")"
check "setuid bit carried" test "$(stat -c %a "$NEW/data/uploads/2024/photo one.jpg")" = 4755
check "owner carried" test "$(stat -c %u:%g "$NEW/data/conf/key.pem")" = 1234:2345
check "symlinks stay symlinks" test "$(readlink "$NEW/data/outside-link")" = "$WORK/outside-target"
check "nothing was written through the link" test "$(stat -c '%Y %s' "$WORK/outside-target")" = "$(date -d '2020-01-02 03:04:05' +%s) 14"
check "a folder that became a file" test -f "$NEW/data/became-dir"
check "a file that became a folder" test -f "$NEW/data/became-file/inner"
check "sparse file content equal" cmp -s "$OLD/data/sparse.img" "$NEW/data/sparse.img"
check "sparse file stays sparse" test "$(du -k "$NEW/data/sparse.img" | cut -f1)" -lt 1024
check "no temporary names left" test -z "$(find "$NEW/data" -name '.migrate.tmp.*')"

# safety copy
check "data.backup/ holds the target's data/ as it was" diff "$WORK/new.before" <(state "$mdir/data.backup")
check "target-db.dump is a readable pg_dump archive" bash -c "pg_restore -l '$mdir/target-db.dump' | grep -q 'TABLE public target_only'"

# database
for t in users events audit; do
  check "rows of $t equal the source's" test "$(sql "$NEW" "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done
check "sequence users_id_seq carried" test "$(sql "$NEW" "select last_value from users_id_seq")" = "$(sql "$OLD" "select last_value from users_id_seq")"
check "sequence events_id_seq carried" test "$(sql "$NEW" "select last_value from events_id_seq")" = "$(sql "$OLD" "select last_value from events_id_seq")"
check "schema (pg_dump -s) equals the source's" diff <(schema "$OLD") <(schema "$NEW")
check "target-only table is gone" test "$(sql "$NEW" "select count(*) from pg_tables where tablename = 'target_only'")" = 0
check "the trigger did not fire during the load" test "$(sql "$NEW" "select count(*) from audit")" = 10
check "large objects carried" test "$(sql "$NEW" "select count(*) from pg_largeobject_metadata")" = 1
check "role reporter exists" test "$(sql "$NEW" "select count(*) from pg_roles where rolname = 'reporter'")" = 1
check "the new release's password still logs in over TCP" \
  bash -c "docker exec -e PGPASSWORD=s3cr3t-Demo_pw $(pg_container "$NEW") psql -h 127.0.0.1 -U app -d appdb -Atc \"select 1\" >/dev/null"
check "no staging database left" test "$(sql "$NEW" "select count(*) from pg_database where datname like '%__migrate_%'")" = 0

# restart
port=$(sed -n 's/^APP_PORT=//p' "$NEW/.env")
check "the new stack's services run" test "$(compose_in "$NEW" ps -q | wc -l)" -eq 2
check "the new app serves the migrated data" bash -c "curl -fsS http://127.0.0.1:$port/index.html | grep -qx 'old index'"
check "the old stack is still running (default keeps it)" test -n "$(pg_container "$OLD")"

# --- a second run has nothing left to copy and succeeds
restart_detail() { json "$1" '[s["detail"] for s in j["steps"] if s["name"] == "restart"][0]'; }
app_before=$(compose_in "$NEW" ps -q app)
TO_PATH_TEMP=$WORK/elsewhere run_local "$WORK/report2.out" "$WORK/run2.err" --from-path "$OLD" --to-path "$NEW" --json
rc=$RC
check "a second run exits 0" test "$rc" -eq 0
check "TO_PATH_TEMP holds the second run's migration folder" test -f "$(json "$WORK/report2.out" 'j["migration_dir"]')/report.json" -a "$(dirname "$(json "$WORK/report2.out" 'j["migration_dir"]')")" = "$WORK/elsewhere"
check "a second run writes no file" test "$(json "$WORK/report2.out" 'j["data"]["merge"]["files_written"]')" = 0
check "a second run finds the new stack up and unchanged: no compose up" \
  grep -q 'compose up not needed' <<<"$(restart_detail "$WORK/report2.out")"
check "a second run leaves the app's container as it was" test "$(compose_in "$NEW" ps -q app)" = "$app_before"

# --- a changed configuration of the new release: compose up recreates what it changes
echo "MIGRATE_E2E_CHANGED=1" >>"$NEW/.env"
sed -i 's/^    init: true$/&\n    environment:\n      MIGRATE_E2E_CHANGED: ${MIGRATE_E2E_CHANGED:-0}/' "$NEW/docker-compose.yml"
run_local "$WORK/report3.out" "$WORK/run3.err" --from-path "$OLD" --to-path "$NEW" --json
rc=$RC
check "a run after the configuration changed exits 0" test "$rc" -eq 0
check "it runs compose up" test -z "$(grep 'not needed' <<<"$(restart_detail "$WORK/report3.out")")"
check "the app's container is made again from the new configuration" \
  test "$(docker inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$(compose_in "$NEW" ps -q app)" | grep -c '^MIGRATE_E2E_CHANGED=1$')" = 1

# --- the roll-back commands the first report printed put the target back as it was
step() { json "$WORK/report.out" '[n.split(": ", 1)[1] for n in j["next_steps"] if n.startswith(sys.argv[3])][0]' "$1"; }
compose_in "$NEW" stop app >/dev/null 2>&1
check "the data/ roll-back command works" bash -c "$(step "roll back data/")"
check "data/ is back as it was" diff "$WORK/new.before" <(state "$NEW/data")
check "the database roll-back command works" bash -c "$(step "roll back the database") >/dev/null 2>&1"
check "the database is back as it was" diff "$WORK/new-schema.before" <(schema "$NEW")
check "the target-only table is back" test "$(sql "$NEW" "select count(*) from target_only")" = 2
finish
