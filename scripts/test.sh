#!/usr/bin/env bash
# Installs what the tests need (Debian packages, a docker engine started when none answers),
# builds migrate and runs every test: unit tests, the merge against rsync, and the end-to-end
# suites on the real engine. Usage: scripts/test.sh [ctest arguments, e.g. -L unit]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/lib/common.sh"
need_root
ensure_packages "${BUILD_PACKAGES[@]}" "${RUNTIME_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
build_migrate "$root/build"
ensure_engine
cd "$root/build"
ctest --output-on-failure --timeout 900 -j2 "$@"
