#!/usr/bin/env bash
# migrate --from: the old release "on another server" reached over real SSH (sshd on
# 127.0.0.2:2222; the same docker engine stands behind both sides), the same assertions an
# operator makes after migrate-local, plus the agent's upload and a refused host key.
. "$(dirname "$0")/lib.sh"
rig=$WORK/sshrig
bash "$ROOT/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
trap 'bash "$ROOT/scripts/rig/sshd.sh" stop "$rig"; cleanup_suite' EXIT
make_pair
from=root@127.0.0.2:2222
ssh_flags=(--key "$rig/client_ed25519" --known-hosts "$rig/known_hosts")
run_remote() {
  local out=$1 err=$2
  shift 2
  set +e
  "$BIN/migrate" "$@" </dev/null >"$out" 2>"$err"
  RC=$?
  set -e
}

# --- an unknown host key: refused before anything is read or changed
: >"$WORK/empty_known_hosts"
state "$NEW/data" >"$WORK/new.before"
schema "$NEW" >"$WORK/new-schema.before"
run_remote "$WORK/k.out" "$WORK/k.err" --from "$from" --from-path "$OLD" --to-path "$NEW" --key "$rig/client_ed25519" \
  --known-hosts "$WORK/empty_known_hosts" --yes
check "an unknown host key stops the migration (exit 1)" test "$RC" = 1
check "it says the key is not known and how to accept it" grep -q "is not known.*--accept-new-host-key" "$WORK/k.err"
check "nothing changed in the new release" bash -c "test ! -e '$NEW/migration' && cmp -s '$WORK/new.before' <(python3 '$ROOT/tests/tools/treestate.py' '$NEW/data')"

# --- migrate check --from: the remote rows
run_remote "$WORK/chk.out" "$WORK/chk.err" check --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --json
check "migrate check --from passes (exit 0)" test "$RC" = 0
row() { json "$1" '[c["status"] for c in j["checks"] if c["name"]==sys.argv[3]][0]' "$2"; }
for r in ssh "clock skew" agent "old docker engine" "old install" "old postgres" "room for the old data/"; do
  check "check row '$r' is ok" test "$(row "$WORK/chk.out" "$r")" = ok
done
check "the clock skew of one machine with itself reads under a second" \
  python3 -c "import json,re,sys; d=[c['detail'] for c in json.load(open(sys.argv[1]))['checks'] if c['name']=='clock skew'][0]; sys.exit(0 if float(re.search(r'by ([0-9.]+) s', d).group(1)) < 1 else 1)" "$WORK/chk.out"
echo "not a folder" >"$WORK/tmp-is-a-file"
TMPDIR=$WORK/tmp-is-a-file run_remote "$WORK/chk3.out" "$WORK/chk3.err" check --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --json
check "migrate check --from without a usable TMPDIR exits 1" test "$RC" = 1
check "its old install row fails naming the folder it could not make" \
  grep -q "cannot create a private folder in $WORK/tmp-is-a-file" <(json "$WORK/chk3.out" '[c["detail"] for c in j["checks"] if c["name"]=="old install"][0]')
check "and removes nothing (the path TMPDIR named is still there)" grep -qx "not a folder" "$WORK/tmp-is-a-file"
run_remote "$WORK/chk2.out" "$WORK/chk2.err" check --from "$from" --key "$rig/stranger" --known-hosts "$rig/known_hosts"
check "migrate check with a key the old server refuses exits 1" test "$RC" = 1
check "its ssh row fails and says why" grep -q "^ssh .*fail.*rejected the authentication" "$WORK/chk2.out"

# --- a dry run over SSH prints the plan and changes nothing
rm -rf "$HOME/.cache/migrate"
run_remote "$WORK/dry.out" "$WORK/dry.err" --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --dry-run
check "dry run over SSH exits 0" test "$RC" = 0
[[ $RC -eq 0 ]] || cat "$WORK/dry.err"
check "dry run prints the data plan" grep -q "to create" "$WORK/dry.out"
check "dry run prints the database plan" grep -q "^database: replace appdb" "$WORK/dry.out"
check "the agent was uploaded to the old server" grep -q "uploading migrate-agent" "$WORK/dry.err"
check "dry run leaves the database as it was" cmp -s "$WORK/new-schema.before" <(schema "$NEW")

# --- a legacy release's marks at the old install's root (docs/legacy.md): recognised over SSH
# and said in the plan, with its database's volume (a legacy migration over SSH, carried whole:
# remote_legacy.sh)
touch "$OLD/Caddyfile"
mkdir -p "$OLD/etc/ssl"
run_remote "$WORK/legacy.out" "$WORK/legacy.err" --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" \
  --dry-run --json
