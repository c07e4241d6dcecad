#!/usr/bin/env bash
# migrate-local from a legacy release (docs/legacy.md): its configuration at the install root
# (Caddyfile, .caddy/, etc/ssl/, .pivot-db/), an edited .env, no data/, its database in the volume
# VERSION_postgres_data of a stack that is down; into a running demo 2.0.0 release.
# remote_legacy.sh sources this with LEGACY_OVER_SSH=1: the same install and assertions, the
# migration `migrate --from` through the test sshd (127.0.0.2:2222) instead.
. "$(dirname "$0")/lib.sh"
if [[ -n "${LEGACY_OVER_SSH:-}" ]]; then
  rig=$WORK/sshrig
  bash "$ROOT/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
  trap 'bash "$ROOT/scripts/rig/sshd.sh" stop "$rig"; cleanup_suite' EXIT
  how="migrate --from"
  run_migration() {
    local out=$1 err=$2
    shift 2
    set +e
    "$BIN/migrate" --from root@127.0.0.2:2222 --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts" "$@" \
      </dev/null >"$out" 2>"$err"
    RC=$?
    set -e
  }
else
  how=migrate-local
  run_migration() { run_local "$@"; }
fi

OLD=$WORK/releases/legacy
NEW=$WORK/releases/2.0.0
base=$(port_block)
bash "$ROOT/scripts/rig/make-release.sh" "$OLD" "${PREFIX}v2.24.1" --port "$base" >/dev/null
rm -rf "$OLD/data"
new_release "$NEW" 2.0.0 "$((base + 1))"
compose_in "$NEW" up -d >/dev/null 2>&1
wait_healthy "$NEW"
# the legacy stack ran as docker-compose -p VERSION (its volume VERSION_postgres_data), then went down
lproj="${PREFIX}v2_24_1"
lcompose() { "${COMPOSE[@]}" -p "$lproj" -f "$OLD/docker-compose.yml" --project-directory "$OLD" "$@"; }
lcompose up -d postgres >/dev/null 2>&1
for _ in $(seq 60); do
  lpg=$(docker ps -q --filter "label=com.docker.compose.project=$lproj" --filter label=com.docker.compose.service=postgres)
  [[ -n "$lpg" ]] && docker exec "$lpg" pg_isready -U app -d appdb >/dev/null 2>&1 && break
  sleep 1
done
docker exec -i "$lpg" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
create table users(id serial primary key, email text unique);
insert into users(email) select 'user' || g || '@example.org' from generate_series(1, 42) g;
SQL
lcompose down >/dev/null 2>&1
check "the legacy stack is down, its volume kept" \
  bash -c "test -z \"\$(docker ps -aq --filter label=com.docker.compose.project=$lproj)\" && docker volume inspect ${lproj}_postgres_data >/dev/null"
# its root paths, and the operator's .env edits
mkdir -p "$OLD/.caddy/certs" "$OLD/etc/ssl/private" "$OLD/.pivot-db/investigations"
echo ':443 { reverse_proxy app:8080 }' >"$OLD/Caddyfile"
echo "cert" >"$OLD/.caddy/certs/site.crt"
ln -s certs/site.crt "$OLD/.caddy/current"
echo "key" >"$OLD/etc/ssl/private/key.pem"
chmod 600 "$OLD/etc/ssl/private/key.pem"
chown 1234:2345 "$OLD/etc/ssl/private/key.pem"
echo '{"id": 1}' >"$OLD/.pivot-db/investigations/1.json"
touch -d '2021-01-02 03:04:05.123456789' "$OLD/Caddyfile"
# (times of the past, seconds apart from the new release's: rsync, the oracle, compares times in
# whole seconds and leaves a folder it made this second as it is)
find "$OLD/.caddy" "$OLD/etc" "$OLD/.pivot-db" -depth -exec touch -h -d '2021-02-03 04:05:06.789' {} +
echo "SMTP_HOST=mail.example.org" >>"$OLD/.env"
# the new release's own: a Caddyfile of its own, an etc/ with a script, custom.env with a setting
echo "new caddy" >"$NEW/Caddyfile"
mkdir -p "$NEW/etc/scripts"
echo "upgrade" >"$NEW/etc/scripts/upgrade.sh"
printf '# site settings\nTHEME=dark\n' >"$NEW/custom.env"
cp "$NEW/.env" "$WORK/new.env"
# the oracle: rsync -a --force of those paths only, onto a copy of the new release's root
cp -a "$NEW" "$WORK/oracle"
# (--modify-window=-1: times compared to the nanosecond, as migrate's; see local_migrate.sh)
rsync -a --force --modify-window=-1 --include='/.caddy/' --include='/.caddy/**' --include=/Caddyfile --include='/etc/' \
  --include='/etc/ssl/' --include='/etc/ssl/**' --include='/.pivot-db/' --include='/.pivot-db/**' --exclude='*' \
  "$OLD/" "$WORK/oracle/"

