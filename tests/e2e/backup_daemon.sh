#!/usr/bin/env bash
# migrate daemon on a running demo install: the configuration checked at start, scheduled
# backups with retention, a stop in the middle of a backup, and kill -9 then a restart.
. "$(dirname "$0")/lib.sh"

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $(port_block)
compose_in "$INST" up -d >/dev/null 2>&1
wait_healthy "$INST"
OLD=$INST seed_old
echo "correct horse battery staple" >"$WORK/pw"
work=$WORK
mig() { "$BIN/migrate" "$@" </dev/null; }
ready_count() { mig backup list --json --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" |
  python3 -c 'import json,sys; print(sum(1 for e in json.load(sys.stdin) if e["status"] == "ready"))'; }
PORT=$(port_block)
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
listen: 127.0.0.1:$PORT
token_file: $WORK/token
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

grep -v '^password_file:' "$WORK/daemon.yml" >"$WORK/bad.yml"
capture nopw env -u RESTIC_PASSWORD_FILE "$BIN/migrate" daemon --config "$WORK/bad.yml" --check
check "no password_file: exit 2 saying so" grep -q "bad.yml: password_file: is missing" "$work/nopw.err"

# --- every 5 s, keep 2: once a third backup is ready and retention has run, exactly 2 ready
# backups (waited for, up to 2 minutes: a backup takes seconds, more on a loaded machine)
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d1.log" 2>&1 &
d=$!
for _ in $(seq 240); do grep -q "retention: forgot" "$WORK/d1.log" && break; sleep 0.5; done
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
PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 "$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d2.log" 2>&1 &
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

# --- the REST API: the seed's own curl and jq lines, our URL and token
config "*/5 * * * * *" false
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d4.log" 2>&1 &
d=$!
for _ in $(seq 100); do [[ -s "$WORK/token" ]] && curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
TOKEN=$(cat "$WORK/token")
check "the token file is made, mode 0600" test "$(stat -c %a "$WORK/token")" = 600
URL=http://127.0.0.1:$PORT
curl --location --request POST "$URL/api/backup" \
--header "Cookie: prophecy-token=$TOKEN" \
--header 'Content-Type: application/json' \
--data-raw '{}' -s -w '\n%{http_code}\n' >"$WORK/post.out"
check "POST /api/backup (the seed's curl): 202" test "$(tail -1 "$WORK/post.out")" = 202
ts=$(head -1 "$WORK/post.out" | jq -r .message | sed -n 's/^Request Accepted with timestamp //p')
check "its message names the timestamp" grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{2}-[0-9]{2}-[0-9]{2}$' <<<"$ts"
code=$(curl -s -o "$WORK/again.out" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -d '{}' "$URL/api/backup")
check "a second backup while one runs: 409" test "$code" = 409
check "the 409 names the running one's timestamp" test "$(jq -r .timestamp "$WORK/again.out")" = "$ts"
for _ in $(seq 120); do
  st=$(curl -s -H "Cookie: prophecy-token=$TOKEN" "$URL/api/backup/status?timestamp=$ts" | jq -r .data.status)
  [[ $st == Success || $st == Failed ]] && break
  sleep 0.5
done
check "status?timestamp=T reaches Success" test "$st" = Success
check "getConfig with the seed's jq line" test "$(curl -s "$URL/api/feature/getConfig?configType=backup" -H "cookie: prophecy-token=$TOKEN" | jq -r '.data.backupConfig.backupFrequency')" = "*/5 * * * * *"
check "the list with the seed's jq tip holds it" test "$(curl -s -H "Cookie: prophecy-token=$TOKEN" "$URL/api/backup/list" | jq -r '.data["backup-list"] | map(select(.status == "Success")) | .[0].timestamp')" = "$ts"
check "latest is it" test "$(curl -s -H "Cookie: prophecy-token=$TOKEN" "$URL/api/backup/latest" | jq -r .data.timestamp)" = "$ts"
check "no token: 401" test "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/backup/list")" = 401
check "a wrong token: 403" test "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$URL/api/backup/list")" = 403
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
  -d '{"backupConfig": {"backupRetentionCount": 5}}' "$URL/api/feature/setConfig?configType=backup")
