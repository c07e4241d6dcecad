#!/usr/bin/env bash
# Memory against the number of files: the merge through the agent protocol
# (`migrate merge-dir --via-agent`: the receiver and a local migrate-agent, the frames and the
# listing spool of a remote migration, without SSH) on trees of SMALL and LARGE file counts
# (tiny files, 200 to a folder), initial copy and re-run with no change. Prints the peak RSS of
# the receiver and of the agent, and rsync -a's (its first process) for reference; the goal is
# memory bounded whatever the number of files: the LARGE/SMALL ratio near 1.
# Usage: bench/memory.sh   (env: SMALL LARGE, file counts). Needs root (packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/lib/common.sh"
need_root
SMALL=${SMALL:-20000} LARGE=${LARGE:-200000}
ensure_packages "${BUILD_PACKAGES[@]}" rsync time
[[ -x "$root/build/bin/migrate" ]] || build_migrate "$root/build"
bin=$root/build/bin
work=/tmp/migrate-bench-memory
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cat >"$work/agent" <<EOF
#!/bin/sh
exec /usr/bin/time -f %M -o "$work/agent.rss" "$bin/migrate-agent" "\$@"
EOF
chmod +x "$work/agent"

gen() {  # gen DIR N: N files of 0-64 bytes, 200 to a folder, names of 24 bytes
  python3 - "$1" "$2" <<'EOF'
import os, random, sys
root, n = sys.argv[1], int(sys.argv[2])
r = random.Random(7)
for i in range(n):
    d = f"{root}/folder-{i // 200:06}"
    if i % 200 == 0:
        os.makedirs(d)
    with open(f"{d}/file-{i % 200:06}-{r.randrange(1 << 30):010}", "wb") as f:
        f.write(os.urandom(r.randrange(0, 64)))
EOF
}
rss() { cut -d' ' -f2 "$1"; }

printf '%-8s %-9s %12s %12s %12s %10s %10s\n' files case "migrate KiB" "agent KiB" "rsync KiB" "migrate s" "rsync s"
for n in $SMALL $LARGE; do
  gen "$work/src-$n" "$n"
  for c in initial nochange; do
    sync
    rm -f "$work/agent.rss"
    /usr/bin/time -f "%e %M" -o "$work/m.time" env MIGRATE_AGENT="$work/agent" \
      "$bin/migrate" merge-dir -q --via-agent "$work/src-$n" "$work/dst-$n" >/dev/null
    for _ in $(seq 50); do [[ -s "$work/agent.rss" ]] && break; sleep 0.1; done  # time(1) writes as the agent ends
    /usr/bin/time -f "%e %M" -o "$work/r.time" rsync -a "$work/src-$n/" "$work/rsync-$n/"
    printf '%-8s %-9s %12s %12s %12s %10s %10s\n' "$n" "$c" "$(rss "$work/m.time")" "$(cat "$work/agent.rss")" \
      "$(rss "$work/r.time")" "$(cut -d' ' -f1 "$work/m.time")" "$(cut -d' ' -f1 "$work/r.time")"
    echo "$n $c $(rss "$work/m.time") $(cat "$work/agent.rss") $(rss "$work/r.time")" >>"$work/results"
  done
  rm -rf "$work/src-$n" "$work/dst-$n" "$work/rsync-$n"
done
python3 - "$work/results" "$SMALL" "$LARGE" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1])]
small, large = sys.argv[2], sys.argv[3]
for case in ("initial", "nochange"):
    a = next(r for r in rows if r[0] == small and r[1] == case)
    b = next(r for r in rows if r[0] == large and r[1] == case)
    print(f"{case}: {large}/{small} files -> RSS x{int(b[2]) / int(a[2]):.2f} migrate, "
          f"x{int(b[3]) / int(a[3]):.2f} agent, x{int(b[4]) / int(a[4]):.2f} rsync")
EOF
