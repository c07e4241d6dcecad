#!/usr/bin/env bash
# migrate restore on the real engine: back up, change data and rows, restore, and compare every
# file and table with what the backup held; per-service skip; another release; a fresh folder
# (disaster recovery); a failing restore changes nothing.
. "$(dirname "$0")/lib.sh"

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $(port_block)
# A worker that mounts two paths of data/: what `--skip worker` keeps.
python3 - "$INST/docker-compose.yml" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
worker = '''  worker:
    image: migrate-test/busybox:1
    command: ["sleep", "100000"]
    init: true
    volumes:
      - ./data/uploads:/uploads
      - ./data/conf/key.pem:/key.pem:ro

volumes:
'''
s = s.replace("\nvolumes:\n", "\n" + worker, 1)
open(p, "w").write(s)
EOF
compose_in "$INST" up -d postgres app >/dev/null 2>&1
wait_healthy "$INST"
OLD=$INST seed_old
compose_in "$INST" up -d >/dev/null 2>&1  # the worker's mounts exist now

export MIGRATE_REPO=$WORK/repo
echo "restore test password" >"$WORK/pw"
export RESTIC_PASSWORD_FILE=$WORK/pw
cd "$INST"
work=$WORK
mig() { "$BIN/migrate" "$@" </dev/null; }
running() { test "$(docker inspect -f '{{.State.Running}}' "$(compose_in "$INST" ps -q "$1")" 2>/dev/null)" = true; }
# What the backup held: data/ with every attribute, the schema, rows, sequences, the large object.
dbstate() {
  sql "$1" "select 'users', count(*) from users union all select 'events', count(*) from events union all select 'audit', count(*) from audit"
  sql "$1" "select last_value from users_id_seq"
  sql "$1" "select encode(lo_get(oid), 'escape') from pg_largeobject_metadata"
}

capture create mig backup create --json
check "backup create exits 0" test "$rc" -eq 0
id=$(json "$work/create.out" 'j["id"]')
ts=$(json "$work/create.out" 'j["timestamp"]')
state "$INST/data" >"$WORK/data.backup-time"
cp "$INST/.env" "$WORK/env.backup-time"
schema "$INST" >"$WORK/schema.backup-time"
dbstate "$INST" >"$WORK/db.backup-time"

# Changes after the backup: files modified, created, removed; rows added; a table created.
change() {
  echo "changed after the backup" >"$INST/data/index.html"
  echo "created after the backup" >"$INST/data/created-since"
  mkdir -p "$INST/data/new-folder" && echo x >"$INST/data/new-folder/f"
  rm -rf "$INST/data/became-file"
  echo "upload after the backup" >"$INST/data/uploads/after.jpg"
  sql "$INST" "insert into users(email) values ('after@example.org'); create table later(x int); delete from events where id < 100" >/dev/null
}
change
state "$INST/data" >"$WORK/data.changed"
schema "$INST" >"$WORK/schema.changed"

# --- a dry run changes nothing
capture dry mig restore --dry-run
check "restore --dry-run exits 0" test "$rc" -eq 0
check "the dry run says what is replaced" grep -q "data/: replaced by the backup's" "$work/dry.out"
check "the dry run leaves data/ as it was" diff "$WORK/data.changed" <(state "$INST/data")
check "the dry run leaves the database as it was" diff "$WORK/schema.changed" <(schema "$INST")
check "the dry run makes no restore folder" test ! -e "$INST/restore"

# --- bad input: exit 2, nothing changed
capture unknown mig restore --skip wokrer --yes
check "--skip of an unknown service: exit 2" test "$rc" -eq 2
check "--skip of an unknown service names the services" grep -q "postgres, app, worker" "$work/unknown.err"
capture noid mig restore deadbeef --yes
check "an unknown backup: exit 2" test "$rc" -eq 2
echo wrong >"$WORK/wrong"
capture wrongpw env RESTIC_PASSWORD_FILE="$WORK/wrong" "$BIN/migrate" restore --yes
check "a wrong password: exit 2" test "$rc" -eq 2
check "bad input changed nothing in data/" diff "$WORK/data.changed" <(state "$INST/data")
check "bad input writes no restore folder" test ! -e "$INST/restore"