check "setConfig: 200" test "$code" = 200
check "setConfig wrote the file (its comments kept)" bash -c "grep -q '^  backupRetentionCount: 5' '$WORK/daemon.yml' && grep -q '# seconds first' '$WORK/daemon.yml'"
# A burst of malformed and oversized requests leaves it answering.
head -c 100000 /dev/zero | tr '\0' 'x' >"$WORK/big.body"
check "an oversized body: 413" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" --data-binary "@$WORK/big.body" "$URL/api/backup")" = 413
for i in $(seq 40); do
  printf 'GARBAGE %d\r\n\r\n' "$i" >/dev/tcp/127.0.0.1/$PORT 2>/dev/null || true
  curl -s -o /dev/null -X POST -H "Authorization: Bearer $TOKEN" -d '{"name": ' "$URL/api/backup" || true
done
check "after the burst it still answers" test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/backup/latest")" = 200
# Clients that open a connection and never send a request are cut off after 10 s.
for _ in $(seq 20); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && sleep 14) >/dev/null 2>&1 & done
sleep 12
check "20 silent connections are cut off: it answers" test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/backup/latest")" = 200
check "a request naming an option for a timestamp: 400" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" -d '{"timestamp": "--no-restart"}' "$URL/api/restore")" = 400
# Restore through the API: rows changed since the backup come back.
sql "$INST" "create table if not exists after_backup(x int)" >/dev/null
code=$(curl -s -o "$WORK/restore.out" -w '%{http_code}' -X POST -H "Cookie: prophecy-token=$TOKEN" \
  -H 'Content-Type: application/json' -d "{\"timestamp\": \"$ts\"}" "$URL/api/restore")
check "POST /api/restore: 202" test "$code" = 202
for _ in $(seq 240); do
  rst=$(curl -s -H "Cookie: prophecy-token=$TOKEN" "$URL/api/restore/status?timestamp=$ts" | jq -r .data.status)
  [[ $rst == Success || $rst == Failed ]] && break
  sleep 0.5
