#!/usr/bin/env bash
# migrate's reading of compose files against compose's own (`docker-compose config`): each
# service's image, environment (env_file, .env interpolation, merge keys), published ports,
# stop grace period and the services it needs (stop order), and each volume's docker name, on real-world-shaped files and the demo release.
set -euo pipefail
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/compose-reader.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
bash "$here/../../scripts/rig/make-release.sh" "$work/demo" 1.0.0 >/dev/null 2>&1
cases=("$work/demo")
for f in "$here"/../data/compose/*.yml; do
  d=$work/$(basename "$f" .yml)
  mkdir -p "$d"
  cp "$f" "$d/docker-compose.yml"
  cp "$here/../data/compose/.env" "$d/.env"
  cases+=("$d")
done
for d in "${cases[@]}"; do
  (cd "$d" && env -u COMPOSE_PROJECT_NAME docker-compose config >"$d/config.out")
  env -u COMPOSE_PROJECT_NAME "$bin/migrate" release show "$d" >"$d/migrate.json"
  if ! /usr/bin/python3 - "$d/config.out" "$d/migrate.json" <<'PY'
import json, math, re, sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
m = json.load(open(sys.argv[2]))
bad = []
def ports(svc):
    out = []
    for p in svc.get("ports") or []:
        if isinstance(p, dict):
            out.append((p.get("host_ip", ""), int(str(p.get("published", 0)).split("-")[0]), int(str(p["target"]).split("-")[0]), p.get("protocol", "tcp")))
            continue
        spec, _, proto = str(p).partition("/")
        parts = spec.rsplit(":", 2)
        ip, host, cont = ([""] * (3 - len(parts)) + parts)
        out.append((ip.strip("[]"), int(host.split("-")[0] or 0), int(cont.split("-")[0]), proto or "tcp"))
    return sorted(out)
for name, svc in c["services"].items():
    ours = m["services"].get(name)
    if ours is None:
        bad.append(f"service {name} missing"); continue
    if svc.get("image", "") != ours["image"]:
        bad.append(f"{name}: image {ours['image']!r}, compose says {svc.get('image')!r}")
    env = {k: ("" if v is None else str(v)) for k, v in (svc.get("environment") or {}).items()}
    if env != ours["environment"]:
        bad.append(f"{name}: environment {ours['environment']}, compose says {env}")
    theirs = ports(svc)
    mine = sorted((p["host_ip"], p["host_port"], p["container_port"], p["protocol"]) for p in ours["ports"])
    if theirs != mine:
        bad.append(f"{name}: ports {mine}, compose says {theirs}")
    def mounts_of(svc):
        out = []
        for v in svc.get("volumes") or []:
            if isinstance(v, dict):
                out.append((v.get("type", "volume"), v.get("source", ""), v["target"], bool(v.get("read_only", False))))
            else:
                parts = str(v).split(":")
                src, tgt = (parts[0], parts[1]) if len(parts) > 1 else ("", parts[0])
                mode = parts[2] if len(parts) > 2 else "rw"
                out.append(("bind" if src.startswith(("/", ".")) else "volume", src, tgt, "ro" in mode.split(",")))
        return sorted(out)
    mine = sorted((x["type"], x["source"], x["target"], x["read_only"]) for x in ours["mounts"])
    if mounts_of(svc) != mine:
        bad.append(f"{name}: mounts {mine}, compose says {mounts_of(svc)}")
    def grace(d):  # compose's duration: whole seconds, rounded up; -1 when not given
        if d is None:
            return -1
        units = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
        return math.ceil(sum(float(v) * units[u] for v, u in re.findall(r"(\d+(?:\.\d+)?)(h|ms|us|ns|m|s)", str(d))))
    if grace(svc.get("stop_grace_period")) != ours["stop_grace_seconds"]:
        bad.append(f"{name}: stop grace {ours['stop_grace_seconds']} s, compose says {svc.get('stop_grace_period')!r}")
    needs = set(svc.get("depends_on") or [])  # a list, or a mapping of conditions
    needs |= {str(l).split(":")[0] for l in svc.get("links") or []}
    if str(svc.get("network_mode", "")).startswith("service:"):
        needs.add(svc["network_mode"][len("service:"):])
    for v in svc.get("volumes_from") or []:
        v = str(v)
        if not v.startswith("container:"):
            needs.add((v[len("service:"):] if v.startswith("service:") else v).split(":")[0])
    if needs != set(ours["needs"]):
        bad.append(f"{name}: needs {sorted(ours['needs'])}, compose says {sorted(needs)}")
for key, vol in (c.get("volumes") or {}).items():
    want = (vol or {}).get("name") or m["project"] + "_" + key
    if m["volumes"].get(key) != want:
        bad.append(f"volume {key}: {m['volumes'].get(key)!r}, compose says {want!r}")
for b in bad:
    print("  " + b)
sys.exit(1 if bad else 0)
PY
  then
    echo "FAIL $(basename "$d")"; failed=$((failed + 1)); continue
  fi
  echo "ok $(basename "$d"): services, environment, ports, mounts, stop grace periods, what each needs and volume names as docker-compose config"
done
((failed == 0)) || exit 1