run_migration "$WORK/dry.out" "$WORK/dry.err" --from-path "$OLD" --to-path "$NEW" --dry-run --json
row=$(json "$WORK/dry.out" '[c["detail"] for c in j["checks"] if c["name"]=="legacy layout"][0]' 2>/dev/null || true)
check "the plan says legacy layout: its root paths, its database's volume and project" \
  bash -c "grep -q '.caddy, .pivot-db, Caddyfile, etc/ssl\\|Caddyfile, .caddy, etc/ssl, .pivot-db' <<<'$row' &&
           grep -q 'database volume ${lproj}_postgres_data (project $lproj)' <<<'$row'"
[[ -n "$row" ]] || cat "$WORK/dry.err"

run_migration "$WORK/run.out" "$WORK/run.err" --from-path "$OLD" --to-path "$NEW" --json
check "$how from the legacy release exits 0" test "$RC" -eq 0
[[ $RC -eq 0 ]] || cat "$WORK/run.err"
for p in .caddy etc/ssl .pivot-db; do
  check "$p equals rsync -a --force's, attribute for attribute" diff <(state "$WORK/oracle/$p") <(state "$NEW/$p")
done
fstate() { stat -c '%s %a %u:%g %y' "$1" && cat "$1"; }
check "Caddyfile equals rsync -a --force's" diff <(fstate "$WORK/oracle/Caddyfile") <(fstate "$NEW/Caddyfile")
check "etc itself: mode, owner and time as rsync -a --force leaves them" \
  diff <(stat -c '%a %u:%g %Y' "$WORK/oracle/etc") <(stat -c '%a %u:%g %Y' "$NEW/etc")
check "the new release's own etc/scripts is kept" test "$(cat "$NEW/etc/scripts/upgrade.sh" 2>/dev/null)" = upgrade
check "its .env is its own still" cmp -s "$WORK/new.env" "$NEW/.env"
check "custom.env holds the operator's edits, its own setting kept" \
  bash -c "grep -qx 'SMTP_HOST=mail.example.org' '$NEW/custom.env' && grep -qx 'THEME=dark' '$NEW/custom.env' &&
           ! grep -q '^VERSION=' '$NEW/custom.env'"
moved=$(json "$WORK/run.out" '",".join(j["data"]["legacy"]["env_moved"])' 2>/dev/null || true)
check "the report names the keys moved, not their values" \
  bash -c "grep -q SMTP_HOST <<<'$moved' && ! grep -q mail.example.org '$WORK/run.out'"
mdir=$(json "$WORK/run.out" 'j["migration_dir"]' 2>/dev/null || echo /nonexistent)
check "what the new release had is kept in the run folder" \
  bash -c "test \"\$(cat '$mdir/root.backup/Caddyfile')\" = 'new caddy' && grep -qx 'THEME=dark' '$mdir/custom.env.before'"
check "the database is the legacy volume's: 42 users" test "$(sql "$NEW" "select count(*) from users")" = 42
check "the legacy stack's postgres, started for the copy, is down again" \
  test -z "$(docker ps -q --filter "label=com.docker.compose.project=$lproj")"

run_migration "$WORK/again.out" "$WORK/again.err" --from-path "$OLD" --to-path "$NEW" --json
changed=$(json "$WORK/again.out" 'j["data"]["legacy"]["root_plan"]["create"] + j["data"]["legacy"]["root_plan"]["replace"] + j["data"]["legacy"]["root_plan"]["attrs"]' 2>/dev/null || echo none)
check "run again: exit 0, nothing under the root paths to write again, not even a time" \
  test "$RC $changed" = "0 0"
finish
