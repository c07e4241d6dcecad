#!/usr/bin/env bash
# Benchmarks migrate-local's two heavy steps against their peers, side by side in one run:
#   1. the data/ merge: `migrate merge-dir` vs `rsync -a` (local), three cases: initial copy,
#      re-run with no change, re-run after appending to 1% of the small files and overwriting
#      1 MiB in each large file. Wall time and peak memory (RSS), and their ratios.
#   2. the database: migrate-local --skip-data, logical (--db-method logical: the replay) and
#      physical (--db-method physical: the cluster copied as files, each into a fresh release),
#      vs `pg_dump | psql` through docker exec, on a pgbench database (scale SCALE).
# Usage: bench/local.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE; PARTS="data db" to run
# only some; --quick: a small set; FROM_SSH=1: the database part as `migrate --from` over the
# test sshd (127.0.0.2:2222), the peer's pg_dump run through `ssh`)
# Prints a Markdown table; needs root (packages, engine). Data goes to /tmp/migrate-bench.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/lib/common.sh"
need_root
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-20} FILES=${FILES:-50} BIG=${BIG:-2} BIG_MB=${BIG_MB:-16} SCALE=${SCALE:-2}; fi
DIRS=${DIRS:-100} FILES=${FILES:-200} BIG=${BIG:-4} BIG_MB=${BIG_MB:-256} SCALE=${SCALE:-20}
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" time
[[ -x "$root/build/bin/migrate" ]] || build_migrate "$root/build"
bin=$root/build/bin
work=/tmp/migrate-bench
rm -rf "$work"
mkdir -p "$work"
trap 'bash "$root/scripts/rig/sshd.sh" stop "$work/rig" >/dev/null 2>&1 || true; rm -rf "$work"; bash "$root/scripts/rig/cleanup.sh" migbench >/dev/null 2>&1 || true' EXIT

. "$root/bench/lib.sh"
field() { cut -d' ' -f"$2" "$work/$1"; }

