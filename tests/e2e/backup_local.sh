#!/usr/bin/env bash
# migrate backup on a running demo install, into a restic repository in a folder: what an
# operator checks afterwards (the repository read with restic itself), and the faults.
. "$(dirname "$0")/lib.sh"

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $(port_block)
compose_in "$INST" up -d >/dev/null 2>&1
wait_healthy "$INST"
OLD=$INST seed_old

export MIGRATE_REPO=$WORK/repo
echo "correct horse battery staple" >"$WORK/pw"
export RESTIC_PASSWORD_FILE=$WORK/pw
cd "$INST"
work=$WORK
mig() { "$BIN/migrate" "$@" </dev/null; }
snap_of() { restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$1,migrate:part=$2" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }
snapshots() { restic -r "$MIGRATE_REPO" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# A docker on PATH that breaks pg_dump on request (SHIM=fail: a dump cut short; SHIM=slow: it
# sleeps first), everything else passed to the real one. Its runs set MIGRATE_DOCKER_API=0: a
# `docker exec` reaches the shim only when migrate runs the CLI (docs/engine-exec.md).
mkdir -p "$WORK/shim"
cat >"$WORK/shim/docker" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do
  if [[ \$a == pg_dump ]]; then
    case "\${SHIM:-}" in
      fail) "$(command -v docker)" "\$@" | head -c 3000; echo "pg_dump: error: injected failure" >&2; exit 1 ;;
      slow) sleep "\${SHIM_SLEEP:-6}" ;;
    esac
  fi
done
exec "$(command -v docker)" "\$@"
EOF
chmod +x "$WORK/shim/docker"

# --- usage and input errors: one sentence, exit 2
capture nopw env -u RESTIC_PASSWORD_FILE "$BIN/migrate" backup list
check "no password: exit 2" test "$rc" -eq 2
check "no password: says how to give one" grep -q "password-file" "$work/nopw.err"
capture norepo "$BIN/migrate" backup list
check "no repository yet: list exits 2" test "$rc" -eq 2
check "no repository yet: says so" grep -q "no restic repository at $MIGRATE_REPO" "$work/norepo.err"
check "--help names the commands" bash -c "'$BIN/migrate' backup --help | grep -q forget"

# --- the first backup makes the repository
capture first mig backup create --name "first one" --json
check "backup create exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/first.err"
id1=$(json "$work/first.out" 'j["id"]')
ts1=$(json "$work/first.out" 'j["timestamp"]')
check "it prints an id of 8 hex digits" grep -Eq '^[0-9a-f]{8}$' <<<"$id1"
check "it prints a UTC timestamp 2026-11-30t21-00-00" grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}t[0-9]{2}-[0-9]{2}-[0-9]{2}$' <<<"$ts1"
check "status ready" test "$(json "$work/first.out" 'j["status"]')" = ready
check "the repository is a restic repository" restic -r "$MIGRATE_REPO" cat config
check "two snapshots carry the backup's id (the database, then data/ with the manifest)" test "$(restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$id1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" -eq 2

# data/ as restic restores it: the same tree, attribute for attribute
restic -r "$MIGRATE_REPO" restore "$(snap_of "$id1" files)" --target "$WORK/restored" >/dev/null
check "restic restores data/ equal to the install's (every entry and attribute)" diff <(state "$INST/data") <(state "$WORK/restored/data")
for f in VERSION docker-compose.yml .env; do
  check "the configuration holds $f" cmp -s "$INST/$f" "$WORK/restored/$f"
done
check "of migrate's own files only the manifest is in the backup (no lock, no record)" test "$(ls -A "$WORK/restored/backup")" = manifest.json
check "the manifest file is not left in the install" test ! -e "$INST/backup/manifest.json"

# the database: a pg_dump archive taken inside the container
restic -r "$MIGRATE_REPO" dump "$(snap_of "$id1" db)" /db.dump >"$WORK/db.dump"
pg_restore -l "$WORK/db.dump" >"$WORK/toc"
for t in users events audit; do check "the dump holds table $t" grep -q "TABLE public $t " "$WORK/toc"; done
check "the dump holds the large object" grep -q "BLOB" "$WORK/toc"
capture status mig backup status "$id1" --json
check "status exits 0 for a ready backup" test "$rc" -eq 0
check "the manifest counts the rows of users" test "$(json "$work/status.out" 'j["manifest"]["db"]["tables"]["public.users"]')" = "$(sql "$INST" "select count(*) from users")"
check "the manifest names the release" test "$(json "$work/status.out" 'j["manifest"]["install"]["version"]')" = 1.0.0
check "the manifest knows the postgres major" test "$(json "$work/status.out" 'j["manifest"]["db"]["major"]')" = 15
check "the manifest lists the role reporter" test "$(json "$work/status.out" '[r["name"] for r in j["manifest"]["db"]["roles"]].count("reporter")')" = 1