# --- a failing restore (pg_restore breaks) changes nothing and starts the services again
# (the docker shims' runs set MIGRATE_DOCKER_API=0: a `docker exec` reaches them only through the
# CLI, docs/engine-exec.md)
mkdir -p "$WORK/shim"
cat >"$WORK/shim/docker" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do [[ \$a == pg_restore ]] && { echo "pg_restore: error: injected failure" >&2; exit 1; }; done
exec "$(command -v docker)" "\$@"
EOF
chmod +x "$WORK/shim/docker"
capture broken env PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 "$BIN/migrate" restore --yes
check "a failing pg_restore: exit 1" test "$rc" -eq 1
check "a failing pg_restore: the error names it" grep -q "pg_restore into the target failed" "$work/broken.err"
check "a failing restore leaves data/ as it was" diff "$WORK/data.changed" <(state "$INST/data")
check "a failing restore leaves the database as it was" diff "$WORK/schema.changed" <(schema "$INST")
check "a failing restore starts the app again" running app
check "the report says nothing was replaced" grep -q "nothing was replaced" "$(ls -d "$INST"/restore/2*/ | tail -1)/report.json"

# slow_restore NAME: `migrate restore` in the background with a docker shim that holds pg_restore
# 8 s back, once it reached the database; its pid in $victim, its output in $WORK/NAME.{out,err}.
slow_restore() {
  cat >"$WORK/shim/docker" <<EOF
#!/usr/bin/env bash
for a in "\$@"; do [[ \$a == pg_restore ]] && sleep 8; done
exec "$(command -v docker)" "\$@"
EOF
  PATH="$WORK/shim:$PATH" MIGRATE_DOCKER_API=0 "$BIN/migrate" restore --yes </dev/null >"$WORK/$1.out" 2>"$WORK/$1.err" &
  victim=$!
  for _ in $(seq 150); do grep -q "== restore database" "$WORK/$1.err" 2>/dev/null && break; sleep 0.2; done
  sleep 1
}

# --- SIGTERM in the middle of a restore (data/ being restored, pg_restore about to run): the
# programs it runs are stopped, nothing is replaced, the app is started again, and it says so
slow_restore term
kill -TERM "$victim"
set +e
wait "$victim"
trc=$?
set -e
check "SIGTERM during a restore: exit 1" test "$trc" -eq 1
check "it says it was interrupted and replaced nothing" \
  grep -q "restore interrupted (SIGTERM): nothing was replaced" "$WORK/term.err"
[[ $trc -eq 1 ]] || tail -5 "$WORK/term.err"
check "an interrupted restore leaves data/ as it was" diff "$WORK/data.changed" <(state "$INST/data")
check "an interrupted restore leaves the database as it was" diff "$WORK/schema.changed" <(schema "$INST")
check "an interrupted restore starts the app again" running app
check "no restic of this repository outlives it" test -z "$(pgrep -f "restic.*$MIGRATE_REPO" || true)"
check "its report says it was interrupted" \
  grep -q "interrupted (SIGTERM)" "$(ls -d "$INST"/restore/2*/ | tail -1)/report.json"

# --- kill -9 in the middle of a restore (pg_restore running): nothing replaced, nothing left
# running; the next restore resumes its folder (and its safety copy) and completes
slow_restore killed
kill -9 "$victim"
wait "$victim" 2>/dev/null || true
check "the killed restore had reached the database" grep -q "== restore database" "$WORK/killed.err"
check "a killed restore leaves data/ as it was" diff "$WORK/data.changed" <(state "$INST/data")
check "a killed restore leaves the database as it was" diff "$WORK/schema.changed" <(schema "$INST")
check "a killed restore leaves its folder to resume" test -f "$INST/restore/in-progress"
capture afterkill mig backup list --json
check "nothing is listed running after kill -9" test "$(json "$work/afterkill.out" '[e["status"] for e in j].count("running")')" = 0

