#!/usr/bin/env bash
# A DR standby: a second daemon keeps a second install restored from the primary's repository
# (newest ready backup only, database running, other services stopped); then the primary is
# stopped, the standby promoted, and it serves the primary's data; never restored again.
. "$(dirname "$0")/lib.sh"

PRI=$WORK/primary
STB=$WORK/standby
base=$(port_block)
new_release "$PRI" 1.0.0 "$base"
# The standby: the same release under its own project and port (on another server: a copy).
bash "$ROOT/scripts/rig/make-release.sh" "$STB" 1.0.0 --port "$((base + 1))" >/dev/null
echo "COMPOSE_PROJECT_NAME=${PREFIX}standby" >>"$STB/.env"
compose_in "$PRI" up -d >/dev/null 2>&1
wait_healthy "$PRI"
OLD=$PRI seed_old
echo "correct horse battery staple" >"$WORK/pw"
work=$WORK
mig() { "$BIN/migrate" "$@" </dev/null; }
repo_args=(--repo "$WORK/repo" --password-file "$WORK/pw")
PORT=$(port_block)
cat >"$WORK/primary.yml" <<Y
install: $PRI
repo: $WORK/repo
password_file: $WORK/pw
state_dir: $WORK/pstate
listen: 127.0.0.1:$PORT
token_file: $WORK/token
Y
cat >"$WORK/standby.yml" <<Y
# the standby server's daemon: no install of its own
repo: $WORK/repo
password_file: $WORK/pw
state_dir: $WORK/sstate
standby:
  install: $STB
  frequency: "*/2 * * * * *"
Y
standby_ts() { json "$STB/backup/standby.json" 'j["timestamp"]' 2>/dev/null; }
wait_log() {  # wait_log FILE PATTERN SECONDS
  local i
  for ((i = 0; i < $3 * 5; i++)); do grep -q "$2" "$1" && return 0; sleep 0.2; done
  return 1
}
service_running() {  # service_running PROJECT SERVICE
  [[ -n $(docker ps -q --filter "label=com.docker.compose.project=$1" --filter "label=com.docker.compose.service=$2") ]]
}
service_stopped() { ! service_running "$@"; }

capture check mig daemon --config "$WORK/standby.yml" --check
check "a standby-only configuration is accepted" grep -q "standby $STB restored from $WORK/repo (\*/2 \* \* \* \* \* UTC)" "$work/check.out"

"$BIN/migrate" daemon --config "$WORK/standby.yml" >"$WORK/s.log" 2>&1 &
sd=$!
check "before any backup, the standby says there is nothing yet" wait_log "$WORK/s.log" "standby: the repository .* does not exist yet" 10
check "a standby's daemon serves no API" grep -q "the API is not served" "$WORK/s.log"

# --- the primary's daemon makes a backup (the API); the standby restores it
"$BIN/migrate" daemon --config "$WORK/primary.yml" >"$WORK/p.log" 2>&1 &
pd=$!
for _ in $(seq 100); do [[ -s "$WORK/token" ]] && curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/token")
ts1=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" -d '{}' "http://127.0.0.1:$PORT/api/backup" | jq -r .timestamp)
for _ in $(seq 120); do
  st=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/backup/status?timestamp=$ts1" | jq -r .data.status)
  [[ $st == Success || $st == Failed ]] && break
  sleep 0.5
done
check "the primary's backup is ready" test "$st" = Success
check "the standby restored it" wait_log "$WORK/s.log" "standby: restored backup $ts1 " 90
check "standby.json names it, not promoted" test "$(json "$STB/backup/standby.json" '[j["timestamp"], j["promoted_at"]]')" = "['$ts1', None]"
check "the standby's data/ is the primary's, attribute for attribute" diff <(state "$PRI/data") <(state "$STB/data")
check "the standby's database has the primary's rows" test "$(sql "$STB" "select count(*) from events")" = "$(sql "$PRI" "select count(*) from events")"
check "its database runs" service_running "${PREFIX}standby" postgres
check "its other services are stopped" service_stopped "${PREFIX}standby" app

# --- a newer ready backup is restored; a running or failed one never is
echo "made after the first backup" >"$PRI/data/second.txt"
sql "$PRI" "insert into audit(note) values ('second')" >/dev/null
ts2=$(mig backup create --json --quiet --to-path "$PRI" "${repo_args[@]}" | jq -r .timestamp)
check "the second backup has a timestamp" test -n "$ts2"
check "the standby restored the newer backup" wait_log "$WORK/s.log" "standby: restored backup $ts2 " 90
check "with the file made since" test -f "$STB/data/second.txt"
check "only the last standby restore's folder is kept" test "$(find "$STB/restore" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1
mkdir -p "$WORK/slow" "$WORK/broken"
printf '#!/usr/bin/env bash\nfor a in "$@"; do [[ $a == pg_dump ]] && sleep 60; done\nexec %s "$@"\n' "$(command -v docker)" >"$WORK/slow/docker"
printf '#!/usr/bin/env bash\nfor a in "$@"; do [[ $a == pg_dump ]] && { echo "pg_dump: out of memory" >&2; exit 1; }; done\nexec %s "$@"\n' "$(command -v docker)" >"$WORK/broken/docker"
chmod +x "$WORK/slow/docker" "$WORK/broken/docker"
# (their runs set MIGRATE_DOCKER_API=0: a `docker exec` reaches them only through the CLI,
# docs/engine-exec.md)
sleep 1.1  # a timestamp of its own
PATH="$WORK/broken:$PATH" MIGRATE_DOCKER_API=0 "$BIN/migrate" backup create --quiet --to-path "$PRI" "${repo_args[@]}" </dev/null >/dev/null 2>&1 || true
sleep 1.1
PATH="$WORK/slow:$PATH" MIGRATE_DOCKER_API=0 "$BIN/migrate" backup create --quiet --to-path "$PRI" "${repo_args[@]}" </dev/null >/dev/null 2>&1 &
slow=$!
for _ in $(seq 50); do mig backup list --json --to-path "$PRI" "${repo_args[@]}" | jq -e 'map(select(.status == "running")) | length == 1' >/dev/null && break; sleep 0.2; done
check "the repository lists a failed and a running backup newer than the standby's" \
  test "$(mig backup list --json --to-path "$PRI" "${repo_args[@]}" | jq -r '.[0:2] | map(.status) | sort | join(",")')" = "failed,running"