legacy_row=$(json "$WORK/legacy.out" '[c["detail"] for c in j["checks"] if c["name"]=="legacy layout"][0]' 2>/dev/null || true)
check "a legacy release is recognised over SSH: its root paths and its database's volume in the plan" \
  bash -c "grep -q 'Caddyfile, etc/ssl at its root' <<<'$legacy_row' && grep -q 'database volume .*postgres_data' <<<'$legacy_row'"
[[ -n "$legacy_row" ]] || cat "$WORK/legacy.err"
rm -rf "$OLD/Caddyfile" "$OLD/etc"

# --- a refusal late in the preflight (the new release's web port held), after the replay's
# session to the old server's postgres started over SSH: the refusal, not a crash
held_port=$(sed -n 's/^APP_PORT=//p' "$NEW/.env")
compose_in "$NEW" stop app >/dev/null 2>&1  # the new release's own app holds it until then
docker run -d --rm --name "${PREFIX}portholder" -p "127.0.0.1:$held_port:80" migrate-test/busybox:1 sleep 300 >/dev/null
run_remote "$WORK/held.out" "$WORK/held.err" --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --yes
docker rm -f "${PREFIX}portholder" >/dev/null
compose_in "$NEW" start app >/dev/null 2>&1
check "a port held by another container stops migrate --from (exit 1)" test "$RC" = 1
check "it names the container holding it" grep -q "port $held_port of service .* is held by ${PREFIX}portholder" "$WORK/held.err"

cp -a "$NEW/data" "$WORK/expected"
# (--modify-window=-1: times compared to the nanosecond, as migrate's; see local_migrate.sh)
rsync -a --force --modify-window=-1 "$OLD/data/" "$WORK/expected/"

# --- the migration, FROM and KEY from the environment as the classic scripts set them
set +e
FROM=$from KEY=$rig/client_ed25519 FROM_PATH=$OLD TO_PATH=$NEW "$BIN/migrate" --known-hosts "$rig/known_hosts" --json \
  --dns-hook "env | grep -E '^(DNS_NAME|NEW_IP|OLD_IP)=' | sort > '$WORK/hook.env'" --dns-name www.example.test \
  --new-ip 192.0.2.20 </dev/null >"$WORK/report.out" 2>"$WORK/run.err"
rc=$?
set -e
check "migrate --from exits 0" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$WORK/run.err"
check "--json prints result ok" test "$(json "$WORK/report.out" 'j["result"]')" = ok
check "the DNS hook ran with the old server's address as OLD_IP" \
  test "$(cat "$WORK/hook.env" 2>/dev/null | tr '\n' ' ')" = "DNS_NAME=www.example.test NEW_IP=192.0.2.20 OLD_IP=127.0.0.2 "
check "the report names the old server" test "$(json "$WORK/report.out" 'j["from"]')" = "$from:$OLD"
check "the report has the ssh check with the host key" test "$(json "$WORK/report.out" '[c for c in j["checks"] if c["name"]=="ssh"][0]["ok"]')" = True
check "the report names the agent it used" test "$(json "$WORK/report.out" '[c for c in j["checks"] if c["name"]=="agent"][0]["ok"]')" = True
check "the report counts the bytes on the wire" test "$(json "$WORK/report.out" 'j["data"]["wire"]["bytes_received"]')" -gt 0
# Replayed beside the merge: the dump came on an exec channel while the merge held the agent's
# session, or through the agent (RUN) when the merge had ended before the dump started.
check "the dump came beside the merge, on an SSH channel of its own or through the agent" \
  test "$(json "$WORK/report.out" 'j["database"]["beside_merge"] is True and (j["database"]["wire"]["via"] == "ssh" or (j["database"]["wire"]["via"] == "migrate-agent" and j["database"]["wire"]["agent_bytes_received"] - j["data"]["wire"]["bytes_received"] >= j["database"]["dump_bytes"]))')" = True
check "data/ equals rsync -a --force (every entry and attribute)" diff <(state "$WORK/expected") <(state "$NEW/data")
check "symlinks stay symlinks" test "$(readlink "$NEW/data/outside-link")" = "$WORK/outside-target"
check "sparse file stays sparse" test "$(du -k "$NEW/data/sparse.img" | cut -f1)" -lt 1024
for t in users events audit; do
  check "rows of $t equal the source's" test "$(sql "$NEW" "select count(*) from $t")" = "$(sql "$OLD" "select count(*) from $t")"
