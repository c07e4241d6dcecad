#!/usr/bin/env bash
# `migrate release prefix` against its oracle: `docker-compose config` (compose's own reading)
# of the rewritten file equals that of the original but for the volume names, which are
# PREFIX_KEY for every volume that is not external; the original is kept beside the file.
set -euo pipefail
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/compose-oracle.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0
for f in "$here"/../data/compose/*.yml; do
  name=$(basename "$f" .yml)
  d=$work/$name
  mkdir -p "$d"
  cp "$f" "$d/docker-compose.yml"
  cp "$here/../data/compose/.env" "$d/.env"
  (cd "$d" && docker-compose config >"$d/before.yml")
  "$bin/migrate" release prefix --prefix v2_10_5_MY_COPY_2 -f "$d/docker-compose.yml" >"$d/out" 2>"$d/err"
  (cd "$d" && docker-compose config >"$d/after.yml")
  if ! /usr/bin/python3 - "$d/before.yml" "$d/after.yml" <<'PY'
import sys, yaml
before, after = (yaml.safe_load(open(p)) for p in sys.argv[1:3])
ok = True
for key, vol in (after.get("volumes") or {}).items():
    vol = vol or {}
    want = None if (vol.get("external") or (before["volumes"][key] or {}).get("external")) else "v2_10_5_MY_COPY_2_" + key
    if want and vol.get("name") != want:
        print(f"volume {key}: name {vol.get('name')!r}, wanted {want!r}"); ok = False
    if not want and vol.get("name") != (before["volumes"][key] or {}).get("name"):
        print(f"external volume {key} was changed"); ok = False
for doc in (before, after):
    for vol in (doc.get("volumes") or {}).values():
        if vol and not vol.get("external"):
            vol.pop("name", None)
if before != after:
    print("docker-compose config differs beyond the volume names"); ok = False
sys.exit(0 if ok else 1)
PY
  then
    echo "FAIL $name"; failed=$((failed + 1)); continue
  fi
  if ! cmp -s "$f" "$(ls "$d"/docker-compose.yml.orig-*)"; then echo "FAIL $name: the original was not kept"; failed=$((failed + 1)); continue; fi
  echo "ok $name: docker-compose config equal but for $(grep -c ' -> ' "$d/out") prefixed volume names"
done
((failed == 0)) || exit 1
