#!/usr/bin/env bash
# migrate backup create / migrate restore as the operator runs them, against the by-hand restic
# recipe they replace, side by side in one run on the same engine, each into its own folder
# repository:
#   backup by hand:  docker exec PG pg_dump -Fc appdb | restic backup --stdin --stdin-filename db.dump
#                    restic backup data/
#   restore by hand: restic restore SNAP --target T --include /data (into a folder beside: the
#                    swap for data/ is one rename, left out)
#                    restic dump SNAP /db.dump | docker exec -i PG pg_restore --clean --if-exists -d appdb
# Cases: the first backup (into an empty, initialised repository), a second one after 1% of the
# small files and 1 MiB of each large file changed (bench/gendata.py --touch), and the restore
# of the latest backup. Time is the median of REPS, peak memory the largest process's.
# Usage: bench/backup.sh [--quick]   (env: DIRS FILES BIG BIG_MB SCALE REPS). Needs root and
# what scripts/test.sh installs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-10} FILES=${FILES:-50} BIG=${BIG:-1} BIG_MB=${BIG_MB:-8} SCALE=${SCALE:-1}; fi
DIRS=${DIRS:-100} FILES=${FILES:-200} BIG=${BIG:-4} BIG_MB=${BIG_MB:-256} SCALE=${SCALE:-10} REPS=${REPS:-3}
. "$root/tests/e2e/lib.sh"
work=$WORK
. "$root/bench/lib.sh"

INST=$WORK/releases/1.0.0
new_release "$INST" 1.0.0 $((18100 + RANDOM % 800))
compose_in "$INST" up -d >/dev/null 2>&1
wait_healthy "$INST"
log "generating $DIRS x $FILES small files, $BIG x $BIG_MB MiB and pgbench scale $SCALE"
python3 "$root/bench/gendata.py" "$INST/data" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
pg=$(pg_container "$INST")
docker exec -e PGPASSWORD=s3cr3t-Demo_pw "$pg" pgbench -q -i -s "$SCALE" -U app appdb >/dev/null 2>&1
size=$(du -sh "$INST/data" | cut -f1)
db_size=$(sql "$INST" "select pg_size_pretty(pg_database_size('appdb'))")
ln -s "$INST/data" "$WORK/src"  # gendata.py --touch works on this name
echo "bench password" >"$WORK/pw"
export RESTIC_PASSWORD_FILE=$WORK/pw
RM=$WORK/repo-migrate RH=$WORK/repo-hand

cat >"$WORK/m-backup.sh" <<SH
cd "$INST" && exec "$BIN/migrate" backup create --repo "$RM" --quiet
SH
cat >"$WORK/h-backup.sh" <<SH
set -euo pipefail
cd "$INST"
docker exec -e PGPASSWORD=s3cr3t-Demo_pw "$pg" pg_dump -Fc -U app appdb | restic -r "$RH" backup --quiet --stdin --stdin-filename db.dump >/dev/null
restic -r "$RH" backup --quiet data >/dev/null
SH
cat >"$WORK/m-restore.sh" <<SH
cd "$INST" && exec "$BIN/migrate" restore latest --repo "$RM" --yes --quiet
SH
cat >"$WORK/h-restore.sh" <<SH
set -euo pipefail
cd "$INST"
files=\$(restic -r "$RH" snapshots --json --path "$INST/data" --latest 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
db=\$(restic -r "$RH" snapshots --json --path /db.dump --latest 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
rm -rf "$WORK/h-target"
restic -r "$RH" restore "\$files" --target "$WORK/h-target" --include /data >/dev/null
restic -r "$RH" dump "\$db" /db.dump | docker exec -i -e PGPASSWORD=s3cr3t-Demo_pw "$pg" pg_restore --clean --if-exists -U app -d appdb
SH
fresh_repos() {
  rm -rf "$RM" "$RH"
  # The same chunker parameters in both: content-defined chunking with another polynomial cuts
  # the bench's large files (1 MiB periods) elsewhere, and one repository may then store
  # hundreds of MB more for the same change (measured: 15 MB against 166-418 MB).
  restic -r "$RH" init >/dev/null 2>&1
  restic -r "$RM" init --from-repo "$RH" --from-password-file "$RESTIC_PASSWORD_FILE" --copy-chunker-params >/dev/null 2>&1
}

# run_case CASE PREP WHAT: both sides' WHAT script (backup or restore), alternating.
run_case() {
  local case=$1
  alternate "$case" "$2" "$WORK/h-$3.sh" "$WORK/m-$3.sh"
  local h m hm mm
  h=$(cat "$work/h-$case.t") m=$(cat "$work/m-$case.t") hm=$(cat "$work/h-$case.m") mm=$(cat "$work/m-$case.m")
  printf '| %s | %.2f | %.2f | %s | %d | %d |\n' "$case" "$h" "$m" "$(ratio "$m" "$h")" $((hm / 1024)) $((mm / 1024))
}

echo
echo "### migrate backup/restore vs restic by hand: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size), pgbench scale $SCALE ($db_size), median of $REPS"
echo
echo "| case | by hand s | migrate s | ratio | by hand peak RSS MiB | migrate peak RSS MiB |"
echo "|---|---|---|---|---|---|"
state "$INST/data" >"$WORK/data.state"
run_case first fresh_repos backup
run_case second touch_set backup
state "$INST/data" >"$WORK/data.state"
rows=$(sql "$INST" "select count(*) from pgbench_accounts")
# By hand, every round removes the tree the last one restored (as replacing data/ removes the
# old one; migrate's restore does): the first round gets one too.
mkdir -p "$WORK/h-target" && cp -a "$INST/data" "$WORK/h-target/"
run_case restore ':' restore
check "migrate's restore gives back data/ as it was backed up" diff "$WORK/data.state" <(state "$INST/data")
check "and the rows" test "$(sql "$INST" "select count(*) from pgbench_accounts")" = "$rows"
check "the by-hand restore too" diff "$WORK/data.state" <(state "$WORK/h-target/data")
finish