done
check "sequence users_id_seq carried" test "$(sql "$NEW" "select last_value from users_id_seq")" = "$(sql "$OLD" "select last_value from users_id_seq")"
check "schema (pg_dump -s) equals the source's" diff <(schema "$OLD") <(schema "$NEW")
check "large objects carried" test "$(sql "$NEW" "select count(*) from pg_largeobject_metadata")" = 1
port=$(sed -n 's/^APP_PORT=//p' "$NEW/.env")
check "the new app serves the migrated data" bash -c "curl -fsS http://127.0.0.1:$port/index.html | grep -qx 'old index'"
check "the old stack is still running" test -n "$(pg_container "$OLD")"
check "the next steps say where to stop the old one" grep -q "stop the old one (on $from)" <(json "$WORK/report.out" '"\n".join(j["next_steps"])')

# --- a second run: the agent is cached, nothing to copy; the database copied as files this time
# (docs/physical-db.md), its base backup streamed through the agent
sql "$OLD" "insert into users(email) values ('after-first-run@example.org')" >/dev/null
MIGRATE_RECORD_PROGRAMS=$WORK/r2.calls run_remote "$WORK/r2.out" "$WORK/r2.err" --from "$from" --from-path "$OLD" \
  --to-path "$NEW" "${ssh_flags[@]}" --json --db-method physical
check "a second run exits 0" test "$RC" = 0
# The old server's first questions go at once, in one program (core/prefetch_host.h): the
# Swarm probe, the compose project, the engine's version, compose and data/ are not asked again.
check "the old server's first questions were asked in one program, and not again one by one" python3 - "$WORK/r2.calls.remote" <<'PY'
import json, sys
argvs = [json.loads(l)["argv"] for l in open(sys.argv[1])]
joined = [" ".join(a if isinstance(a, str) else "" for a in argv) for argv in argvs]
assert sum(j.startswith("sh -c d=$(mktemp -d") for j in joined) == 1, joined
for asked in ("docker info", "docker version", "test -d", "docker ps -a --filter label=com.docker.compose.project.working_dir",
              "sh -c v=; if docker compose"):
    assert not any(j.startswith(asked) for j in joined), (asked, joined)
PY
check "a second run uploads nothing" bash -c "! grep -q uploading '$WORK/r2.err'"
check "a second run writes no file" test "$(json "$WORK/r2.out" 'j["data"]["merge"]["files_written"]')" = 0
check "--db-method physical over SSH: the base backup came through the agent's connection" test "$(json "$WORK/r2.out" \
  'j["database"]["method"] == "physical" and j["database"]["wire"]["agent_bytes_received"] - j["data"]["wire"]["bytes_received"] >= j["database"]["base_backup_bytes"]')" = True
check "after the physical copy: schema (pg_dump -s) equals the source's" diff <(schema "$OLD") <(schema "$NEW")
check "after the physical copy: the row added since the first run is there" \
  test "$(sql "$NEW" "select count(*) from users where email = 'after-first-run@example.org'")" = 1

# --- a DNS hook that fails after a good migration: exit 1, as migrate-local, and says the migration stands
run_remote "$WORK/r3.out" "$WORK/r3.err" --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --json \
  --dns-hook "echo 'zone not found' >&2; exit 3" --dns-name www.example.test --new-ip 192.0.2.20
check "a failed DNS hook makes migrate --from exit 1" test "$RC" = 1
check "it says the migration itself succeeded" grep -q "the DNS hook failed (exit 3: zone not found); the migration itself succeeded" "$WORK/r3.err"
check "the report's result is still ok" test "$(json "$WORK/r3.out" 'j["result"]')" = ok
# --- the two-phase cutover over SSH (docs/cutover.md): the standby's base backup through the
# agent, its WAL over the SSH connection's own channels, the stopped old cluster's last WAL read on the old server; last, as it stops the old release
sql "$OLD" "insert into users(email) values ('before-cutover@example.org')" >/dev/null
run_remote "$WORK/r4.out" "$WORK/r4.err" --from "$from" --from-path "$OLD" --to-path "$NEW" "${ssh_flags[@]}" --json \
  --two-phase
check "migrate --from --two-phase exits 0" test "$RC" = 0
[[ $RC -eq 0 ]] || tail -5 "$WORK/r4.err"
check "... with its downtime in the report" test "$(json "$WORK/r4.out" 'j["data"]["downtime"]["seconds"] > 0' 2>/dev/null)" = True
check "... the row written before the cutover is in the new database" \
  test "$(sql "$NEW" "select count(*) from users where email = 'before-cutover@example.org'")" = 1
check "... and the old release is stopped" test -z "$(pg_container "$OLD")"
finish