# --- --suspend: the app is stopped for the snapshot and running again afterwards
capture second mig backup create --suspend --json
check "backup create --suspend exits 0" test "$rc" -eq 0
id2=$(json "$work/second.out" 'j["id"]')
check "--suspend stopped the app" test "$(json "$work/second.out" 'j["suspended"]')" = "['app']"
check "the app runs again after --suspend" test "$(docker inspect -f '{{.State.Running}}' "$(compose_in "$INST" ps -q app)")" = true
check "the two backups have distinct timestamps" test "$(json "$work/second.out" 'j["timestamp"]')" != "$ts1"

# --- a failed dump never makes a ready backup; --suspend still starts the app again
before=$(snapshots)
capture failed env PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 SHIM=fail "$BIN/migrate" backup create --suspend --json
check "a failed pg_dump: exit 1" test "$rc" -eq 1
check "a failed pg_dump: the error names pg_dump" grep -q "pg_dump of the database failed" "$work/failed.err"
check "a failed pg_dump: the app runs again" test "$(docker inspect -f '{{.State.Running}}' "$(compose_in "$INST" ps -q app)")" = true
capture list mig backup list --json
check "the failed backup is listed failed" test "$(json "$work/list.out" 'j[0]["status"]')" = failed
check "no snapshot of the cut dump was stored" test "$(restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$(json "$work/list.out" 'j[0]["id"]'),migrate:part=db")" = "[]"
check "latest is still the last ready backup" test "$(mig backup status latest --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" = "$id2"
capture failedstatus mig backup status "$(json "$work/list.out" 'j[0]["id"]')"
check "status of a failed backup exits 1 and says why" bash -c "test $rc -eq 1 && grep -q 'injected failure' '$work/failedstatus.out'"

# --- a wrong password: exit 2, nothing written
echo wrong >"$WORK/wrong"
capture wrongpw env RESTIC_PASSWORD_FILE="$WORK/wrong" "$BIN/migrate" backup create
check "a wrong password: exit 2" test "$rc" -eq 2
check "a wrong password: one sentence" grep -q "password does not open the repository" "$work/wrongpw.err"

# --- two at once: the second is refused naming the first; list shows it running
before=$(snapshots)
PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 SHIM=slow SHIM_SLEEP=8 "$BIN/migrate" backup create --json </dev/null >"$WORK/slow.out" 2>"$WORK/slow.err" &
slow=$!
for _ in $(seq 50); do grep -q '^backup ' "$INST/backup/.lock" 2>/dev/null && break; sleep 0.2; done
capture second_at_once mig backup create
check "a second backup at once: exit 1" test "$rc" -eq 1
check "a second backup at once: names the running one" grep -q "another job (backup, restore or migration) is running on .* (backup [0-9a-f]\{8\} " "$work/second_at_once.err"
OTHER=$WORK/releases/0.9.0
new_release "$OTHER" 0.9.0 $(port_block)
capture migrate_at_once "$BIN/migrate-local" --from-path "$OTHER" --to-path "$INST" --yes
check "a migration into the install while a backup runs: exit 1" test "$rc" -eq 1
check "a migration into the install while a backup runs: names the backup" grep -q "another job (backup, restore or migration) is running on .* (backup " "$work/migrate_at_once.err"
capture running mig backup list --json
check "list shows the running backup as running" test "$(json "$work/running.out" '[e["status"] for e in j].count("running")')" = 1
# kill -9 while it runs: nothing stays running, no restic outlives it (a `backup --stdin` that
# saw the end of its input would store the cut dump as a snapshot; restic's children die with
# migrate, and would die of SIGPIPE at their next status line too), the next backup works
killed=$(sed -n 's/^backup \([0-9a-f]*\) .*/\1/p' "$INST/backup/.lock")
sleep 1  # the dump's restic has started; pg_dump sleeps
check "the running backup's id is in its lock" test -n "$killed"
kill -9 "$slow"
wait "$slow" 2>/dev/null || true
sleep 0.5
alive_restic() { ps -eo stat=,args= | grep -v '^Z' | grep "[r]estic .*$MIGRATE_REPO" || true; }
for _ in $(seq 20); do [[ -z "$(alive_restic)" ]] && break; sleep 0.2; done
check "no restic outlives a killed backup" test -z "$(alive_restic)"
check "no snapshot of the killed backup's dump" test "$(restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$killed,migrate:part=db")" = "[]"
capture afterkill mig backup list --json
check "after kill -9 nothing is listed running" test "$(json "$work/afterkill.out" '[e["status"] for e in j].count("running")')" = 0
capture afterkill_create mig backup create --json
check "the next backup after kill -9 works" test "$rc" -eq 0
check "it says the killed one did not end" grep -q "the last job on .* did not end (backup $killed " "$work/afterkill_create.err"
check "and the killed one's restic locks are gone" test -z "$(ls "$MIGRATE_REPO/locks")"
id3=$(json "$work/afterkill_create.out" 'j["id"]')

