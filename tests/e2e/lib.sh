# shellcheck shell=bash
# Shared by the end-to-end suites: two demo releases of the product on the real engine.
#
#   . "$(dirname "$0")/lib.sh"
#   make_pair            # $OLD running with data and rows, $NEW running with its own state
#   check "what" cmd...  # an assertion: prints ok/FAIL, counts failures
#   finish               # exits non-zero when any check failed
set -euo pipefail
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$E2E_DIR/../.." && pwd)
BIN=${MIGRATE_BIN:-$ROOT/build/bin}
. "$ROOT/scripts/lib/common.sh"
. "$E2E_DIR/checks.sh"
read -r -a COMPOSE <<<"$(compose_cmd)"
SUITE=$(basename "$0" .sh | tr -cd 'a-z0-9')
PREFIX=migtest${SUITE}
# cleanup_suite removes every compose project whose name starts with PREFIX: no other suite's
# name may start with this one's (local_two_phase's cleanup once took local_two_phase_resume's
# volumes from under it, when the two ran side by side).
for other in "$(dirname "$0")"/*.sh; do
  o=$(basename "$other" .sh | tr -cd 'a-z0-9')
  if [[ "$o" != "$SUITE" && "$o" == "$SUITE"* ]]; then
    echo "FAIL - suite $SUITE is a prefix of suite $o: their compose projects would collide; rename one" >&2
    exit 1
  fi
done
WORK=$(mktemp -d "/tmp/e2e-$SUITE.XXXXXX")

cleanup_suite() {
  # What the suite started in the background (daemons) never outlives it, even when it stops early.
  local left
  left=$(jobs -p)
  [[ -z "$left" ]] || kill $left 2>/dev/null || true
  bash "$ROOT/scripts/rig/cleanup.sh" "$PREFIX" >/dev/null 2>&1 || true
  { grep -lx "$$" "$PORT_CLAIMS"/[0-9]* 2>/dev/null || true; } | xargs -r rm -f
  if [[ -z "${KEEP_WORK:-}" ]]; then rm -rf "$WORK"; else echo "kept $WORK"; fi
}
trap cleanup_suite EXIT

# port_block: the first of 4 consecutive TCP ports free on this machine, claimed for this suite in
# $PORT_CLAIMS (a claim whose suite is gone is void), so that suites running at once never share one.
PORT_CLAIMS=/tmp/migtest-ports
port_block() {
  local base p taken f lk
  mkdir -p "$PORT_CLAIMS"
  exec {lk}>"$PORT_CLAIMS/.lock"
  flock "$lk"
  for f in "$PORT_CLAIMS"/[0-9]*; do
    [[ -e "$f" ]] && ! kill -0 "$(cat "$f")" 2>/dev/null && rm -f "$f"
  done
  while :; do
    base=$((18100 + (RANDOM % 450) * 4))
    [[ -e "$PORT_CLAIMS/$base" ]] && continue
    taken=""
    for ((p = base; p < base + 4; p++)); do
      [[ -n "$(ss -Hltn "sport = :$p")" ]] && taken=1
    done
    [[ -z "$taken" ]] && break
  done
  echo $$ >"$PORT_CLAIMS/$base"
  exec {lk}>&-
  echo "$base"
}

# compose_in DIR ARGS...: compose for a release folder under its own project name.
compose_in() {
  local dir=$1
  shift
  "${COMPOSE[@]}" -p "$(project_of "$dir")" -f "$dir/docker-compose.yml" --project-directory "$dir" "$@"
}
project_of() { sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$1/.env"; }
pg_container() { docker ps -q --filter "label=com.docker.compose.project=$(project_of "$1")" --filter label=com.docker.compose.service=postgres; }
# sql DIR "SQL": runs SQL in a release's database, prints rows (unaligned, tuples only).
sql() { docker exec -i "$(pg_container "$1")" psql -X -q -At -U app -d appdb -v ON_ERROR_STOP=1 -c "$2"; }

# state DIR: every entry of a tree with every attribute (tests/tools/treestate.py).
state() { python3 "$ROOT/tests/tools/treestate.py" "$1"; }
# schema DIR: pg_dump -s of a release's database, without comments and pg_dump's random keys.
schema() { docker exec "$(pg_container "$1")" pg_dump -s -U app -d appdb | grep -v -e '^--' -e '^\\restrict' -e '^\\unrestrict' -e '^$'; }
# json FILE EXPR: evaluates a Python expression over the JSON object j read from FILE.
json() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$@"; }
# run_local OUT ERR ARGS...: migrate-local with no stdin; sets RC to its exit code.
run_local() {
  local out=$1 err=$2
  shift 2
  set +e
  "$BIN/migrate-local" "$@" </dev/null >"$out" 2>"$err"
  RC=$?
  set -e
}

# new_release DIR VERSION PORT: a demo release under a project name of this suite.
new_release() {
  bash "$ROOT/scripts/rig/make-release.sh" "$1" "$2" --port "$3" >/dev/null
  echo "COMPOSE_PROJECT_NAME=${PREFIX}$(echo "$2" | tr -cd 'a-z0-9')" >>"$1/.env"
}

wait_healthy() {
  local dir=$1 i
  for ((i = 0; i < 60; i++)); do
    if docker exec "$(pg_container "$dir")" pg_isready -U app -d appdb >/dev/null 2>&1 &&
      sql "$dir" "select 1" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "postgres of $dir did not come up" >&2
  return 1
}

# make_pair: OLD (1.0.0) and NEW (2.0.0) under $WORK/releases, both running.
make_pair() {
  OLD=$WORK/releases/1.0.0
  NEW=$WORK/releases/2.0.0
  local base
  base=$(port_block)
  new_release "$OLD" 1.0.0 "$base"
  new_release "$NEW" 2.0.0 "$((base + 1))"
  compose_in "$OLD" up -d >/dev/null 2>&1
  compose_in "$NEW" up -d >/dev/null 2>&1
  wait_healthy "$OLD"
  wait_healthy "$NEW"
  seed_old
  seed_new
}

seed_old() {
  local d=$OLD/data
  mkdir -p "$d/uploads/2024" "$d/empty dir" "$d/conf"
  echo "old index" >"$d/index.html"
  printf 'photo-%s\n' {1..500} >"$d/uploads/2024/photo one.jpg"
  echo "secret" >"$d/conf/key.pem"
  chmod 600 "$d/conf/key.pem"
  chmod 4755 "$d/uploads/2024/photo one.jpg"
  printf 'x' >"$d/ünïcødé név"
  printf 'nl' >"$d/new"$'\n'"line"
  ln -s uploads/2024 "$d/latest"
  # A link out of data/ to a file of the suite's own (not /etc/passwd: other suites add users
  # while this one runs, so its time says nothing about what a merge wrote through the link).
  echo "outside data/" >"$WORK/outside-target"
  touch -d '2020-01-02 03:04:05' "$WORK/outside-target"
  ln -s "$WORK/outside-target" "$d/outside-link"
  echo "was a file in old" >"$d/became-dir"
  mkdir -p "$d/became-file"
  echo inner >"$d/became-file/inner"
  truncate -s 64M "$d/sparse.img"
  printf 'data' | dd of="$d/sparse.img" bs=1 seek=1000000 conv=notrunc status=none
  mkfifo "$d/fifo"
  chown 1234:2345 "$d/conf/key.pem"
  touch -d '2020-01-02 03:04:05.123456789' "$d/index.html"
  docker exec -i "$(pg_container "$OLD")" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE ROLE reporter NOLOGIN;
CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, created timestamptz DEFAULT now());
CREATE TABLE events (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), kind text, payload jsonb);
CREATE INDEX events_kind ON events(kind);
INSERT INTO users(email) SELECT 'user' || g || '@example.org' FROM generate_series(1, 250) g;
INSERT INTO events(user_id, kind, payload) SELECT 1 + g % 250, 'k' || g % 7, jsonb_build_object('n', g) FROM generate_series(1, 5000) g;
DELETE FROM events WHERE id % 10 = 0;
CREATE VIEW user_event_counts AS SELECT u.email, count(e.id) FROM users u LEFT JOIN events e ON e.user_id = u.id GROUP BY u.email;
CREATE MATERIALIZED VIEW kinds AS SELECT kind, count(*) FROM events GROUP BY kind;
CREATE TABLE audit (id serial PRIMARY KEY, note text);
CREATE FUNCTION audit_users() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit(note) VALUES ('insert ' || NEW.email); RETURN NEW; END $$;
CREATE TRIGGER users_audit AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION audit_users();
INSERT INTO users(email) SELECT 'late' || g || '@example.org' FROM generate_series(1, 10) g;
GRANT SELECT ON users TO reporter;
COMMENT ON TABLE users IS 'the people';
SELECT lo_from_bytea(0, 'large object bytes');
SQL
}

seed_new() {
  local d=$NEW/data
  mkdir -p "$d/uploads" "$d/became-dir" "$d/target-only-dir"
  echo "new index (will be replaced)" >"$d/index.html"
  echo "only in the new release" >"$d/target-only.txt"
  echo "kept" >"$d/target-only-dir/keep.me"
  echo "inner" >"$d/became-dir/inner"
  echo "a file now" >"$d/became-file"
  docker exec -i "$(pg_container "$NEW")" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE TABLE users (id serial PRIMARY KEY, email text, new_column int);
INSERT INTO users(email) VALUES ('fresh@new.example');
CREATE TABLE target_only (x int);
INSERT INTO target_only VALUES (1), (2);
SQL
}