sleep 5  # two rounds of the standby
check "the standby still holds the newest ready one" test "$(standby_ts)" = "$ts2"
check "it started no restore of them" test "$(grep -c 'standby: restoring backup' "$WORK/s.log")" -eq 2
check "and no restore failed" bash -c "! grep -q 'the restore of backup' '$WORK/s.log'"
check "the standby's daemon runs on" kill -0 "$sd"
kill -TERM "$slow" 2>/dev/null || true  # (gone already when it failed early: that is what the checks above say)
wait "$slow" || true

# --- an install that serves is never made a standby by mistake
capture live mig restore "$ts2" --standby --yes --to-path "$PRI" "${repo_args[@]}"
check "restore --standby over a serving install that is no standby: exit 2" test "$rc" -eq 2
check "naming what runs" grep -q "$PRI runs app and is no standby yet" "$work/live.err"

# --- promotion: refused on what is no standby; a dry run changes nothing; then the real one
capture notstandby mig standby promote --to-path "$PRI" --yes
check "promoting an install that is no standby: exit 2" test "$rc" -eq 2
check "saying so" grep -q "$PRI is not a standby" "$work/notstandby.err"
capture dry mig standby promote --to-path "$STB" --dry-run
check "a dry run: exit 0, saying what it would do" bash -c "test $rc -eq 0 && grep -q 'would record the promotion' '$work/dry.out'"
check "and changing nothing" test "$(json "$STB/backup/standby.json" 'j["promoted_at"]')" = None
touch "$STB/restore/in-progress"
capture half mig standby promote --to-path "$STB" --yes
check "a standby whose restore stopped half-way is not promoted: exit 1" test "$rc" -eq 1
check "saying why" grep -q "stopped half-way" "$work/half.err"
check "and it is still a standby" test "$(json "$STB/backup/standby.json" 'j["promoted_at"]')" = None
rm "$STB/restore/in-progress"
compose_in "$PRI" stop >/dev/null 2>&1
capture promote mig standby promote --to-path "$STB" --yes --dns-hook "echo \"\$NEW_IP \$OLD_IP\" >'$WORK/hook.out'" \
  --new-ip 10.0.0.2 --old-ip 10.0.0.1
check "promote: exit 0" test "$rc" -eq 0
check "standby.json records the promotion" test "$(json "$STB/backup/standby.json" 'j["promoted_at"] is not None')" = True
check "every service of the promoted install runs" service_running "${PREFIX}standby" app
check "it serves the primary's data" test "$(curl -s "http://127.0.0.1:$((base + 1))/index.html")" = "old index"
check "the DNS hook ran with the addresses" test "$(cat "$WORK/hook.out")" = "10.0.0.2 10.0.0.1"
check "the standby loop sees the promotion and stops restoring" wait_log "$WORK/s.log" "standby: $STB was promoted at" 10

# --- a promoted install is never restored over: not by the loop, not by a new daemon, not by hand
kill -TERM "$sd"
wait "$sd" && src=0 || src=$?
check "the standby's daemon stops with exit 0" test "$src" -eq 0
echo "written on the new primary" >"$STB/data/after-promotion.txt"
compose_in "$PRI" up -d postgres >/dev/null 2>&1
wait_healthy "$PRI"
echo "only on the old primary" >"$PRI/data/late.txt"
ts3=$(mig backup create --json --quiet --to-path "$PRI" "${repo_args[@]}" | jq -r .timestamp)
check "a newer backup of the old primary is ready" test "$(mig backup status "$ts3" --json --to-path "$PRI" "${repo_args[@]}" | jq -r .status)" = ready
"$BIN/migrate" daemon --config "$WORK/standby.yml" >"$WORK/s2.log" 2>&1 &
sd=$!
check "a new start of the standby's daemon sees the promotion" wait_log "$WORK/s2.log" "standby: $STB was promoted at" 10
sleep 3
check "and restores nothing" bash -c "! grep -q 'restoring backup' '$WORK/s2.log'"
check "the promoted install keeps its own data/" bash -c "test ! -e '$STB/data/late.txt' && test -f '$STB/data/after-promotion.txt'"
capture byhand mig restore "$ts3" --standby --yes --to-path "$STB" "${repo_args[@]}"
check "restore --standby onto a promoted install: exit 1 saying why" bash -c "test $rc -eq 1 && grep -q 'was promoted at' '$work/byhand.err'"
capture again mig standby promote --to-path "$STB" --yes
check "promoting twice: exit 1, promoted already" bash -c "test $rc -eq 1 && grep -q 'promoted already' '$work/again.err'"

kill -TERM "$sd" "$pd"
wait "$sd" && src=0 || src=$?
wait "$pd" || true
check "the standby's daemon stops with exit 0" test "$src" -eq 0
[[ $FAILED -eq 0 ]] || { echo "--- standby daemon"; cat "$WORK/s.log" "$WORK/s2.log"; echo "--- primary daemon"; cat "$WORK/p.log"; }
finish
