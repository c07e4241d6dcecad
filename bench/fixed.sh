#!/usr/bin/env bash
# The fixed costs of a run with nothing to do: migrate-local between two small running
# releases (a few files, a small database), run REPS times after a first real run. Prints the
# median of each step's seconds (report.json) and of the whole command, then the programs the
# run started and what they cost (MIGRATE_RECORD_PROGRAMS, core/recorded_host.h).
# Usage: bench/fixed.sh [--remote]   (REPS=5; needs what scripts/test.sh installs)
#   --remote: migrate --from root@127.0.0.2:2222 (the test sshd) instead of migrate-local
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/tests/e2e/lib.sh"
REPS=${REPS:-5}
make_pair >/dev/null
if [[ "${1:-}" == --remote ]]; then
  rig=$WORK/sshrig
  bash "$root/scripts/rig/sshd.sh" start "$rig" 127.0.0.2 2222 >/dev/null
  trap 'bash "$root/scripts/rig/sshd.sh" stop "$rig"; cleanup_suite' EXIT
  run() {
    "$BIN/migrate" --from root@127.0.0.2:2222 --key "$rig/client_ed25519" --known-hosts "$rig/known_hosts" \
      --from-path "$OLD" --to-path "$NEW" --yes --json "$@" </dev/null 2>/dev/null
  }
else
  run() { "$BIN/migrate-local" --from-path "$OLD" --to-path "$NEW" --yes --json "$@" </dev/null 2>/dev/null; }
fi
run >"$WORK/first.json"
for i in $(seq "$REPS"); do
  s=$(date +%s.%N)
  MIGRATE_RECORD_PROGRAMS=$WORK/calls.$i.jsonl run >"$WORK/run.$i.json"
  e=$(date +%s.%N)
  python3 -c "print(float('$e') - float('$s'))" >"$WORK/wall.$i"
done
python3 - "$WORK" "$REPS" <<'PY'
import json, statistics, sys, collections
work, reps = sys.argv[1], int(sys.argv[2])
steps = collections.defaultdict(list)
parts = collections.defaultdict(list)  # the database step's own parts (report "database.seconds")
for i in range(1, reps + 1):
    run = json.load(open(f"{work}/run.{i}.json"))
    for s in run["steps"]:
        steps[s["name"]].append(s["seconds"])
    for name, secs in (run.get("database") or {}).get("seconds", {}).items():
        parts[name].append(secs)
walls = [float(open(f"{work}/wall.{i}").read()) for i in range(1, reps + 1)]
print(f"a run with nothing to do, median of {reps}:")
for name, v in steps.items():
    print(f"  {name:<18} {statistics.median(v):6.2f} s")
print(f"  {'whole command':<18} {statistics.median(walls):6.2f} s")
# The run's own time beyond the dump's transfer (issue 13's measure): the whole command less the
# time the source's pg_dump program ran (its start, the dump, its bytes through the agent).
def dump_seconds(i):
    secs = 0.0
    for name in (f"{work}/calls.{i}.jsonl.remote", f"{work}/calls.{i}.jsonl"):
        try:
            lines = list(open(name))
        except OSError:
            continue
        for line in lines:
            argv = [a for a in json.loads(line)["argv"] if isinstance(a, str)]
            if "pg_dump" in argv and any(a.startswith("--snapshot=") for a in argv):
                secs += json.loads(line).get("ms", 0) / 1000
    return secs
own = [walls[i - 1] - dump_seconds(i) for i in range(1, reps + 1)]
print(f"  {'beyond the dump':<18} {statistics.median(own):6.2f} s  (the whole less the source's pg_dump program)")
if parts:
    print("the database step's parts, median:")
    for name, v in parts.items():
        print(f"  {name:<32} {statistics.median(v):6.2f} s")
import os
calls = collections.defaultdict(lambda: [0, 0])
n = 0
rows = []  # the first run's timeline: (start ms, ms, program)
lines = list(open(f"{work}/calls.1.jsonl"))
if os.path.exists(f"{work}/calls.1.jsonl.remote"):
    lines += [l.replace('"argv":["', '"argv":["(old server) ', 1) for l in open(f"{work}/calls.1.jsonl.remote")]
for line in lines:
    j = json.loads(line)
    argv = [a if isinstance(a, str) else "<bytes>" for a in j["argv"]]
    argv = [a.split("\n")[0][:40] for a in argv]
    rows.append((j.get("at_ms", -1), j.get("ms", 0), " ".join(argv)[:110]))
    tools = [a for a in argv if a in ("psql", "pg_dump", "pg_restore")]
    key = " ".join(argv[:3]) if not tools else " ".join(argv[:1]) + " exec " + tools[0]
    calls[key][0] += 1
    calls[key][1] += j.get("ms", 0)
    n += 1
print(f"programs started in one run: {n}")
for k, (c, ms) in sorted(calls.items(), key=lambda kv: -kv[1][1]):
    print(f"  {c:3d} x {k:<45} {ms/1000:6.2f} s")
# The first run's timeline: when each program started (ms after migrate started) and its time.
print("timeline of the first run (start ms, ms, program):", file=sys.stderr)
for at, ms, what in sorted(rows):
    print(f"  {at:6d} {ms:6d}  {what}", file=sys.stderr)
PY
