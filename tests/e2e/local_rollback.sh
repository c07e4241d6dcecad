#!/usr/bin/env bash
# A replay that fails (the new server's postgres lacks an extension the old database uses)
# leaves the target database exactly as it was, says why, and a run after the fix completes.
. "$(dirname "$0")/lib.sh"
make_pair

docker exec "$(pg_container "$NEW")" sh -c 'rm /usr/share/postgresql/15/extension/pgcrypto*'
schema "$NEW" >"$WORK/schema.before"
sql "$NEW" "select * from users order by id" >"$WORK/rows.before"

run_local "$WORK/out" "$WORK/err" --from-path "$OLD" --to-path "$NEW"
rc=$RC
check "the run fails with exit code 1" test "$rc" -eq 1
check "the error names pg_restore and the cause" grep -q "pg_restore into the target failed.*pgcrypto" "$WORK/err"
check "the target's schema is unchanged" diff "$WORK/schema.before" <(schema "$NEW")
check "the target's rows are unchanged" diff "$WORK/rows.before" <(sql "$NEW" "select * from users order by id")
check "no staging database left" test "$(sql "$NEW" "select count(*) from pg_database where datname like '%__migrate_%'")" = 0
mdir=$(ls -d "$NEW"/migration/2* | head -1)
check "report.json says failed, with the error" test "$(json "$mdir/report.json" 'j["result"]')" = failed
check "report.json tells how to roll back" grep -q "pg_restore" "$mdir/report.json"

# The operator fixes the new server (a fresh container from the image has the extension).
compose_in "$NEW" up -d --force-recreate postgres >/dev/null 2>&1
wait_healthy "$NEW"
run_local "$WORK/report.out" "$WORK/err2" --from-path "$OLD" --to-path "$NEW" --json
rc=$RC
check "the run after the fix completes" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$WORK/err2"
check "it resumed the failed migration" test "$(json "$WORK/report.out" 'j["resumed"]')" = True
check "the database now equals the source's" diff <(schema "$OLD") <(schema "$NEW")
finish
