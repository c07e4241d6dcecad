#!/usr/bin/env bash
# migrate-local --db-method physical (docs/physical-db.md): the old release's whole cluster copied
# as files into a new release whose database, user and password differ; checked against pg_dump
# -s of the source (the oracle), the new release's own credentials and server settings, its
# safety copy and roll back; refused (exit 2, nothing changed) where it cannot be done.
. "$(dirname "$0")/lib.sh"

OLD=$WORK/releases/1.0.0
NEW=$WORK/releases/2.0.0
base=$(port_block)
new_release "$OLD" 1.0.0 "$base"
bash "$ROOT/scripts/rig/make-release.sh" "$NEW" 2.0.0 --port "$((base + 1))" --password 'n3w-p@ss' >/dev/null
sed -i 's/^POSTGRES_USER=.*/POSTGRES_USER=owner2/; s/^POSTGRES_DB=.*/POSTGRES_DB=shop/' "$NEW/.env"
echo "COMPOSE_PROJECT_NAME=${PREFIX}200" >>"$NEW/.env"
compose_in "$OLD" up -d >/dev/null 2>&1
compose_in "$NEW" up -d >/dev/null 2>&1
wait_healthy "$OLD"
for _ in $(seq 60); do
  docker exec "$(pg_container "$NEW")" pg_isready -U owner2 -d shop >/dev/null 2>&1 && break
  sleep 1
done
seed_old
# new_sql "SQL": in the new release's database as its own user
new_sql() { docker exec -i "$(pg_container "$NEW")" psql -X -q -At -U owner2 -d shop -v ON_ERROR_STOP=1 -c "$1"; }
new_schema() {
  docker exec "$(pg_container "$NEW")" pg_dump -s -U owner2 -d shop | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$'
}
new_sql "CREATE TABLE target_only (x int); INSERT INTO target_only VALUES (1), (2);"
# server settings: the new release's own stay, the old one's are not carried
new_sql "ALTER SYSTEM SET work_mem = '7MB'"
sql "$OLD" "ALTER SYSTEM SET work_mem = '3MB'"
docker exec "$(pg_container "$NEW")" psql -X -q -U owner2 -d shop -c 'select pg_reload_conf()' >/dev/null
npg=$(pg_container "$NEW")

# --- refused where it cannot be done: the old cluster also has a database named as the new one's
docker exec "$(pg_container "$OLD")" psql -X -q -U app -d postgres -c 'CREATE DATABASE shop' >/dev/null
run_local "$WORK/refused.out" "$WORK/refused.err" --from-path "$OLD" --to-path "$NEW" --skip-data --db-method physical --yes
check "physical with a clash of database names: exit 2, saying why" \
  bash -c "test $RC -eq 2 && grep -q 'has a database shop besides appdb' '$WORK/refused.err'"
check "... and nothing changed: the new release's table is there" test "$(new_sql 'select count(*) from target_only')" = 2
run_local "$WORK/auto-dry.out" "$WORK/auto-dry.err" --from-path "$OLD" --to-path "$NEW" --skip-data --db-method auto --dry-run
check "auto with the clash plans the logical path and says why" \
  bash -c "test $RC -eq 0 && grep -q 'logical: a dump replayed: the source.s cluster has a database shop' '$WORK/auto-dry.out'"
docker exec "$(pg_container "$OLD")" psql -X -q -U app -d postgres -c 'DROP DATABASE shop' >/dev/null
run_local "$WORK/dry.out" "$WORK/dry.err" --from-path "$OLD" --to-path "$NEW" --skip-data --db-method auto --dry-run
check "auto plans the physical path" grep -q 'physical: the cluster copied as files (postgres 15 on both sides)' "$WORK/dry.out"
old_folder=$(docker volume inspect -f '{{.Mountpoint}}' "${PREFIX}100_postgres_data")
new_folder=$(docker volume inspect -f '{{.Mountpoint}}' "${PREFIX}200_postgres_data")
check "... written as files by the old release's pg_basebackup in its volume's folder and moved into the new one's" \
  grep -q "written as files by the source's pg_basebackup in $old_folder and moved into $new_folder (both on this host)" "$WORK/dry.out"
# What a killed copy left in the old release's data directory (its run is gone): removed by the
# next copy, never copied.
dead=$(sh -c 'echo $$')  # a pid whose process has ended
mkdir -p "$old_folder/pgsql_tmp_migrate_copy_$dead/base"
echo left >"$old_folder/pgsql_tmp_migrate_copy_$dead/base/1"

