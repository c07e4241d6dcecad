# Shared by the benchmarks (sourced after $root, $work, the data-set
# variables DIRS FILES BIG BIG_MB and scripts/lib/common.sh are set).

# measure NAME CMD...: runs CMD; wall seconds and max RSS (KiB) in $work/NAME, its output in
# $work/NAME.out.
measure() {
  local name=$1
  shift
  /usr/bin/time -f "%e %M" -o "$work/$name" "$@" >"$work/$name.out" 2>"$work/$name.err" ||
    { cat "$work/$name.err" >&2; die "$name failed"; }
}
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print('%.2f' % (a/b if b else float('nan')))" "$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# The third case's change: rsync's quick check compares whole seconds (migrate's, nanoseconds):
# change the files in a later second than the copy, or rsync would rightly be blamed for
# missing them.
touch_set() {
  sleep 1.1
  python3 "$root/bench/gendata.py" "$work/src" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB" --touch
}

# Both copies started empty: migrate's must now equal the source, attribute for attribute.
# Writes the source's state to $work/src.state.
check_migrate_copy() {
  python3 "$root/tests/tools/treestate.py" "$work/src" >"$work/src.state"
  if ! diff "$work/src.state" <(python3 "$root/tests/tools/treestate.py" "$work/by-migrate") >"$work/diff"; then
    head -20 "$work/diff" >&2
    die "migrate's copy differs from the source: the benchmark is void"
  fi
}

# alternate CASE PREP BY_HAND_SCRIPT MIGRATE_SCRIPT: REPS rounds; each runs PREP (eval'd), then
# both scripts after a sync and a pause, by hand first in odd rounds and migrate first in even
# ones. The median wall seconds go to $work/h-CASE.t and $work/m-CASE.t, the largest peak RSS
# (KiB) of the rounds to $work/h-CASE.m and $work/m-CASE.m.
alternate() {
  local case=$1 prep=$2 by_hand=$3 by_migrate=$4 i t
  for ((i = 1; i <= REPS; i++)); do
    eval "$prep"
    local order="h m"
    ((i % 2 == 0)) && order="m h"
    for t in $order; do
      sync
      sleep 1
      if [[ $t == h ]]; then measure "h-$case-$i" bash "$by_hand"; else measure "m-$case-$i" bash "$by_migrate"; fi
    done
  done
  summarize "$case"
}

# summarize CASE: the REPS rounds' files $work/{h,m}-CASE-I ("SECONDS PEAK_KIB") into the median
# wall seconds ($work/{h,m}-CASE.t) and the largest peak RSS ($work/{h,m}-CASE.m).
summarize() {
  local case=$1 t i
  for t in h m; do
    for i in $(seq 1 "$REPS"); do cut -d' ' -f1 "$work/$t-$case-$i"; done | median >"$work/$t-$case.t"
    echo "rounds of $case, $([[ $t == h ]] && echo by hand || echo migrate): $(for i in $(seq 1 "$REPS"); do cut -d' ' -f1 "$work/$t-$case-$i"; done | tr '\n' ' ')" >&2
    for i in $(seq 1 "$REPS"); do cut -d' ' -f2 "$work/$t-$case-$i"; done | sort -n | tail -1 >"$work/$t-$case.m"
  done
}
