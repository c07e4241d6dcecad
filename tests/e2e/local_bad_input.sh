#!/usr/bin/env bash
# Bad input gets a clear error, the documented exit code, and changes nothing.
. "$(dirname "$0")/lib.sh"
make_pair
state "$NEW/data" >"$WORK/new.before"

# expect CODE PATTERN ARGS...: migrate-local exits CODE and says PATTERN on stderr.
expect() {
  local code=$1 pattern=$2
  shift 2
  set +e
  "$BIN/migrate-local" "$@" </dev/null >"$WORK/out" 2>"$WORK/err"
  local rc=$?
  set -e
  if [[ $rc -ne $code ]] || ! grep -q -- "$pattern" "$WORK/err"; then
    echo "  exit $rc (wanted $code), stderr:"
    sed 's/^/    /' "$WORK/err"
    return 1
  fi
}
unchanged() { diff -q "$WORK/new.before" <(state "$NEW/data") >/dev/null && test ! -e "$NEW/migration/in-progress"; }

check "no --from-path: usage error" expect 2 "no source install given" --to-path "$NEW"
check "a missing source folder" expect 2 "does not exist" --from-path "$WORK/nope" --to-path "$NEW"
check "a folder that is not an install" expect 2 "has no docker-compose.yml" --from-path "$WORK" --to-path "$NEW"
check "the same folder twice" expect 2 "the same folder" --from-path "$NEW" --to-path "$NEW"
mkdir -p "$OLD/nested"
cp "$NEW/docker-compose.yml" "$NEW/.env" "$OLD/nested/"
check "a target inside the source" expect 2 "lies inside the source" --from-path "$OLD" --to-path "$OLD/nested"
check "an unknown database service" expect 2 "has no service 'db'" --from-path "$OLD" --to-path "$NEW" --db-service db
check "an unknown flag" expect 2 "error" --from-path "$OLD" --to-path "$NEW" --frobnicate

cp "$NEW/docker-compose.yml" "$WORK/compose.good"
printf 'services:\n  postgres:\n    image: [unclosed\n' >"$NEW/docker-compose.yml"
check "a malformed compose file names file, line and column" expect 2 "docker-compose.yml:[0-9]*:[0-9]*: not valid YAML" --from-path "$OLD" --to-path "$NEW"
printf 'services:\n  - postgres\n' >"$NEW/docker-compose.yml"
check "a compose file of an unknown shape" expect 2 "must be a mapping" --from-path "$OLD" --to-path "$NEW"
cp "$WORK/compose.good" "$NEW/docker-compose.yml"
# A database that is not there is the install's fault, found before anything changes: exit 2.
sed -i 's/^POSTGRES_DB=.*/POSTGRES_DB=nosuchdb/' "$OLD/.env"
check "a source database that does not exist (exit 2)" expect 2 "the source database nosuchdb does not exist" --from-path "$OLD" --to-path "$NEW" --yes
sed -i 's/^POSTGRES_DB=.*/POSTGRES_DB=appdb/' "$OLD/.env"
sed -i 's/^POSTGRES_DB=.*/POSTGRES_DB=nosuchdb/' "$NEW/.env"
check "a target database that does not exist (exit 2, start the new release once)" expect 2 "the target database nosuchdb does not exist.*start the new release once" --from-path "$OLD" --to-path "$NEW" --yes
sed -i 's/^POSTGRES_DB=.*/POSTGRES_DB=appdb/' "$NEW/.env"
check "nothing was changed by the refused runs" unchanged

# A second run on a target being migrated is refused by the lock.
mkdir -p "$NEW/migration"
flock -o "$NEW/migration/.lock" sleep 30 &
holder=$!
sleep 0.5
check "a second run at once is refused" expect 1 "another migration is running" --from-path "$OLD" --to-path "$NEW"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
check "nothing was changed while locked" unchanged

# The old stack holds the new release's web port: detected before the restart, named.
sed -i "s/^APP_PORT=.*/APP_PORT=$(sed -n 's/^APP_PORT=//p' "$OLD/.env")/" "$NEW/.env"
compose_in "$NEW" stop app >/dev/null 2>&1
check "a port held by the old stack is named before anything changes" expect 1 "port [0-9]* of service app is held by .*project ${PREFIX}100" --from-path "$OLD" --to-path "$NEW"
check "nothing was changed by the port conflict" unchanged
run_local "$WORK/out" "$WORK/err" --from-path "$OLD" --to-path "$NEW" --stop-old
rc=$RC
check "--stop-old stops the old stack and completes" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$WORK/err"
check "the old stack is stopped" test -z "$(docker ps -q --filter label=com.docker.compose.project=${PREFIX}100)"
check "the new app answers on the port" bash -c "curl -fsS http://127.0.0.1:$(sed -n 's/^APP_PORT=//p' "$NEW/.env")/index.html | grep -qx 'old index'"
finish
