# shellcheck shell=bash
# The assertions every end-to-end suite uses:
#   check "what the user would check" CMD...   prints ok/FAIL, counts failures
#   finish                                     exits 1 when any check failed
FAILED=0

check() {
  local what=$1
  shift
  if "$@"; then
    echo "ok - $what"
  else
    echo "FAIL - $what"
    FAILED=$((FAILED + 1))
  fi
}

finish() {
  if ((FAILED)); then
    echo "$FAILED check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

# capture NAME ARGS...: runs ARGS; stdout and stderr in $work/NAME.out and .err, exit status in $rc.
capture() {
  local n=$1
  shift
  set +e
  "$@" >"$work/$n.out" 2>"$work/$n.err"
  rc=$?
  set -e
}
