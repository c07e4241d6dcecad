#!/usr/bin/env bash
# The whole remote migration as the operator runs it, against the by-hand steps it replaces,
# side by side in one run over the same loopback sshd (127.0.0.2:2222) and docker engine:
#   migrate --from root@127.0.0.2:2222 --from-path OLD --to-path NEW_M --yes
#   by hand, into NEW_H: rsync -a -e ssh OLD/data/ NEW_H/data/
#                        ssh old 'docker exec PG pg_dump --clean --if-exists appdb' | docker exec -i PG' psql
#                        docker-compose -p NEW_H up -d
# Three cases: initial (empty targets), re-run with nothing changed, re-run after 1% of the
# small files and 1 MiB of each large file changed (bench/gendata.py --touch). The old
# release holds DIRS x FILES small files + BIG x BIG_MB MiB and a pgbench database (SCALE).
# Usage: bench/e2e.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE REPS). Needs root and what
# scripts/test.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-10} FILES=${FILES:-50} BIG=${BIG:-1} BIG_MB=${BIG_MB:-8} SCALE=${SCALE:-1}; fi
DIRS=${DIRS:-100} FILES=${FILES:-200} BIG=${BIG:-2} BIG_MB=${BIG_MB:-256} SCALE=${SCALE:-5} REPS=${REPS:-3}
. "$root/tests/e2e/lib.sh"
work=$WORK
. "$root/bench/lib.sh"
rig=$WORK/sshrig
bash "$root/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
trap 'bash "$root/scripts/rig/sshd.sh" stop "$rig"; cleanup_suite' EXIT
key=$rig/client_ed25519
ssh_cmd="ssh -p 2222 -i $key -o UserKnownHostsFile=$rig/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes"

OLD=$WORK/releases/1.0.0 NEW_M=$WORK/releases/2.0.0 NEW_H=$WORK/releases/2.0.1
base=$((18100 + RANDOM % 800))
new_release "$OLD" 1.0.0 "$base"
new_release "$NEW_M" 2.0.0 "$((base + 1))"
new_release "$NEW_H" 2.0.1 "$((base + 2))"
for d in "$OLD" "$NEW_M" "$NEW_H"; do compose_in "$d" up -d >/dev/null 2>&1; done
for d in "$OLD" "$NEW_M" "$NEW_H"; do wait_healthy "$d"; done
log "generating $DIRS x $FILES small files, $BIG x $BIG_MB MiB and pgbench scale $SCALE"
python3 "$root/bench/gendata.py" "$OLD/data" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
docker exec -e PGPASSWORD=s3cr3t-Demo_pw "$(pg_container "$OLD")" pgbench -q -i -s "$SCALE" -U app appdb >/dev/null 2>&1
size=$(du -sh "$OLD/data" | cut -f1)
db_size=$(sql "$OLD" "select pg_size_pretty(pg_database_size('appdb'))")
src=$WORK/src  # gendata.py --touch works on this name
ln -s "$OLD/data" "$src"

# Each side as one script, so that /usr/bin/time measures the whole of it.
cat >"$WORK/by-migrate.sh" <<SH
exec "$BIN/migrate" --from root@127.0.0.2:2222 --key "$key" --known-hosts "$rig/known_hosts" \\
  --from-path "$OLD" --to-path "$NEW_M" --yes --quiet
SH
cat >"$WORK/by-hand.sh" <<SH
set -euo pipefail
rsync -a -e "$ssh_cmd" "root@127.0.0.2:$OLD/data/" "$NEW_H/data/"
$ssh_cmd root@127.0.0.2 "docker exec -e PGPASSWORD=s3cr3t-Demo_pw $(pg_container "$OLD") pg_dump --clean --if-exists -U app appdb" |
  docker exec -i -e PGPASSWORD=s3cr3t-Demo_pw "$(pg_container "$NEW_H")" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 >/dev/null
${COMPOSE[*]} -p "$(project_of "$NEW_H")" -f "$NEW_H/docker-compose.yml" --project-directory "$NEW_H" up -d >/dev/null 2>&1
SH
# Back to a new release that was started once: empty data/, an empty database. The trees of
# the round before are moved aside, not removed: on an ext4 without a journal (this VM's root)
# every file created within a minute of 20,000 deletions in its block group scans past them
# (recently_deleted() in ext4_create: 2-5 s of system time per round, growing round after
# round, perf, docs/benchmarks.md); a new server's initial copy meets no such deletions.
aside=$WORK/aside
reset_targets() {
  mkdir -p "$aside"
  for d in "$NEW_M" "$NEW_H"; do
    [[ -e "$d/data" ]] && mv "$d/data" "$aside/data.$RANDOM$RANDOM"
    [[ -e "$d/migration" ]] && mv "$d/migration" "$aside/migration.$RANDOM$RANDOM"
    mkdir -p "$d/data"
    docker exec -e PGPASSWORD=s3cr3t-Demo_pw "$(pg_container "$d")" sh -c \
      'dropdb -U app --force appdb && createdb -U app appdb' >/dev/null
  done
}

run_case() {
  local case=$1
  alternate "$case" "$2" "$WORK/by-hand.sh" "$WORK/by-migrate.sh"
  local h m
  h=$(cat "$work/h-$case.t") m=$(cat "$work/m-$case.t")
  # migrate's own step times of this case's rounds (report.json), to stderr
  python3 - "$NEW_M/migration" "$REPS" "$case" >&2 <<'PY'
import glob, json, os, sys
runs = sorted(glob.glob(os.path.join(sys.argv[1], "*", "report.json")))[-int(sys.argv[2]):]
for r in runs:
    steps = json.load(open(r))["steps"]
    print("steps of %s: " % sys.argv[3] + ", ".join("%s %.2f" % (s["name"], s["seconds"]) for s in steps))
PY
  printf '| %s | %.2f | %.2f | %s |\n' "$case" "$h" "$m" "$(ratio "$m" "$h")"
}

echo
echo "### migrate --from end to end vs the by-hand steps: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size), pgbench scale $SCALE ($db_size), median of $REPS"
echo
echo "| case | by hand (rsync -a -e ssh + pg_dump over ssh \\| psql + compose up) s | migrate --from s | ratio |"
echo "|---|---|---|---|"
run_case initial reset_targets
run_case nochange ':'
run_case changed touch_set
check "migrate's data/ equals the by-hand rsync's" diff <(state "$NEW_H/data") <(state "$NEW_M/data")
check "and its rows equal the source's" test "$(sql "$NEW_M" "select count(*) from pgbench_accounts")" = "$(sql "$OLD" "select count(*) from pgbench_accounts")"
finish