# --- SIGTERM in the middle of backup create --suspend: its restic stopped, the app started again
PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 SHIM=slow SHIM_SLEEP=20 "$BIN/migrate" backup create --suspend </dev/null >"$WORK/term.out" 2>"$WORK/term.err" &
term=$!
app_running() { docker inspect -f '{{.State.Running}}' "$(compose_in "$INST" ps -q app)" 2>/dev/null || echo false; }
for _ in $(seq 100); do [[ "$(app_running)" == false ]] && break; sleep 0.2; done
check "--suspend stopped the app (the dump held up)" test "$(app_running)" = false
sleep 1
kill -TERM "$term"
wait "$term" && trc=0 || trc=$?
check "SIGTERM during backup create: exit 1" test "$trc" -eq 1
check "it says it was interrupted and put the services back" grep -q "interrupted (SIGTERM); the services it stopped are started again" "$work/term.err"
check "the app runs again after the SIGTERM" test "$(app_running)" = true
check "no restic outlives the interrupted backup" test -z "$(alive_restic)"
check "nor its restic locks" test -z "$(ls "$MIGRATE_REPO/locks")"
capture after_term mig backup create --json
check "the next backup works" test "$rc" -eq 0
check "and does not take the interrupted one for killed" bash -c "! grep -q 'did not end' '$work/after_term.err'"

# --- the same faults inside the postgres container, where `docker exec` goes through the engine's
# API (docs/engine-exec.md): a pg_dump that fails, then a SIGTERM while pg_dump runs, after which
# no pg_dump is left running in the container (the CLI would leave it blocked on its output)
pgc=$(compose_in "$INST" ps -q postgres)
real=$(docker exec "$pgc" sh -c 'command -v pg_dump')
docker exec -u 0 "$pgc" mv "$real" "$real.real"
wrap() { docker exec -i -u 0 "$pgc" sh -c "cat > '$real' && chmod 755 '$real'"; }
printf '#!/bin/sh\n"$0.real" "$@" | head -c 3000\necho "pg_dump: error: injected failure inside" >&2\nexit 1\n' | wrap
capture inside mig backup create --json
check "a pg_dump failing in its container (through the API): exit 1" test "$rc" -eq 1
check "the error names pg_dump" grep -q "pg_dump of the database failed" "$work/inside.err"
check "and gives its stderr" grep -q "injected failure inside" "$work/inside.err"
printf '#!/bin/sh\nsleep 20\nexec "$0.real" "$@"\n' | wrap
"$BIN/migrate" backup create </dev/null >"$WORK/term2.out" 2>"$WORK/term2.err" &
term=$!
dumping() { docker exec "$pgc" ps -o args | grep -q "[p]g_dump"; }
for _ in $(seq 100); do dumping && break; sleep 0.2; done
check "the held pg_dump runs in the container" dumping
kill -TERM "$term"
wait "$term" && trc=0 || trc=$?
check "SIGTERM during its pg_dump (through the API): exit 1" test "$trc" -eq 1
sleep 0.5
check "no pg_dump is left running in the container" bash -c "! docker exec '$pgc' ps -o args | grep -q '[p]g_dump'"
docker exec -u 0 "$pgc" mv "$real.real" "$real"

