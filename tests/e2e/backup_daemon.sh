#!/usr/bin/env bash
# migrate daemon on a running demo install: the configuration checked at start, scheduled
# backups with retention, a stop in the middle of a backup, and kill -9 then a restart.
. "$(dirname "$0")/lib.sh"

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $((18100 + RANDOM % 800))
compose_in "$INST" up -d >/dev/null 2>&1
wait_healthy "$INST"
OLD=$INST seed_old
echo "correct horse battery staple" >"$WORK/pw"
work=$WORK
mig() { "$BIN/migrate" "$@" </dev/null; }
ready_count() { mig backup list --json --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" |
  python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["status"] == "ready"))'; }
config() {  # config FREQUENCY ENABLED
  cat >"$WORK/daemon.yml" <<Y
# the test's daemon
install: $INST
repo: $WORK/repo
password_file: $WORK/pw
state_dir: $WORK/state
backupConfig:
  enableRegularBackups: $2
  backupFrequency: "$1"   # seconds first
  backupRetentionCount: 2
Y
}

# --- the configuration: checked, refused with its line
config "*/5 * * * * *" true
capture check mig daemon --config "$WORK/daemon.yml" --check
check "daemon --check: a good configuration, exit 0" test "$rc" -eq 0
check "daemon --check names the schedule" grep -q '\*/5 \* \* \* \* \* UTC, keep the last 2' "$work/check.out"
sed 's/backupRetentionCount: 2/backupRetentionCount: many/' "$WORK/daemon.yml" >"$WORK/bad.yml"
capture bad mig daemon --config "$WORK/bad.yml"
check "a bad configuration: exit 2" test "$rc" -eq 2
check "a bad configuration: its line and the reason" grep -q "bad.yml:9: backupRetentionCount must be a whole number" "$work/bad.err"
sed 's/backupFrequency: .*/backupFrequency: "0 0 0 * *"/' "$WORK/daemon.yml" >"$WORK/bad.yml"
capture badcron mig daemon --config "$WORK/bad.yml"
check "a schedule of 5 fields: exit 2 naming the line" grep -q 'bad.yml:8: backupFrequency: "0 0 0 \* \*" has 5 fields' "$work/badcron.err"

# --- every 5 s, keep 2: after 26 s, exactly 2 ready backups
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d1.log" 2>&1 &
d=$!
sleep 26
kill -TERM "$d"
wait "$d" && drc=0 || drc=$?
check "the daemon stops on SIGTERM with exit 0" test "$drc" -eq 0
check "it made backups on the schedule" test "$(grep -c '^backup .* ready$' "$WORK/d1.log")" -ge 3
check "retention: exactly 2 ready backups are left" test "$(ready_count)" -eq 2
check "retention said so" grep -q "retention: forgot" "$WORK/d1.log"
check "nothing is listed running or failed" test "$(mig backup list --json --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" | python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["status"] != "ready"))')" -eq 0
check "every job is journalled with its end" python3 - "$WORK/state/jobs.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
started = {e["seq"] for e in ev if e["event"] == "started"}
ended = {e["of"] for e in ev if e["event"] == "ended"}
sys.exit(0 if started and started == ended else 1)
PY

# --- kill -9 in the middle of a backup; the next start marks it failed and schedules on
mkdir -p "$WORK/shim"
cat >"$WORK/shim/docker" <<EOF2
#!/usr/bin/env bash
for a in "\$@"; do [[ \$a == pg_dump ]] && sleep 30; done
exec "$(command -v docker)" "\$@"
EOF2
chmod +x "$WORK/shim/docker"
PATH="$WORK/shim:$PATH" "$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d2.log" 2>&1 &
d=$!
for _ in $(seq 100); do grep -q "^scheduled backup .* started" "$WORK/d2.log" && break; sleep 0.2; done
killed=$(sed -n 's/^scheduled backup \(.*\) started$/\1/p' "$WORK/d2.log" | head -1)
check "a scheduled backup runs (its dump held up)" test -n "$killed"
sleep 1
kill -9 "$d"
wait "$d" 2>/dev/null || true
sleep 1
check "no backup of the killed daemon outlives it" test -z "$(pgrep -f "migrate backup create .*$INST" || true)"
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d3.log" 2>&1 &
d=$!
for _ in $(seq 150); do grep -q "^backup .* ready$" "$WORK/d3.log" && break; sleep 0.2; done
kill -TERM "$d"
wait "$d" || true
check "the restarted daemon marks the interrupted backup failed" grep -q "the backup $killed started at .* never ended (the daemon was killed or crashed): marked failed" "$WORK/d3.log"
check "the journal says interrupted" grep -q '"interrupted":true' "$WORK/state/jobs.jsonl"
check "and it schedules on: a new backup is ready" grep -q "^backup .* ready$" "$WORK/d3.log"
listed() { mig backup list --json --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" |
  python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["timestamp"] == sys.argv[1]))' "$1"; }
check "the interrupted backup's parts are forgotten" test "$(listed "$killed")" -eq 0
[[ $FAILED -eq 0 ]] || { echo "--- d1"; cat "$WORK/d1.log"; echo "--- d2"; cat "$WORK/d2.log"; echo "--- d3"; cat "$WORK/d3.log"; }
finish
