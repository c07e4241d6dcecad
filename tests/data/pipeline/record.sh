#!/usr/bin/env bash
# Records what migrate-local asks docker, compose and postgres during a small real migration,
# for the pipeline's replayed unit tests (pipeline/pipeline_test.cc: no docker needed there).
# Run by hand on a machine where scripts/test.sh ran once (engine and test images there):
#   bash tests/data/pipeline/record.sh
# It rewrites tests/data/pipeline/{installs/,migrate-local.jsonl}: commit them together.
set -euo pipefail
. "$(cd "$(dirname "$0")/../../e2e" && pwd)/lib.sh"
OUT=$ROOT/tests/data/pipeline
REC=/tmp/migrate-pipeline-rec  # recorded as @ROOT@
rm -rf "$REC" "$OUT/installs" "$OUT/migrate-local.jsonl"
trap 'cleanup_suite; rm -rf "$REC"' EXIT
OLD=$REC/releases/1.0.0
NEW=$REC/releases/2.0.0
new_release "$OLD" 1.0.0 18977
new_release "$NEW" 2.0.0 18978
compose_in "$OLD" up -d >/dev/null 2>&1
compose_in "$NEW" up -d >/dev/null 2>&1
wait_healthy "$OLD"
wait_healthy "$NEW"
# The new release's app not running yet, as before a first migration: the restart runs compose up.
compose_in "$NEW" stop app >/dev/null 2>&1
mkdir -p "$OLD/data/uploads" "$NEW/data/target-only"
echo "old index" >"$OLD/data/index.html"
printf 'photo-%s\n' {1..50} >"$OLD/data/uploads/photo.jpg"
ln -s uploads "$OLD/data/latest"
echo "new index (replaced)" >"$NEW/data/index.html"
echo "kept" >"$NEW/data/target-only/keep.me"
sql "$OLD" "CREATE TABLE users (id serial PRIMARY KEY, email text); INSERT INTO users(email) VALUES ('a@example.org'), ('b@example.org');" >/dev/null
sql "$NEW" "CREATE TABLE target_only (x int); INSERT INTO target_only VALUES (1);" >/dev/null
mkdir -p "$OUT/installs"
cp -a "$OLD" "$NEW" "$OUT/installs/"
# An empty cache, so that compose is asked its version as on a first run (the test has none);
# the engine asked through the docker CLI, whose answers the replay can give (docker/engine_api.h);
# `docker compose version` asked whatever this machine's plugins (a replay always asks it: an extra
# plugin folder configured makes migrate unsure whether the plugin is there, docker.cc).
mkdir -p "$WORK/docker-config"
echo '{"cliPluginsExtraDirs": []}' >"$WORK/docker-config/config.json"
DOCKER_CONFIG=$WORK/docker-config MIGRATE_DOCKER_API=0 XDG_CACHE_HOME=$WORK/cache MIGRATE_RECORD_PROGRAMS=$OUT/migrate-local.jsonl MIGRATE_RECORD_ROOT=$REC \
  "$BIN/migrate-local" --from-path "$OLD" --to-path "$NEW" --yes --json </dev/null >"$WORK/report.json"
echo "recorded $(wc -l <"$OUT/migrate-local.jsonl") calls in $OUT/migrate-local.jsonl"