# --- a stale exclusive lock (a restic killed while it held one) is cleared, not waited for
restic -r "$MIGRATE_REPO" check --read-data >/dev/null 2>&1 &
holder=$!
# (a lock is written under a temporary name and renamed: wait for the lock's own name, 64 hex)
for _ in $(seq 200); do ls "$MIGRATE_REPO/locks" 2>/dev/null | grep -qE '^[0-9a-f]{64}$' && break; sleep 0.02; done
kill -9 "$holder"
wait "$holder" 2>/dev/null || true
exclusive_locks() { for l in $(ls "$MIGRATE_REPO/locks" | grep -E '^[0-9a-f]{64}$'); do restic -r "$MIGRATE_REPO" cat lock "$l" --no-lock; done | grep -c '"exclusive": true' || true; }
check "a dead restic left its exclusive lock" test "$(exclusive_locks)" -eq 1
capture stale mig backup create --json
check "backup create with a stale lock works" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/stale.err"
check "the stale lock is gone" test -z "$(ls "$MIGRATE_REPO/locks")"

# --- a stopped database is started for the dump and stopped again
compose_in "$INST" stop postgres >/dev/null 2>&1
capture dbdown mig backup create --json
check "backup with the database stopped: exit 0" test "$rc" -eq 0
check "the database is stopped again afterwards" test -z "$(pg_container "$INST")"
compose_in "$INST" up -d postgres >/dev/null 2>&1
wait_healthy "$INST"

# --- another install backing up into the same repository: its backups stay apart
compose_in "$OTHER" up -d postgres >/dev/null 2>&1
wait_healthy "$OTHER"
capture other "$BIN/migrate" backup create --to-path "$OTHER" --json
check "another install's backup into the same repository: exit 0" test "$rc" -eq 0
other_id=$(json "$work/other.out" 'j["id"]')
capture mine mig backup list --json
check "this install's list leaves the other's backup out" test "$(json "$work/mine.out" '[e["id"] for e in j].count("'"$other_id"'")')" = 0
capture theirs "$BIN/migrate" backup list --to-path "$OTHER" --json
check "the other install's list holds only its own" test "$(json "$work/theirs.out" '[e["id"] for e in j]')" = "['$other_id']"

# --- delete, forget, check
capture del mig backup delete "$id1"
check "delete exits 0" test "$rc" -eq 0
check "a deleted backup is no longer listed" bash -c "! '$BIN/migrate' backup list | grep -q '$id1'"
capture delunknown mig backup delete deadbeef
check "delete of an unknown id: exit 2" test "$rc" -eq 2
capture forget mig backup forget --keep-last 0 --prune --json
check "forget exits 0" test "$rc" -eq 0
capture afterforget mig backup list --json
check "forget --keep-last 0 keeps the last ready backup" test "$(json "$work/afterforget.out" '[e["status"] for e in j]')" = "['ready']"
check "forget never touches another install's backups" test "$("$BIN/migrate" backup list --to-path "$OTHER" --json </dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
capture fresh_latest env TO_PATH="$WORK/empty-folder" "$BIN/migrate" restore latest --yes
check "restore latest into an empty folder, with two installs' backups: exit 2" test "$rc" -eq 2
check "it names the installs and asks for an id" grep -q "backups of several installs" "$work/fresh_latest.err"
capture chk mig backup check
check "check of a sound repository: exit 0" test "$rc" -eq 0

# --- passwd: the old password no longer opens it
echo "a new password" >"$WORK/pw2"
capture passwd mig backup passwd --new-password-file "$WORK/pw2"
check "passwd exits 0" test "$rc" -eq 0
capture oldpw mig backup list
check "the old password no longer opens the repository" test "$rc" -eq 2
capture newpw env RESTIC_PASSWORD_FILE="$WORK/pw2" "$BIN/migrate" backup list
check "the new password opens it" test "$rc" -eq 0
export RESTIC_PASSWORD_FILE=$WORK/pw2

# --- data/ as a symbolic link: refused (restic would keep the link, not the files)
mv "$INST/data" "$WORK/data-elsewhere" && ln -s "$WORK/data-elsewhere" "$INST/data"
capture symlinked mig backup create
check "data/ as a symlink: exit 2" test "$rc" -eq 2
check "data/ as a symlink: says why" grep -q "is a symbolic link" "$work/symlinked.err"
rm "$INST/data" && mv "$WORK/data-elsewhere" "$INST/data"

# --- a damaged pack: check --read-data finds it
pack=$(find "$MIGRATE_REPO/data" -type f -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)
printf 'garbage' | dd of="$pack" bs=1 seek=100 conv=notrunc status=none
capture damaged mig backup check --read-data
check "check --read-data of a damaged pack: exit 1" test "$rc" -eq 1
check "check --read-data names the problem" grep -q "NOT ok" "$work/damaged.out"

finish
