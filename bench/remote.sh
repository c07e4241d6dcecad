#!/usr/bin/env bash
# Benchmarks the remote data/ merge against its peer, side by side in one run, over the same
# loopback sshd (scripts/rig/sshd.sh, 127.0.0.2:2222):
#   `migrate merge-dir --from root@127.0.0.2:2222 SRC DST` (migrate-agent, librsync deltas, zstd)
#   `rsync -a -e ssh root@127.0.0.2:SRC/ DST/`
# Three cases: initial copy, re-run with no change, re-run after appending to 1% of the small
# files and overwriting 1 MiB in each large file. Wall time, bytes received (application bytes:
# rsync's --stats "Total bytes received", migrate's frames) and the local process's peak RSS,
# each as a ratio to rsync.
# Usage: bench/remote.sh [--quick]   (env: DIRS FILES BIG BIG_MB REPS). Needs root.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/lib/common.sh"
need_root
if [[ "${1:-}" == "--quick" ]]; then DIRS=${DIRS:-20} FILES=${FILES:-50} BIG=${BIG:-2} BIG_MB=${BIG_MB:-16}; fi
DIRS=${DIRS:-100} FILES=${FILES:-200} BIG=${BIG:-4} BIG_MB=${BIG_MB:-256} REPS=${REPS:-3}
ensure_packages "${BUILD_PACKAGES[@]}" rsync time openssh-server openssh-client
[[ -x "$root/build/bin/migrate" ]] || build_migrate "$root/build"
bin=$root/build/bin
work=/tmp/migrate-bench-remote
rm -rf "$work"
mkdir -p "$work"
rig=$work/rig
trap 'bash "$root/scripts/rig/sshd.sh" stop "$rig"; rm -rf "$work"' EXIT
bash "$root/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
key=$rig/client_ed25519
ssh_cmd="ssh -p 2222 -i $key -o UserKnownHostsFile=$rig/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes"

log "generating $DIRS x $FILES small files and $BIG x $BIG_MB MiB"
python3 "$root/bench/gendata.py" "$work/src" --dirs "$DIRS" --files "$FILES" --big "$BIG" --big-mb "$BIG_MB"
size=$(du -sh "$work/src" | cut -f1)
find "$work/src" -type f -exec cat {} + >/dev/null  # warm the page cache (an argument list of 300k files is too long)

. "$root/bench/lib.sh"
# The agent's peak RSS (KiB: VmHWM, which only grows) while migrate runs, read every 0.2 s into
# $1 until $work/polling goes (the agent is sshd's child, not migrate's). Bash builtins only once
# the agent is found: the sampling must not take the CPU the two tools are measured on.
agent_peak() {
  local out=$1 pid="" k v rest
  echo 0 >"$out"
  while [[ -e "$work/polling" ]]; do
    [[ -n "$pid" && -e /proc/$pid ]] || pid=$(pgrep -f 'migrate-agent-.* serve' | head -1 || true)
    if [[ -n "$pid" ]]; then
      while read -r k v rest; do [[ $k == VmHWM: ]] && echo "$v" >"$out"; done <"/proc/$pid/status" 2>/dev/null || true
    fi
    sleep 0.2
  done
}
rsync_bytes() { sed -n 's/^Total bytes received: \([0-9,.]*\).*/\1/p' "$1" | tr -d ',.'; }
migrate_bytes() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent"]["bytes_in"])' "$1"; }

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
        measure "r-$case-$i" rsync -a --stats -e "$ssh_cmd" "root@127.0.0.2:$work/src/" "$work/by-rsync$SUFFIX/"
        rsync_bytes "$work/r-$case-$i.out" >"$work/r-$case-$i.bytes"
        measure "s-$case-$i" sync  # rsync + sync: the durability migrate gives (it syncs in batches)
      else
        touch "$work/polling"
        agent_peak "$work/a-$case-$i" &
        measure "m-$case-$i" "$bin/migrate" merge-dir -q --json --from root@127.0.0.2:2222 --key "$key" \
          --known-hosts "$rig/known_hosts" "$work/src" "$work/by-migrate$SUFFIX"
        rm -f "$work/polling"
        wait
        migrate_bytes "$work/m-$case-$i.out" >"$work/m-$case-$i.bytes"
      fi
    done
  done
  for t in r m s; do
    for i in $(seq 1 "$REPS"); do cut -d' ' -f1 "$work/$t-$case-$i"; done | median >"$work/$t-$case.t"
    for i in $(seq 1 "$REPS"); do cut -d' ' -f2 "$work/$t-$case-$i"; done | sort -n | tail -1 >"$work/$t-$case.m"
  done
  for t in r m; do cat "$work/$t-$case-$REPS.bytes" >"$work/$t-$case.b"; done
  for i in $(seq 1 "$REPS"); do cat "$work/a-$case-$i"; done | sort -n | tail -1 >"$work/a-$case.m"
  local r m rb mb rs
  r=$(cat "$work/r-$case.t") m=$(cat "$work/m-$case.t") rb=$(cat "$work/r-$case.b") mb=$(cat "$work/m-$case.b")
  rs=$(python3 -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$r" "$(cat "$work/s-$case.t")")
  printf '| %s | %.2f | %.2f | %.2f | %s | %s | %s | %s | %s | %d | %d | %d | %s |\n' "$case" "$r" "$rs" "$m" "$(ratio "$m" "$r")" \
    "$(ratio "$m" "$rs")" \
    "$rb" "$mb" "$(ratio "$mb" "$rb")" "$(($(cat "$work/r-$case.m") / 1024))" "$(($(cat "$work/m-$case.m") / 1024))" \
    "$(($(cat "$work/a-$case.m") / 1024))" "$(ratio "$(cat "$work/m-$case.m")" "$(cat "$work/r-$case.m")")"
}

echo
echo "### remote data/ merge over loopback SSH: $DIRS x $FILES small files + $BIG x $BIG_MB MiB ($size), median of $REPS"
echo
echo "| case | rsync -a -e ssh s | rsync, then sync s | migrate s | vs rsync | vs rsync+sync | rsync bytes in | migrate bytes in | bytes ratio | rsync RSS MiB | migrate RSS MiB | agent RSS MiB | memory ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
SUFFIX=
run_case initial 'SUFFIX=.$i'
mv "$work/by-rsync.$REPS" "$work/by-rsync"
mv "$work/by-migrate.$REPS" "$work/by-migrate"
rm -rf "$work"/by-rsync.* "$work"/by-migrate.*
SUFFIX=
run_case nochange ':'
run_case changed 'touch_set'
check_migrate_copy
echo
echo "rsync's RSS is its local (receiving) process; migrate's is migrate's, the agent's its peak"
echo "(VmHWM sampled every 0.1 s); the memory ratio is migrate's to rsync's (the remote rsync's is"
echo "not counted). Bytes are application bytes before SSH's encryption."