# --- the restore: data/ and the database become the backup's
capture restore mig restore "$ts" --yes --json
check "restore exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/restore.err"
check "data/ is the backup's (every entry and attribute; files created since are gone)" diff "$WORK/data.backup-time" <(state "$INST/data")
check "the schema (pg_dump -s) is the backup's" diff "$WORK/schema.backup-time" <(schema "$INST")
check "rows, sequences and the large object are the backup's" diff "$WORK/db.backup-time" <(dbstate "$INST")
run=$(json "$work/restore.out" 'j["migration_dir"]')
check "the restore ran in restore/<timestamp>/" test "$(dirname "$run")" = "$INST/restore"
check "the safety copy holds data/ as it was before" diff "$WORK/data.changed" <(state "$run/data.backup")
check "the safety copy holds the database as it was" bash -c "pg_restore -l '$run/target-db.dump' | grep -q 'TABLE public later'"
check "the report says how to roll back" grep -q "roll back the database" "$run/report.json"
check "the app runs after the restore" running app
check "the worker runs after the restore" running worker
check "nothing is left staged" test ! -e "$run/new"
check "it resumed the interrupted restore's folder" test "$(json "$run/report.json" 'j["resumed"]')" = True
check "no restore is left in progress" test ! -e "$INST/restore/in-progress"

# --- export: one plain tar, checksummed; restored without the repository; tampering refused
capture export mig backup export "$id" --output "$WORK/backup.tar"
check "backup export exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/export.err"
check "tar -tf reads it, the manifest first" test "$(tar -tf "$WORK/backup.tar" | head -1)" = manifest.json
capture export-json mig backup export "$id" --output "$WORK/backup-again.tar" --json
check "backup export --json exits 0" test "$rc" -eq 0
check "its progress ends at 100% of what the backup holds" python3 -c '
import json, sys
events = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
last = [e for e in events if e.get("event") == "progress" and e["step"] == "export"][-1]
assert last["final"] and last["percent"] == 100 and last["done_bytes"] == last["total_bytes"] > 0, last
' "$work/export-json.err"
# tar -tv: mode owner/group size date time name. The members export writes itself (the manifest,
# the dump, the checksums) carry the export's time; every other member keeps the backup's.
members() { tar --utc -tvf "$1" | awk '$6 ~ /^(manifest\.json|db\.dump|SHA256SUMS)$/ { $4 = $5 = "" } { $1 = $1; print }'; }
check "the same backup exports to the same members again, each file's time the backup's" \
  diff <(members "$WORK/backup.tar") <(members "$WORK/backup-again.tar")
check "it holds the database dump" bash -c "tar -tf '$WORK/backup.tar' | grep -qx db.dump"
check "it holds the configuration" bash -c "tar -tf '$WORK/backup.tar' | grep -qx config/docker-compose.yml"
mkdir -p "$WORK/untarred" && tar -xf "$WORK/backup.tar" -C "$WORK/untarred"
check "sha256sum -c checks every member" bash -c "cd '$WORK/untarred' && sha256sum --quiet -c SHA256SUMS"
python3 - "$WORK/backup.tar" "$WORK/tampered.tar" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.find(b"old index")
b[i] = ord("O")
open(sys.argv[2], "wb").write(bytes(b))
EOF
head -c $(($(stat -c %s "$WORK/backup.tar") / 2)) "$WORK/backup.tar" >"$WORK/truncated.tar"
change
state "$INST/data" >"$WORK/data.changed"
for bad in tampered truncated; do
  capture "$bad" env -u RESTIC_PASSWORD_FILE -u MIGRATE_REPO "$BIN/migrate" restore "$WORK/$bad.tar" --yes
  check "a $bad file is refused: exit 2" test "$rc" -eq 2
  check "a $bad file changes nothing" diff "$WORK/data.changed" <(state "$INST/data")
