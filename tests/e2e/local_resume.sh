#!/usr/bin/env bash
# A migration killed with SIGKILL (during the copy, then during the replay) is run again and
# completes; no half-written file ever stands under its final name; data.backup/ keeps the
# target as it was before the first run.
. "$(dirname "$0")/lib.sh"
make_pair

# Enough data that the copy takes a while: 3000 small files and 6 x 64 MiB.
python3 - "$OLD/data/bulk" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(30):
    os.makedirs(f"{root}/d{d}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d}/f{f}", "wb") as fh:
            fh.write(os.urandom(2000))
for i in range(6):
    with open(f"{root}/big{i}", "wb") as fh:
        for _ in range(64):
            fh.write(os.urandom(1 << 20))
PY
# Some of the bulk exists in the target with other content: these must never be half-written.
mkdir -p "$NEW/data/bulk"
for i in 0 1 2; do head -c 1000000 /dev/zero >"$NEW/data/bulk/big$i"; done
state "$NEW/data" >"$WORK/new.before"

# kill_when PATTERN [SECONDS|in-copy]: run migrate-local, SIGKILL it once its log shows PATTERN
# (and SECONDS later, or as soon as a file is being copied).
kill_when() {
  "$BIN/migrate-local" --from-path "$OLD" --to-path "$NEW" </dev/null >"$WORK/killed.out" 2>&1 &
  local pid=$! i
  for ((i = 0; i < 3000; i++)); do
    if grep -qs -- "$1" "$NEW"/migration/*/migration.log 2>/dev/null; then break; fi
    sleep 0.01
  done
  if [[ "${2:-}" == in-copy ]]; then
    # Until a file is being written under its temporary name: the kill lands mid-copy however
    # fast the machine is (a fixed delay let a fast run finish first).
    for ((i = 0; i < 3000; i++)); do
      [[ -n "$(find "$NEW/data" -name '.migrate.tmp.*' -print -quit 2>/dev/null)" ]] && break
      sleep 0.005
    done
  else
    sleep "${2:-0.3}"
  fi
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

kill_when "== merge data/" in-copy
mdir=$(ls -d "$NEW"/migration/2* | head -1)
check "the killed run left its resume marker" test -s "$NEW/migration/in-progress"
# Every file under a final name is whole: the source's version or the target's old one.
bad=0
while IFS= read -r -d '' f; do
  rel=${f#"$NEW/data/"}
  [[ $(basename "$rel") == .migrate.tmp.* ]] && continue
  if ! cmp -s "$f" "$OLD/data/$rel" && ! cmp -s "$f" "$mdir/data.backup/$rel"; then
    echo "half-written: $rel"
    bad=1
  fi
done < <(find "$NEW/data" -type f -print0)
check "no half-written file under a final name after SIGKILL" test "$bad" -eq 0
check "the copy was really interrupted (work was left)" test "$(find "$NEW/data" -name '.migrate.tmp.*' | wc -l)" -gt 0 -o ! -e "$NEW/data/bulk/big5"

# The second run, resumed, killed while its database replay (beside the merge) fills its staging database.
kill_when "replaying the database beside the data/ merge" 0.5
check "still one migration folder (the run resumed)" test "$(ls -d "$NEW"/migration/2* | wc -l)" -eq 1

run_local "$WORK/report.out" "$WORK/run.err" --from-path "$OLD" --to-path "$NEW" --json
rc=$RC
check "the third run completes" test "$rc" -eq 0
[[ $rc -eq 0 ]] || cat "$WORK/run.err"
check "it reports that it resumed" test "$(json "$WORK/report.out" 'j["resumed"]')" = True
check "it used the same migration folder" test "$(json "$WORK/report.out" 'j["migration_dir"]')" = "$mdir"
# The oracle is made from the trees as they are now: the original target (data.backup/, checked
# below to equal it) and the source. Made at the start, it sometimes had bulk/'s time of a
# moment after the bulk was written (1 run in 5 here) while the source, read again at the end,
# had its own: the comparison is with the source as it stands.
cp -a "$mdir/data.backup" "$WORK/expected"
# (--modify-window=-1: times compared to the nanosecond, as migrate's; see local_migrate.sh)
rsync -a --force --modify-window=-1 "$OLD/data/" "$WORK/expected/"
check "data/ equals rsync -a --force of the original trees" diff <(state "$WORK/expected") <(state "$NEW/data")
check "data.backup/ is the target before the first run" diff "$WORK/new.before" <(state "$mdir/data.backup")
check "no temporary names left" test -z "$(find "$NEW/data" -name '.migrate.tmp.*')"
check "rows equal the source's" test "$(sql "$NEW" "select count(*) from events")" = "$(sql "$OLD" "select count(*) from events")"
check "no staging database left" test "$(sql "$NEW" "select count(*) from pg_database where datname like '%__migrate_%'")" = 0
check "the resume marker is gone" test ! -e "$NEW/migration/in-progress"
finish
