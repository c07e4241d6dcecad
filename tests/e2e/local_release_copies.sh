#!/usr/bin/env bash
# Two copies of one release, prefixed differently, run at once on one engine, each with its
# own postgres volume and data, isolated from each other; `release check` catches an
# unprefixed copy before it is started.
. "$(dirname "$0")/lib.sh"
A=$WORK/a/2.10.5
B=$WORK/b/2.10.5
base=$(port_block)
bash "$ROOT/scripts/rig/make-release.sh" "$A" 2.10.5 --port "$base" >/dev/null 2>&1
cp -a "$WORK/a" "$WORK/b"
set +e
"$BIN/migrate" release check "$A" "$B" >"$WORK/check1" 2>&1
rc=$?
set -e
check "an unprefixed copy is caught before it starts" test "$rc" -eq 1
check "the shared volume is named" grep -q "COLLISION volume 2105_postgres_data" "$WORK/check1"

"$BIN/migrate" release prefix --prefix "${PREFIX}_A" -f "$A/docker-compose.yml" >/dev/null
"$BIN/migrate" release prefix --prefix "${PREFIX}_B" -f "$B/docker-compose.yml" >/dev/null
sed -i "s/^APP_PORT=.*/APP_PORT=$((base + 1))/" "$B/.env"
echo "COMPOSE_PROJECT_NAME=${PREFIX}a" >>"$A/.env"
echo "COMPOSE_PROJECT_NAME=${PREFIX}b" >>"$B/.env"
check "the prefixed copies under their own projects and ports collide on nothing" \
  bash -c "'$BIN/migrate' release check '$A' '$B' >/dev/null"
check "release up A" "$BIN/migrate" release up "$A"
check "release up B (with -p, the same name)" "$BIN/migrate" release up "$B" -p "${PREFIX}b"
vols=$(docker volume ls --format '{{.Name}}')
check "docker volume ls shows both prefixes" bash -c "grep -qx '${PREFIX}_A_postgres_data' <<<'$vols' && grep -qx '${PREFIX}_B_postgres_data' <<<'$vols'"
pga=$(docker ps -q --filter "label=com.docker.compose.project=${PREFIX}a" --filter label=com.docker.compose.service=postgres)
pgb=$(docker ps -q --filter "label=com.docker.compose.project=${PREFIX}b" --filter label=com.docker.compose.service=postgres)
for c in "$pga" "$pgb"; do
  for _ in $(seq 1 60); do docker exec "$c" psql -U app -d appdb -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
done
docker exec "$pga" psql -q -U app -d appdb -c "create table only_in_a (x int); insert into only_in_a values (42)"
check "a row written in A is in A" test "$(docker exec "$pga" psql -At -U app -d appdb -c 'select x from only_in_a')" = 42
check "and not in B" test "$(docker exec "$pgb" psql -At -U app -d appdb -c "select count(*) from pg_tables where tablename = 'only_in_a'")" = 0
echo "copy A" >"$A/data/index.html"
echo "copy B" >"$B/data/index.html"
check "A serves its own data" bash -c "curl -fsS http://127.0.0.1:$base/index.html | grep -qx 'copy A'"
check "B serves its own data" bash -c "curl -fsS http://127.0.0.1:$((base + 1))/index.html | grep -qx 'copy B'"
check "release ps names the project" bash -c "'$BIN/migrate' release ps '$A' | grep -q 'project ${PREFIX}a'"
check "release list shows both running" bash -c "'$BIN/migrate' release list '$WORK/a' | grep -q '2/2 containers running'"
check "release down A" "$BIN/migrate" release down "$A"
check "B still runs after A is down" test -n "$(docker ps -q --filter "label=com.docker.compose.project=${PREFIX}b")"
check "A's volume is kept" bash -c "docker volume ls --format '{{.Name}}' | grep -qx '${PREFIX}_A_postgres_data'"
finish
