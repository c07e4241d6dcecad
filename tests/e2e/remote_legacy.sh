#!/usr/bin/env bash
# migrate --from a legacy release over SSH (docs/legacy.md): local_legacy.sh's install, runs and
# assertions, each migration through the test sshd (the same docker engine behind both sides).
LEGACY_OVER_SSH=1
. "$(dirname "$0")/local_legacy.sh"