done
check "the tampered file is refused for its checksum" grep -q "does not match its checksum" "$work/tampered.err"
capture fromtar env -u RESTIC_PASSWORD_FILE -u MIGRATE_REPO "$BIN/migrate" restore "$WORK/backup.tar" --yes
check "restore from the file, without repository or password: exit 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/fromtar.err"
check "from the file, data/ is the backup's (every entry and attribute)" diff "$WORK/data.backup-time" <(state "$INST/data")
check "from the file, the schema is the backup's" diff "$WORK/schema.backup-time" <(schema "$INST")
check "from the file, rows, sequences and the large object are the backup's" diff "$WORK/db.backup-time" <(dbstate "$INST")

# --- --with-config puts .env back (the replaced one kept); --no-restart leaves the services down
echo "EXTRA_AFTER_BACKUP=1" >>"$INST/.env"
capture withconfig mig restore --with-config --no-restart --yes --json
check "restore --with-config --no-restart exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/withconfig.err"
check ".env is the backup's again" cmp -s "$WORK/env.backup-time" "$INST/.env"
check "the replaced .env is kept in the restore folder" grep -q EXTRA_AFTER_BACKUP "$(json "$work/withconfig.out" 'j["migration_dir"]')/config.backup/.env"
check "--no-restart leaves the app stopped" bash -c "! test \"\$(docker inspect -f '{{.State.Running}}' \$(docker ps -aq --filter label=com.docker.compose.project=$(project_of "$INST") --filter label=com.docker.compose.service=app))\" = true"
compose_in "$INST" up -d >/dev/null 2>&1

# --- --skip worker keeps the worker's paths of data/; --skip postgres keeps the database
change
cp "$INST/data/uploads/after.jpg" "$WORK/after.jpg"
capture skip mig restore --skip worker --skip postgres --yes
check "restore --skip worker --skip postgres exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/skip.err"
check "a skipped service's folder is kept (a file added since stays)" cmp -s "$WORK/after.jpg" "$INST/data/uploads/after.jpg"
check "the rest of data/ is the backup's" test "$(cat "$INST/data/index.html")" = "old index"
check "a file created since, outside the kept paths, is gone" test ! -e "$INST/data/created-since"
check "--skip postgres keeps the database (a table created since stays)" test "$(sql "$INST" "select count(*) from later")" = 0

# --- data/ a file system of its own (a disk mounted on it): staged inside it and put in place
# entry by entry. With the database skipped the restore waits for data/ at once, and shows its
# progress (restic 0.14's restore prints none): a restic that lingers 3 s after it restored
# stands in for a long restore.
echo "changed before the mount" >"$INST/data/index.html"
echo "created before the mount" >"$INST/data/created-since"
compose_in "$INST" stop >/dev/null 2>&1
MOUNTED=$INST/data
cp -a "$MOUNTED" "$WORK/data.unmounted"
mount -t tmpfs -o size=256m,mode=0755 tmpfs "$MOUNTED"
trap 'umount "$MOUNTED" "$WORK/small" 2>/dev/null || true; cleanup_suite' EXIT
cp -a "$WORK/data.unmounted/." "$MOUNTED/"
chmod 0700 "$MOUNTED"  # the restore gives data/ the backup's own mode and times back
touch -r "$WORK/data.unmounted" "$MOUNTED"
compose_in "$INST" start >/dev/null 2>&1
state "$MOUNTED" >"$WORK/data.mounted"
capture mountplan mig restore "$ts" --skip-db --dry-run
check "the plan says data/ is a mount point, put in place entry by entry" grep -q "a mount point: staged inside it" "$work/mountplan.out"
mkdir -p "$WORK/slowrestic"
cat >"$WORK/slowrestic/restic" <<EOF
#!/usr/bin/env bash
"$(command -v restic)" "\$@"; rc=\$?
for a in "\$@"; do [[ \$a == restore ]] && sleep 3; done
exit \$rc
EOF
chmod +x "$WORK/slowrestic/restic"
capture mounted env PATH="$WORK/slowrestic:$PATH" "$BIN/migrate" restore "$ts" --skip-db --yes --json
check "restore into a data/ that is a mount point exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/mounted.err"
check "data/ on its mount is the backup's (every entry and attribute, its own included)" diff "$WORK/data.backup-time" <(state "$MOUNTED")
check "data/ is still the mount point" mountpoint -q "$MOUNTED"
check "nothing is left staged inside it" test ! -e "$MOUNTED/.migrate-restore"
run=$(json "$work/mounted.out" 'j["migration_dir"]')
check "the safety copy (a copy: another file system) holds data/ as it was" diff "$WORK/data.mounted" <(state "$run/data.backup")
check "the app runs after it" running app
progress_events() { grep '^{' "$work/mounted.err" | jq -c 'select(.event == "progress" and .step == "data/")'; }
check "data/ progress while restic restored: the bytes staged so far" \
  test "$(progress_events | jq -s '[.[] | select(.final == false and .done_bytes > 0)] | length')" -gt 0