PARTS=${PARTS:-data db}
if [[ " $PARTS " == *" data "* ]]; then
log "generating $DIRS x $FILES small files and $BIG x $BIG_MB MiB"
python3 "$root/bench/gendata.py" "$work/src" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
size=$(du -sh "$work/src" | cut -f1)
cat "$work/src"/d*/* "$work/src"/big* >/dev/null  # both tools start from a warm cache

REPS=${REPS:-3}
# run_case CASE PREP: REPS rounds, the tools' order alternating, each after `sync` and a pause
# (what one tool left dirty must not slow the other). PREP runs before each round. The `sync`
# right after rsync is timed too: rsync + sync is the same durability migrate gives.
run_case() {
  local case=$1 prep=$2 i t
  for ((i = 1; i <= REPS; i++)); do
    eval "$prep"
    local order="r m"
    ((i % 2 == 0)) && order="m r"
    for t in $order; do
      sync
      sleep 1
      if [[ $t == r ]]; then
        measure "r-$case-$i" rsync -a "$work/src/" "$work/by-rsync$SUFFIX/"
        measure "s-$case-$i" sync
      else
        measure "m-$case-$i" "$bin/migrate" merge-dir -q "$work/src" "$work/by-migrate$SUFFIX"
      fi
    done
  done
  for t in r m s; do
    for i in $(seq 1 "$REPS"); do cut -d' ' -f1 "$work/$t-$case-$i"; done | median >"$work/$t-$case.t"
    for i in $(seq 1 "$REPS"); do cut -d' ' -f2 "$work/$t-$case-$i"; done | sort -n | tail -1 >"$work/$t-$case.m"
  done
  local r m rs
  r=$(cat "$work/r-$case.t")
  m=$(cat "$work/m-$case.t")
  rs=$(python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$r" "$(cat "$work/s-$case.t")")
  printf '| %s | %.2f | %.2f | %.2f | %s | %s | %d | %d | %s |\n' "$case" "$r" "$rs" "$m" "$(ratio "$m" "$r")" \
    "$(ratio "$m" "$rs")" "$(($(cat "$work/r-$case.m") / 1024))" "$(($(cat "$work/m-$case.m") / 1024))" \
    "$(ratio "$(cat "$work/m-$case.m")" "$(cat "$work/r-$case.m")")"
}

echo
echo "### data/ merge: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size), local, warm cache, median of $REPS"
echo
echo "| case | rsync -a s | rsync -a, then sync s | migrate s | vs rsync | vs rsync+sync | rsync RSS MiB | migrate RSS MiB | memory ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
# Each initial round copies into new folders: deleting 40,000 files right before would measure
# ext4's inode allocator stepping over recently freed inodes more than the copy.
SUFFIX=
run_case initial 'SUFFIX=.$i'
mv "$work/by-rsync.$REPS" "$work/by-rsync"
mv "$work/by-migrate.$REPS" "$work/by-migrate"
SUFFIX=
run_case nochange ':'
run_case changed 'touch_set'
check_migrate_copy
if ! diff -q "$work/src.state" <(python3 "$root/tests/tools/treestate.py" "$work/by-rsync" 2>/dev/null) >/dev/null; then
  echo
  echo "note: rsync's copy differs from the source in folder mtimes (rsync compares whole seconds;"
  echo "folders written into within the second of their source mtime keep rsync's write time)."
fi
rm -rf "$work/src" "$work/by-rsync" "$work/by-migrate"
fi
[[ " $PARTS " == *" db "* ]] || exit 0

ensure_engine
bash "$root/scripts/rig/images.sh" >/dev/null
read -r -a COMPOSE <<<"$(compose_cmd)"
mk() {
  bash "$root/scripts/rig/make-release.sh" "$1" "$2" --port "$3" >/dev/null 2>&1
  echo "COMPOSE_PROJECT_NAME=migbench$4" >>"$1/.env"
  "${COMPOSE[@]}" -p "migbench$4" -f "$1/docker-compose.yml" --project-directory "$1" up -d postgres >/dev/null 2>&1
}
mk "$work/old" 1.0.0 18991 old
mk "$work/new" 2.0.0 18992 new
mk "$work/phys" 2.0.0 18993 phys
for p in old new phys; do
  for _ in $(seq 1 60); do docker exec "migbench${p}_postgres_1" psql -U app -d appdb -c 'select 1' >/dev/null 2>&1 && break; sleep 1; done
done
log "pgbench -i -s $SCALE in the old release"
docker exec migbench_old_postgres_1 true 2>/dev/null || true
docker exec migbenchold_postgres_1 pgbench -i -q -s "$SCALE" -U app appdb >/dev/null 2>&1
# A server in production wrote most of its data long before (checkpointed): the freshly loaded
# tables are checkpointed here, not in whichever method runs first.
docker exec migbenchold_postgres_1 psql -U app -d appdb -qc checkpoint >/dev/null
dbsize=$(docker exec migbenchold_postgres_1 psql -U app -d appdb -Atc "select pg_size_pretty(pg_database_size('appdb'))")
docker exec migbenchnew_postgres_1 psql -U app -d appdb -qc "create database peer" >/dev/null
settle() { sync; sleep 1; }  # what one run left dirty must not slow the next
dump="docker exec migbenchold_postgres_1 pg_dump -U app -d appdb"
ours=("$bin/migrate-local")
how=migrate-local
if [[ "${FROM_SSH:-0}" == 1 ]]; then  # the old release as another server: the test sshd
  bash "$root/scripts/rig/sshd.sh" start "$work/rig" 127.0.0.2 2222 >/dev/null
  dump="ssh -p 2222 -i $work/rig/client_ed25519 -o UserKnownHostsFile=$work/rig/known_hosts -o BatchMode=yes root@127.0.0.2 $dump"
  ours=("$bin/migrate" --from root@127.0.0.2:2222 --key "$work/rig/client_ed25519" --known-hosts "$work/rig/known_hosts")
  how="migrate --from"
fi
settle
measure peer bash -c "$dump | docker exec -i migbenchnew_postgres_1 psql -q -U app -d peer -v ON_ERROR_STOP=1"
settle
measure ours "${ours[@]}" --from-path "$work/old" --to-path "$work/new" --skip-data --no-restart --yes --json
settle
measure physical "${ours[@]}" --from-path "$work/old" --to-path "$work/phys" --skip-data --no-restart --yes --json \
  --db-method physical
# step_of DIR STEP: the step's seconds and its breakdown, from the newest report in DIR
step_of() {
  python3 -c 'import json,glob,sys; j=json.load(open(sorted(glob.glob(sys.argv[1]+"/migration/2*/report.json"))[-1])); print(" ".join("%s=%.2f" % kv for kv in j["database"]["seconds"].items())); print([s["seconds"] for s in j["steps"] if s["name"]==sys.argv[2]][0])' "$@"
}
replay=$(step_of "$work/new" "replay database")
copy=$(step_of "$work/phys" "copy database")
step=$(echo "$replay" | tail -1)
cstep=$(echo "$copy" | tail -1)
peer=$(field peer 1)
echo
echo "### database: pgbench scale $SCALE ($dbsize), docker exec on both sides, $how"
echo
echo "| | pg_dump \\| psql s | $how logical s | ratio | $how physical s | ratio |"
echo "|---|---|---|---|---|---|"
printf '| whole command (preflight, safety copy, verify, swap included) | %.2f | %.2f | %s | %.2f | %s |\n' "$peer" \
  "$(field ours 1)" "$(ratio "$(field ours 1)" "$peer")" "$(field physical 1)" "$(ratio "$(field physical 1)" "$peer")"
printf '| database step alone | %.2f | %.2f | %s | %.2f | %s |\n' "$peer" "$step" "$(ratio "$step" "$peer")" \
  "$cstep" "$(ratio "$cstep" "$peer")"
echo
echo "replay step breakdown (s): $(echo "$replay" | head -1)"
echo "copy step breakdown (s): $(echo "$copy" | head -1)"
