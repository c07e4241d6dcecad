#!/usr/bin/env bash
# The demo: two releases of a demo product on a real docker engine, the old one with files in
# data/ and rows in its postgres, and a real migrate-local between them.
#
# Usage: scripts/demo.sh [--clean]   (--clean removes what an earlier demo left)
# Everything lives under /tmp/migrate-demo; the stacks are left running for you to look at.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/lib/common.sh"
demo=/tmp/migrate-demo
need_root
if [[ "${1:-}" == "--clean" ]]; then
    bash "$root/scripts/rig/cleanup.sh" migdemo
    rm -rf "$demo"
    log "demo removed"
    exit 0
fi
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}"
build_migrate "$root/build"
ensure_engine
bash "$root/scripts/rig/images.sh"
bash "$root/scripts/rig/cleanup.sh" migdemo
rm -rf "$demo"
read -r -a COMPOSE <<<"$(compose_cmd)"
old=$demo/releases/1.0.0
new=$demo/releases/2.0.0
bash "$root/scripts/rig/make-release.sh" "$old" 1.0.0 --port 18080
bash "$root/scripts/rig/make-release.sh" "$new" 2.0.0 --port 18081
echo "COMPOSE_PROJECT_NAME=migdemo_100" >>"$old/.env"
echo "COMPOSE_PROJECT_NAME=migdemo_200" >>"$new/.env"

log "starting release 1.0.0 (the old one) and giving it data"
"${COMPOSE[@]}" -p migdemo_100 -f "$old/docker-compose.yml" --project-directory "$old" up -d
mkdir -p "$old/data/uploads/2024"
echo "<h1>release 1.0.0's data, carried over</h1>" >"$old/data/index.html"
for i in $(seq 1 200); do echo "upload $i" >"$old/data/uploads/2024/file-$i.txt"; done
ln -sf uploads/2024 "$old/data/latest"
for _ in $(seq 1 60); do
    docker exec migdemo_100_postgres_1 pg_isready -U app -d appdb >/dev/null 2>&1 && break
    sleep 1
done
bash "$root/scripts/rig/seed-db.sh" migdemo_100_postgres_1 5000

log "starting release 2.0.0 (the new one, fresh)"
"${COMPOSE[@]}" -p migdemo_200 -f "$new/docker-compose.yml" --project-directory "$new" up -d
echo "only in 2.0.0" >"$new/data/new-release-notes.txt"

log "the plan (--dry-run)"
(cd "$new" && "$root/build/bin/migrate-local" --from-path ../1.0.0 --dry-run)
log "the migration"
(cd "$new" && "$root/build/bin/migrate-local" --from-path ../1.0.0 --yes)

log "what the new release serves now (http://127.0.0.1:18081/):"
curl -fsS http://127.0.0.1:18081/index.html
log "rows in the new database: users $(docker exec migdemo_200_postgres_1 psql -U app -d appdb -Atc 'select count(*) from users'), events $(docker exec migdemo_200_postgres_1 psql -U app -d appdb -Atc 'select count(*) from events')"
log "both stacks are still running; remove everything with: scripts/demo.sh --clean"
