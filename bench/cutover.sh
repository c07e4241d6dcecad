#!/usr/bin/env bash
# The downtime of a cutover (the old release's writers stopped -> the new release's services
# running), migrate-local --two-phase (docs/cutover.md) beside the same cutover by hand, each on
# a pair of releases of its own, with pgbench writing into the old database all along:
#   by hand: rsync -a OLD/data/ NEW/data/ while the old release serves; then (timed) the writers
#            stopped, rsync -a again, pg_dump | psql into a fresh database, the old stopped, the
#            new one up
#   migrate-local --two-phase --yes: its report's data.downtime
# The old releases hold DIRS x FILES small files + BIG x BIG_MB MiB and pgbench scale SCALE.
# Usage: bench/cutover.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE WRITE_SECONDS). Needs
# root and what scripts/test.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-10} FILES=${FILES:-50} BIG=${BIG:-1} BIG_MB=${BIG_MB:-8} SCALE=${SCALE:-1}; fi
DIRS=${DIRS:-100} FILES=${FILES:-200} BIG=${BIG:-4} BIG_MB=${BIG_MB:-256} SCALE=${SCALE:-20}
WRITE_SECONDS=${WRITE_SECONDS:-10}  # pgbench's writes before the cutover starts
. "$root/tests/e2e/lib.sh"
work=$WORK
. "$root/bench/lib.sh"
base=$(port_block)
OLD_H=$WORK/releases/1.0.0 NEW_H=$WORK/releases/2.0.0 OLD_M=$WORK/releases/1.0.1 NEW_M=$WORK/releases/2.0.1
new_release "$OLD_H" 1.0.0 "$base"
new_release "$NEW_H" 2.0.0 "$((base + 1))"
new_release "$OLD_M" 1.0.1 "$((base + 2))"
new_release "$NEW_M" 2.0.1 "$((base + 3))"
for d in "$OLD_H" "$NEW_H" "$OLD_M" "$NEW_M"; do compose_in "$d" up -d >/dev/null 2>&1; done
for d in "$OLD_H" "$NEW_H" "$OLD_M" "$NEW_M"; do wait_healthy "$d"; done
log "generating $DIRS x $FILES small files, $BIG x $BIG_MB MiB and pgbench scale $SCALE (twice)"
for d in "$OLD_H" "$OLD_M"; do
  python3 "$root/bench/gendata.py" "$d/data" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
  docker exec "$(pg_container "$d")" pgbench -q -i -s "$SCALE" -U app appdb >/dev/null 2>&1
  docker exec "$(pg_container "$d")" psql -U app -d appdb -qc checkpoint >/dev/null
done
size=$(du -sh "$OLD_H/data" | cut -f1)
db_size=$(sql "$OLD_H" "select pg_size_pretty(pg_database_size('appdb'))")
# writer DIR: pgbench writing into DIR's database until its postgres goes (or it is killed)
writer() { docker exec "$(pg_container "$1")" pgbench -n -c 2 -T 3600 -U app appdb >/dev/null 2>&1 & }
now() { date +%s.%N; }

# --- by hand
writer "$OLD_H"
hand_writer=$!
sleep "$WRITE_SECONDS"
rsync -a "$OLD_H/data/" "$NEW_H/data/"
pg_h=$(pg_container "$OLD_H") npg_h=$(pg_container "$NEW_H")
sync
t0=$(now)
compose_in "$OLD_H" stop app >/dev/null 2>&1
kill "$hand_writer" 2>/dev/null || true
docker exec "$pg_h" psql -X -q -U app -d postgres -c "select pg_terminate_backend(pid) from pg_stat_activity where datname = 'appdb'" >/dev/null
rsync -a "$OLD_H/data/" "$NEW_H/data/"
docker exec "$npg_h" psql -X -q -U app -d postgres -c 'drop database appdb with (force)' -c 'create database appdb' >/dev/null
docker exec "$pg_h" pg_dump -U app -d appdb | docker exec -i "$npg_h" psql -X -q -U app -d appdb -v ON_ERROR_STOP=1 >/dev/null
compose_in "$OLD_H" stop >/dev/null 2>&1
compose_in "$NEW_H" up -d >/dev/null 2>&1
wait_healthy "$NEW_H"
t1=$(now)
hand=$(python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1")

# --- migrate-local --two-phase
writer "$OLD_M"
sleep "$WRITE_SECONDS"
"$BIN/migrate-local" --from-path "$OLD_M" --to-path "$NEW_M" --two-phase --dry-run --json >"$work/estimate.out" 2>/dev/null
estimate=$(json "$work/estimate.out" '"%.2f" % j["data"]["downtime_estimate"]["seconds"]')
estimate_parts=$(json "$work/estimate.out" '", ".join("%s %.2f" % kv for kv in j["data"]["downtime_estimate"]["parts"].items())')
estimate_measured=$(json "$work/estimate.out" '", ".join("%s %.3f" % kv for kv in j["data"]["downtime_estimate"]["measured"].items())')
sync
measure migrate "$BIN/migrate-local" --from-path "$OLD_M" --to-path "$NEW_M" --two-phase --yes --json
wait || true
ours=$(json "$work/migrate.out" '"%.2f" % j["data"]["downtime"]["seconds"]')
steps=$(json "$work/migrate.out" '", ".join("%s %.2f" % (s["name"], s["seconds"]) for s in j["steps"])')
cut=$(json "$work/migrate.out" '", ".join("%s %.2f" % kv for kv in j["database"]["cutover_seconds"].items())')
rows=$(json "$work/migrate.out" '"%s" % j["database"]["target"]["tables"].get("public.pgbench_history", 0)')

echo
echo "### two-phase cutover: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size), pgbench scale $SCALE ($db_size), pgbench -c 2 writing"
echo
echo "| | by hand (rsync -a again + pg_dump \\| psql + compose up) s | migrate-local --two-phase s | ratio |"
echo "|---|---|---|---|"
echo "| downtime | $hand | $ours | $(ratio "$ours" "$hand") |"
echo
echo "the dry run's estimate: $estimate s ($(ratio "$estimate" "$ours") of the downtime measured); its parts (s): $estimate_parts; measured: $estimate_measured"
echo "whole migrate-local --two-phase: $(cut -d' ' -f1 "$work/migrate") s; its steps (s): $steps"
echo "cut over database (s): $cut"
echo "pgbench_history rows carried (written by pgbench during phase 1): $rows"