done
check "restore/status reaches Success" test "$rst" = Success
check "the table made after the backup is gone" test -z "$(sql "$INST" "select to_regclass('after_backup')")"
kill -TERM "$d"
wait "$d" || true
# --- a backup.tar dropped into the install is restored once at start; a bad one is set aside
mig backup export latest --output "$INST/backup.tar" --to-path "$INST" --repo "$WORK/repo" --password-file "$WORK/pw" >/dev/null 2>&1
check "an exported backup.tar is in the install" test -s "$INST/backup.tar"
sql "$INST" "create table after_export(x int)" >/dev/null
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d5.log" 2>&1 &
d=$!
for _ in $(seq 300); do grep -q "restored $INST/backup.tar\|did not restore" "$WORK/d5.log" && break; sleep 0.2; done
check "the daemon restored backup.tar at start" grep -q "^restored $INST/backup.tar; renamed $INST/backup.tar.restored-" "$WORK/d5.log"
check "renamed backup.tar.restored-<ts>" bash -c "ls '$INST' | grep -Eq '^backup\.tar\.restored-[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{2}-[0-9]{2}-[0-9]{2}$'"
check "the database is the backup's again" test -z "$(sql "$INST" "select to_regclass('after_export')")"
kill -TERM "$d"
wait "$d" || true
head -c 5000 /dev/urandom >"$INST/backup.tar"
"$BIN/migrate" daemon --config "$WORK/daemon.yml" >"$WORK/d6.log" 2>&1 &
d=$!
for _ in $(seq 150); do grep -q "did not restore\|^restored" "$WORK/d6.log" && break; sleep 0.2; done
check "a bad backup.tar is not restored, with the reason" grep -q "^warning: did not restore $INST/backup.tar: .*renamed $INST/backup.tar.rejected-.*going on" "$WORK/d6.log"
check "it is renamed .rejected-<ts>" bash -c "ls '$INST' | grep -q '^backup\.tar\.rejected-'"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.2; done
check "and the daemon goes on (the API answers)" test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$URL/api/feature/getConfig?configType=backup")" = 200
kill -TERM "$d"
wait "$d" || true
# --- TLS: the API over https with the operator's certificate; plain HTTP on that port is told so
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 -subj /CN=localhost \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
openssl genrsa -out "$WORK/other-key.pem" 2048 2>/dev/null
tls_config() {  # tls_config LISTEN KEY
  sed -e "s|^listen: .*|listen: $1|" "$WORK/daemon.yml" >"$WORK/tls.yml"
  printf 'tls_cert: %s\ntls_key: %s\n' "$WORK/cert.pem" "$2" >>"$WORK/tls.yml"
}
tls_config "0.0.0.0:$PORT" "$WORK/other-key.pem"
capture tlsbad mig daemon --config "$WORK/tls.yml" --check
check "a key that is not the certificate's: exit 2" test "$rc" -eq 2
check "saying so" grep -q "tls.yml: tls_key $WORK/other-key.pem is not the key of the certificate" "$work/tlsbad.err"
tls_config "0.0.0.0:$PORT" "$WORK/key.pem"
capture tlsany mig daemon --config "$WORK/tls.yml" --check
check "listening beyond loopback is accepted with TLS" test "$rc" -eq 0
grep -v '^tls_' "$WORK/tls.yml" >"$WORK/plain.yml"
capture plainany mig daemon --config "$WORK/plain.yml" --check
check "and refused without it" grep -q "beyond loopback without TLS" "$work/plainany.err"
tls_config "127.0.0.1:$PORT" "$WORK/key.pem"
"$BIN/migrate" daemon --config "$WORK/tls.yml" >"$WORK/d7.log" 2>&1 &
d=$!
for _ in $(seq 50); do grep -q "API listening" "$WORK/d7.log" && break; sleep 0.2; done
check "the daemon says it serves TLS" grep -q "API listening on 127.0.0.1:$PORT (TLS)" "$WORK/d7.log"
check "https with the certificate: the seed's jq line works" test "$(curl -s --cacert "$WORK/cert.pem" \
  -H "Authorization: Bearer $TOKEN" "https://localhost:$PORT/api/feature/getConfig?configType=backup" |
  jq -r '.data.backupConfig.backupRetentionCount')" = 5
curl -s -o /dev/null "https://127.0.0.1:$PORT/api/backup/list" && crc=0 || crc=$?
check "https without trusting the certificate: curl refuses it (60)" test "$crc" -eq 60
check "it is TLS all the same: curl -k reaches the API (401 without a token)" \
  test "$(curl -s -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/api/backup/list")" = 401
check "plain HTTP on the TLS port: 400 saying to use https" bash -c "curl -s 'http://127.0.0.1:$PORT/api/backup/list' | grep -q 'this port speaks TLS'"
check "a silent client is let go by the TLS port within its 10 s" timeout 15 bash -c \
  "exec 3<>/dev/tcp/127.0.0.1/$PORT; cat <&3 >/dev/null"
kill -TERM "$d"
wait "$d" && drc=0 || drc=$?
check "and it stops with exit 0" test "$drc" -eq 0
[[ $FAILED -eq 0 ]] || { echo "--- d1"; cat "$WORK/d1.log"; echo "--- d2"; cat "$WORK/d2.log"; echo "--- d3"; cat "$WORK/d3.log"; echo "--- d4"; cat "$WORK/d4.log"; echo "--- d5"; cat "$WORK/d5.log"; echo "--- d6"; cat "$WORK/d6.log"; echo "--- d7"; cat "$WORK/d7.log"; }
finish