check "data/ progress ends at all of the backup's data/" test "$(progress_events | jq -s '.[-1].percent')" = 100
compose_in "$INST" stop >/dev/null 2>&1
umount "$MOUNTED"
compose_in "$INST" start >/dev/null 2>&1

# --- a backup in format 1 (as migrate wrote them until 2026-12-02: the manifest a part of its
# own, /manifest.json) is listed and restored. Made here from the format-2 backup's parts with
# restic by hand, as the older migrate laid them out.
snap_of() { restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$1,migrate:part=$2" | jq -r '.[0].id'; }
check "format 2: the backup is two snapshots, the database and data/" \
  test "$(restic -r "$MIGRATE_REPO" snapshots --json --tag "migrate:id=$id" | jq -r '[.[].tags[] | select(startswith("migrate:part="))] | sort | join(" ")')" = "migrate:part=db migrate:part=files"
restic -r "$MIGRATE_REPO" dump "$(snap_of "$id" files)" /backup/manifest.json >"$WORK/m2.json"
check "format 2: data/'s snapshot carries the manifest, format 2, ready" \
  test "$(jq -r '(.format | tostring) + " " + .status + " " + .id' "$WORK/m2.json")" = "2 ready $id"
id1=f0f0f0f0 ts1=2020-01-02t03-04-05
tags1="migrate,migrate:id=$id1,migrate:ts=$ts1,migrate:project=$(jq -r .install.project "$WORK/m2.json")"
restic -r "$MIGRATE_REPO" dump "$(snap_of "$id" db)" /db.dump | restic -r "$MIGRATE_REPO" backup --quiet --json --stdin --stdin-filename db.dump --time "2020-01-02 03:04:05" \
  --tag "$tags1,migrate:part=db" | jq -r 'select(.message_type=="summary") | .snapshot_id' >"$WORK/db1.id"
rm -rf "$WORK/f1" && restic -r "$MIGRATE_REPO" restore --quiet "$(snap_of "$id" files)" --target "$WORK/f1" && rm -r "$WORK/f1/backup"
check "format 2: the manifest counts the files and bytes the snapshot holds" \
  test "$(jq -r '"\(.data.files) \(.data.bytes)"' "$WORK/m2.json")" = "$(find "$WORK/f1" -type f -printf '%s\n' | awk '{n++; b+=$1} END {print n, b}')"
(cd "$WORK/f1" && restic -r "$MIGRATE_REPO" backup --quiet --json --time "2020-01-02 03:04:05" --tag "$tags1,migrate:part=files" -- * .env) |
  jq -r 'select(.message_type=="summary") | .snapshot_id' >"$WORK/files1.id"
jq --arg id "$id1" --arg ts "$ts1" --arg f "$(cat "$WORK/files1.id")" --arg d "$(cat "$WORK/db1.id")" \
  '.format = 1 | .id = $id | .timestamp = $ts | .data.snapshot = $f | .db.snapshot = $d' "$WORK/m2.json" |
  restic -r "$MIGRATE_REPO" backup --quiet --stdin --stdin-filename manifest.json --time "2020-01-02 03:04:05" \
    --tag "$tags1,migrate:part=manifest,migrate:status=ready,migrate:version=1.0.0,migrate:bytes=1" >/dev/null
capture list1 mig backup list --json
check "format 1: listed ready" test "$(json "$work/list1.out" '[e["status"] for e in j if e["id"] == "'$id1'"]')" = "['ready']"
capture restore1 mig restore "$id1" --yes
check "format 1: restore exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/restore1.err"
check "format 1: data/ is the backup's (every entry and attribute)" diff "$WORK/data.backup-time" <(state "$INST/data")
check "format 1: rows, sequences and the large object are the backup's" diff "$WORK/db.backup-time" <(dbstate "$INST")
check "format 1: no /backup folder of migrate's own came with it" test ! -e "$INST/data/backup"

# --- another release: needs --yes
NEW=$WORK/releases/2.0.0
new_release "$NEW" 2.0.0 $(port_block)
compose_in "$NEW" up -d >/dev/null 2>&1
wait_healthy "$NEW"
capture cross "$BIN/migrate" restore "$id" --to-path "$NEW"
check "a 1.0.0 backup into a 2.0.0 install without --yes: exit 2" test "$rc" -eq 2
check "it says the releases" grep -q "release 1.0.0, this install is release 2.0.0" "$work/cross.err"
check "the refused restore wrote nothing into the 2.0.0 install" test ! -e "$NEW/restore"
capture crossyes "$BIN/migrate" restore "$id" --to-path "$NEW" --yes
check "with --yes it restores" test "$rc" -eq 0
check "the 2.0.0 install holds the backup's rows" diff "$WORK/db.backup-time" <(dbstate "$NEW")
compose_in "$NEW" down -v >/dev/null 2>&1

# --- disaster recovery: the install is gone; a fresh folder is made from the backup
compose_in "$INST" down -v >/dev/null 2>&1
FRESH=$WORK/fresh/1.0.0
capture fresh "$BIN/migrate" restore latest --to-path "$FRESH" --yes
check "restore into a missing folder exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/fresh.err"
for f in VERSION docker-compose.yml .env; do check "the fresh install has the backup's $f" test -f "$FRESH/$f"; done
INST=$FRESH
check "the fresh install runs" running app
check "the fresh install's data/ is the backup's" diff "$WORK/data.backup-time" <(state "$FRESH/data")
check "the fresh install's database is the backup's" diff "$WORK/db.backup-time" <(dbstate "$FRESH")
check "the fresh install's schema is the backup's" diff "$WORK/schema.backup-time" <(schema "$FRESH")

# --- disaster recovery from the exported file alone (CapRover's backup.tar): no repository
compose_in "$FRESH" down -v >/dev/null 2>&1
FRESH2=$WORK/fresh2/1.0.0
capture freshtar env -u RESTIC_PASSWORD_FILE -u MIGRATE_REPO "$BIN/migrate" restore "$WORK/backup.tar" --to-path "$FRESH2" --yes
check "restore of the file into a missing folder exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$work/freshtar.err"
INST=$FRESH2
check "the install made from the file runs" running app
check "its data/ is the backup's" diff "$WORK/data.backup-time" <(state "$FRESH2/data")
check "its database is the backup's" diff "$WORK/db.backup-time" <(dbstate "$FRESH2")

# --- a full disk during the restore: one sentence, exit 1, no half-written data/
compose_in "$FRESH2" down -v >/dev/null 2>&1
mkdir -p "$WORK/small"
mount -t tmpfs -o size=24m tmpfs "$WORK/small"
trap 'umount "$MOUNTED" "$WORK/small" 2>/dev/null || true; cleanup_suite' EXIT
SMALL=$WORK/small/1.0.0
capture full "$BIN/migrate" restore latest --to-path "$SMALL" --yes --no-restart
check "a full disk: exit 1" test "$rc" -eq 1
check "a full disk: the error says so" grep -q "the disk is full" "$work/full.err"
check "a full disk: no data/ was put in place" test ! -e "$SMALL/data"
check "a full disk: the report says nothing was replaced" grep -q "nothing was replaced" "$(ls -d "$SMALL"/restore/2*/ | tail -1)/report.json"
INST=$SMALL
compose_in "$SMALL" down -v >/dev/null 2>&1

finish
