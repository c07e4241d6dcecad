#!/usr/bin/env bash
# ctest fixture: a docker engine that answers and the test images (built from host packages).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/lib/common.sh"
ensure_packages docker.io docker-compose rsync postgresql-15 busybox-static python3
ensure_engine
bash "$root/scripts/rig/images.sh"
bash "$root/scripts/rig/cleanup.sh" migtest
