#!/usr/bin/env bash
# `migrate release check` names what two copies of a release would collide on, and says how
# to fix it; after the fix it finds nothing (exit 0).
set -euo pipefail
bin=${MIGRATE_BIN:?MIGRATE_BIN is the folder with the built programs}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/release-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/checks.sh"
run() { set +e; "$bin/migrate" release check "$@" >"$work/out" 2>&1; rc=$?; set -e; }

bash "$root/scripts/rig/make-release.sh" "$work/x/2.10.5" 2.10.5 >/dev/null 2>&1
cp -a "$work/x" "$work/y"   # an unprefixed copy: same folder name, so the same project
run "$work/x/2.10.5" "$work/y/2.10.5"
check "an unprefixed copy is a collision (exit 1)" test "$rc" -eq 1
check "the shared project name is named" grep -q "COLLISION project 2105" "$work/out"
check "the shared volume is named, with the fix" grep -q "COLLISION volume 2105_postgres_data" "$work/out"
check "the fix names migrate release prefix" grep -q "migrate release prefix" "$work/out"
check "the shared network is named" grep -q "COLLISION network 2105_default" "$work/out"
check "the shared host port is named" grep -q "COLLISION host port 18080/tcp" "$work/out"

echo "COMPOSE_PROJECT_NAME=copy2" >>"$work/y/2.10.5/.env"
sed -i 's/^APP_PORT=.*/APP_PORT=18098/' "$work/y/2.10.5/.env"
"$bin/migrate" release prefix --prefix v2_10_5_COPY_2 -f "$work/y/2.10.5/docker-compose.yml" >/dev/null
run "$work/x/2.10.5" "$work/y/2.10.5"
check "a prefixed copy under its own project and port collides on nothing" test "$rc" -eq 0
check "and says so" grep -q "no collisions" "$work/out"

# compose's trap: a volume name built from ${COMPOSE_PROJECT_NAME}, which -p does not change.
for d in p q; do
  mkdir -p "$work/$d"
  printf 'services:\n  db:\n    image: x\n    volumes: ["pg:/data"]\nvolumes:\n  pg:\n    name: ${COMPOSE_PROJECT_NAME:-product}_pg\n' >"$work/$d/docker-compose.yml"
done
run "$work/p" "$work/q"
check "a name from COMPOSE_PROJECT_NAME collides" grep -q "COLLISION volume product_pg" "$work/out"
check "and the trap is explained" grep -q "which -p does not change" "$work/out"
run "$work/p"
check "one folder alone is a usage error (exit 2)" test "$rc" -eq 2
finish