# --- the copy
run_local "$WORK/run.out" "$WORK/run.err" --from-path "$OLD" --to-path "$NEW" --skip-data --db-method physical --json
check "migrate-local --db-method physical exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || cat "$WORK/run.err"
mdir=$(json "$WORK/run.out" 'j["migration_dir"]' 2>/dev/null || echo /nonexistent)
check "the report says physical and has its step" \
  test "$(json "$WORK/run.out" 'j["database"]["method"] + " " + str([s["name"] for s in j["steps"]].count("copy database"))')" = "physical 1"
check "the copy was made on this host, written as files (nothing compressed)" \
  test "$(json "$WORK/run.out" 'str(j["database"]["staged_on_host"]) + " " + j["database"]["compression"]')" = "True none"
check "... the old release's data directory holds no copy afterwards, nor what a killed one left" \
  test "$(find "$old_folder" -maxdepth 1 -name 'pgsql_tmp_migrate_copy_*' | wc -l)" = 0
check "... and the new one's holds none of them" \
  test "$(find "$new_folder" -name 'pgsql_tmp_migrate_copy_*' | wc -l)" = 0
check "schema (pg_dump -s) of the new database equals the old one's" \
  diff <(docker exec "$(pg_container "$OLD")" pg_dump -s -U app -d appdb | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$') <(new_schema)
for t in users events audit; do
  check "rows of $t equal the source's" test "$(new_sql "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done
check "the large object is carried" test "$(new_sql 'select count(*) from pg_largeobject_metadata')" = 1
check "no id is used twice: the next user id is past the old one's last" \
  test "$(new_sql "select nextval('users_id_seq')")" -gt "$(sql "$OLD" "select last_value from users_id_seq")"
check "the old release's roles came along (reporter, app)" test "$(new_sql "select count(*) from pg_roles where rolname in ('reporter', 'app')")" = 2
check "the new release's user logs in over the network with its own password" \
  docker exec "$npg" sh -c "PGPASSWORD=n3w-p@ss psql -X -At -h \"\$(hostname -i)\" -U owner2 -d shop -c 'select count(*) from users' | grep -qx 260"
docker exec "$npg" sh -c "PGPASSWORD=wrong psql -X -At -h \"\$(hostname -i)\" -U owner2 -d shop -c 'select 1'" \
  >"$WORK/wrong.out" 2>&1 || true
check "... and a wrong password is refused" grep -q 'password authentication failed for user "owner2"' "$WORK/wrong.out"
check "the new release's server settings stay its own (work_mem 7MB, not the old 3MB)" test "$(new_sql 'show work_mem')" = 7MB
check "nothing is left staged or set aside in PGDATA" \
  docker exec "$npg" sh -c 'test ! -e /var/lib/postgresql/data/.migrate-new && test ! -e /var/lib/postgresql/data/.migrate-old'
check "the copy's files belong to the new release's postgres user" \
  test "$(docker exec "$npg" find /var/lib/postgresql/data ! -user postgres | wc -l)" = 0
check "the old server holds no replication slot of the copy" test "$(sql "$OLD" 'select count(*) from pg_replication_slots')" = 0
check "the old server's WAL was held for the copy (a slot, no warning)" bash -c "! grep -q 'could not hold' '$WORK/run.err'"
check "the old release still serves" test "$(sql "$OLD" 'select count(*) from users')" = 260
check "the safety copy is the new release's whole cluster (a base backup with its manifest)" \
  bash -c "tar -tzf '$mdir/target-cluster.tar.gz' | grep -qx backup_manifest"
rollback=$(json "$mdir/report.json" '[s for s in j["next_steps"] if s.startswith("roll back the database: ")][0][len("roll back the database: "):]' 2>/dev/null || true)

# --- again, through the container (docker's relay, pg_verifybackup, a helper container: where
# the volume's folder is not this process's to write): nothing in the way of a second copy
sql "$OLD" "INSERT INTO users (email) VALUES ('second@copy.example')"
MIGRATE_PHYSICAL_ON_HOST=0 run_local "$WORK/again.out" "$WORK/again.err" --from-path "$OLD" --to-path "$NEW" --skip-data \
  --db-method physical --json
check "a second physical migration, through the container, exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || cat "$WORK/again.err"
check "... staged in the container, its base backup in gzip" \
  test "$(json "$WORK/again.out" 'str(j["database"]["staged_on_host"]) + " " + j["database"]["compression"]')" = "False gzip"
check "... its schema (pg_dump -s) equals the old one's" \
  diff <(docker exec "$(pg_container "$OLD")" pg_dump -s -U app -d appdb | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$') <(new_schema)
check "... and the row written since the first copy is there" test "$(new_sql "select count(*) from users where email = 'second@copy.example'")" = 1

# --- the old release written all through a copy (its app keeps serving): the copy is the source as
# its base backup ended, so it holds every row committed before the run and none the source never
# had; the run does not fail on the counts that moved meanwhile (its snapshot and sequences moved).
before_rows=$(sql "$OLD" "select count(*) from users")
opg=$(pg_container "$OLD")
(
  for i in $(seq 600); do
    [[ -e "$WORK/stop-writer" ]] && exit 0
    docker exec "$opg" psql -X -q -U app -d appdb -c "INSERT INTO users (email) VALUES ('w$i@writer.example')" >/dev/null 2>&1
  done
) &
writer=$!
sleep 0.5
run_local "$WORK/written.out" "$WORK/written.err" --from-path "$OLD" --to-path "$NEW" --skip-data --db-method physical --json
touch "$WORK/stop-writer"
wait "$writer" || true
after_rows=$(sql "$OLD" "select count(*) from users")
copied=$(new_sql "select count(*) from users")
check "a copy while the old release is written exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || cat "$WORK/written.err"
check "... the writer wrote during the run (the test's premise)" test "$after_rows" -gt "$((before_rows + 2))"
check "... the copy holds the rows from before the run, some the writer added, and none the source never had" \
  test "$before_rows" -lt "$copied" -a "$copied" -le "$after_rows"
check "... its report: counts equal to the source's, or the source said written meanwhile" \
  test "$(json "$WORK/written.out" 'str(j["database"]["source"]["tables"] == j["database"]["target"]["tables"] or j["database"]["source_changed"])')" = True

# --- killed (SIGKILL) between the swap and the credentials: the copy runs with the old release's
# roles only; the next run's preflight gives the new release its user and database back first.
# A docker shim kills migrate-local as soon as the target's postgres started on the copy.
mkdir -p "$WORK/shim"
npg_name=$(docker inspect -f '{{.Name}}' "$npg")
cat >"$WORK/shim/docker" <<SHIM
#!/bin/bash
"$(command -v docker)" "\$@"; rc=\$?
if [[ "\$1" == start && ( "\$2" == "$npg" || "/\$2" == "$npg_name" ) ]]; then kill -9 \$PPID; fi
exit \$rc
SHIM
chmod +x "$WORK/shim/docker"
# (MIGRATE_DOCKER_API=0: `docker start` is run by the CLI, where the shim sees it, not through the
# engine's API; the copy then takes the container's path: the marker and its resume are the same.)
PATH=$WORK/shim:$PATH MIGRATE_DOCKER_API=0 run_local "$WORK/killed.out" "$WORK/killed.err" --from-path "$OLD" --to-path "$NEW" --skip-data \
  --db-method physical --yes
check "a copy killed right after the swap ends with SIGKILL" test "$RC" -eq 137
check "... leaving the new release's user unable to log in (the copy has the old release's roles only)" \
  bash -c "! docker exec '$npg' psql -X -At -U owner2 -d shop -c 'select 1' >/dev/null 2>&1"
check "... and its marker in the migration folder" test -s "$NEW/migration/physical-copy.json"
# (streamed in zstd and unpacked here: MIGRATE_PHYSICAL_AS_FILES=0, the path a copy from another
# server's cluster takes)
MIGRATE_PHYSICAL_AS_FILES=0 run_local "$WORK/resumed.out" "$WORK/resumed.err" --from-path "$OLD" --to-path "$NEW" \
  --skip-data --db-method physical --yes --json
check "the next run exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || cat "$WORK/resumed.err"
check "... its copy staged on this host, its base backup streamed in zstd" \
  test "$(json "$WORK/resumed.out" 'str(j["database"]["staged_on_host"]) + " " + j["database"]["compression"]')" = "True zstd"
check "... saying it gave the new release's user and database back" grep -q "owner2 and database shop were given back" "$WORK/resumed.err"
check "... and the new release's user logs in to its database" test "$(new_sql "select count(*) from users where email = 'second@copy.example'")" = 1
check "... the marker gone" test ! -e "$NEW/migration/physical-copy.json"

# --- the first run's roll back puts the new release's cluster back as it was
check "the report gives the database's roll back command" test -n "$rollback"
set +e
bash -c "$rollback" >"$WORK/rollback.out" 2>&1
rrc=$?
set -e
check "the roll back command runs" test "$rrc" -eq 0
for _ in $(seq 60); do
  docker exec "$npg" pg_isready -U owner2 -d shop >/dev/null 2>&1 && new_sql 'select 1' >/dev/null 2>&1 && break
  sleep 1
done
check "after the roll back: the new release's own table and no old table" \
  test "$(new_sql "select count(*) from target_only") $(new_sql "select count(*) from pg_tables where tablename = 'events'")" = "2 0"
finish
