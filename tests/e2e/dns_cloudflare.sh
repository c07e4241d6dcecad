#!/usr/bin/env bash
# The DNS cutover through Cloudflare's API v4, spoken by migrate (libcurl) to a local stand-in
# of the API (tests/tools/cloudflare_standin.py, on 127.0.0.1): lower-ttl, update (read back),
# rollback from the record of the update, several A records made one, a new record created,
# and the refusals (a wrong or missing token, an unknown zone, a TTL the API refuses), each a
# clear message; throttled requests are retried. The token never appears in any output, and
# is never sent anywhere but in the Authorization header.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/lib/common.sh"
ensure_packages python3 curl
work=$(mktemp -d /tmp/dns-cloudflare-e2e.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
export MIGRATE=${MIGRATE_BIN:?}/migrate
. "$(dirname "$0")/checks.sh"
token=cf-migrate-test-token-never-printed
export CLOUDFLARE_API_TOKEN=$token MIGRATE_STATE_DIR=$work/state

standin() {  # ARGS... : a fresh stand-in for zone migrate.test; sets $url and CLOUDFLARE_API_URL
  if [[ -n $pid ]]; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -f "$work/port"
  /usr/bin/python3 "$root/tests/tools/cloudflare_standin.py" --port-file "$work/port" --token "$token" \
    --zone migrate.test "$@" &
  pid=$!
  for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
  url=http://127.0.0.1:$(cat "$work/port")
  export CLOUDFLARE_API_URL=$url/client/v4
}
record() {  # NAME : "CONTENT TTL" of NAME's A records in the stand-in (sorted, one per line), or "none"
  curl -s "$url/_standin/records" | /usr/bin/python3 -c '
import json, sys
r = sorted("%s %s" % (x["content"], x["ttl"]) for x in json.load(sys.stdin)
           if x["name"] == sys.argv[1] and x["type"] == "A")
print("\n".join(r) if r else "none")' "$1"
}
requests() {  # METHOD : how many API requests with METHOD the stand-in got
  curl -s "$url/_standin/requests" | /usr/bin/python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["method"] == sys.argv[1] and r["path"].startswith("/client/v4")))' "$1"
}
token_elsewhere() {  # how many requests carried the token outside the Authorization header
  curl -s "$url/_standin/requests" | /usr/bin/python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["token_elsewhere"]))'
}
cf=(--name www.migrate.test --provider cloudflare)

standin --record www.migrate.test=192.0.2.10:300
capture lower "$MIGRATE" dns lower-ttl "${cf[@]}" --ttl 60
check "lower-ttl succeeds" test "$rc" -eq 0
check "the TTL is lowered, the address kept" test "$(record www.migrate.test)" = "192.0.2.10 60"
check "lower-ttl says what the TTL was" grep -q "now has a TTL of 60 s at Cloudflare zone migrate.test (it was 300 s)" "$work/lower.out"

capture update "$root/scripts/update-dns.sh" "${cf[@]}" --to 192.0.2.20
check "the update succeeds" test "$rc" -eq 0
check "Cloudflare holds the new address with the default TTL" test "$(record www.migrate.test)" = "192.0.2.20 300"
check "the old address is reported" grep -q "now answers 192.0.2.20 at Cloudflare zone migrate.test (it answered 192.0.2.10)" "$work/update.out"
check "a one-command roll-back is printed" grep -qx "roll back with: migrate dns update --name www.migrate.test --rollback" "$work/update.out"

capture rollback "$MIGRATE" dns update --name www.migrate.test --rollback
check "the rollback succeeds with the name alone" test "$rc" -eq 0
check "the name points back at the old address with its TTL" test "$(record www.migrate.test)" = "192.0.2.10 60"

standin --record www.migrate.test=192.0.2.11:300 --record www.migrate.test=192.0.2.12:300 --throttle 2
capture two "$MIGRATE" dns update "${cf[@]}" --to 192.0.2.12 --ttl 120
check "throttled requests are retried" test "$rc" -eq 0
check "two A records become the one wanted" test "$(record www.migrate.test)" = "192.0.2.12 120"
check "the spare record is deleted" test "$(requests DELETE)" -eq 1
check "both old addresses are reported" grep -q "(it answered 192.0.2.11 192.0.2.12)" "$work/two.out"
check "no roll-back is offered to two addresses" bash -c "! grep -q 'roll back with' '$work/two.out'"

capture new "$MIGRATE" dns update --name new.migrate.test --provider cloudflare --to 192.0.2.30
check "a name without a record gets one" test "$(record new.migrate.test)" = "192.0.2.30 300"
check "created with POST" test "$(requests POST)" -eq 1
capture newback "$MIGRATE" dns update --name new.migrate.test --rollback
check "a rollback to no address fails with exit 1" test "$rc" -eq 1
check "and says there is nothing to point back to" grep -q "there is nothing to point it back to" "$work/newback.err"

CLOUDFLARE_API_TOKEN=cf-wrong-token capture badtoken "$MIGRATE" dns update "${cf[@]}" --to 192.0.2.40
check "a wrong token fails with exit 1" test "$rc" -eq 1
check "and shows the API's error as a sentence" grep -q "Cloudflare refused to list the zones named www.migrate.test (HTTP 403): Authentication error (code 10000); check CLOUDFLARE_API_TOKEN" "$work/badtoken.err"
check "and changes nothing" test "$(record www.migrate.test)" = "192.0.2.12 120"
check "and leaves the record of the last update as it was" grep -q '"address": "192.0.2.12"' "$work/state/dns/www.migrate.test.json"

CLOUDFLARE_API_TOKEN= capture notoken "$MIGRATE" dns update "${cf[@]}" --to 192.0.2.40
check "no token is a usage error (exit 2)" test "$rc" -eq 2
check "and says where it goes" grep -q "export CLOUDFLARE_API_TOKEN" "$work/notoken.err"

capture nozone "$MIGRATE" dns update --name www.elsewhere.test --provider cloudflare --to 192.0.2.40
check "a name in no zone fails with exit 1" test "$rc" -eq 1
check "and says which zones were tried" grep -q "no Cloudflare zone holding www.elsewhere.test is visible to this API token (tried www.elsewhere.test, elsewhere.test)" "$work/nozone.err"

capture ttl "$MIGRATE" dns lower-ttl "${cf[@]}" --ttl 30
check "a TTL the API refuses fails with exit 1" test "$rc" -eq 1
check "and shows the API's reason" grep -q "(HTTP 400): Invalid TTL. Must be between 60 and 86400 seconds, or 1 for Automatic. (code 9021)" "$work/ttl.err"

export CLOUDFLARE_API_URL=http://127.0.0.1:9/client/v4  # nothing listens on the discard port
capture down "$MIGRATE" dns update "${cf[@]}" --to 192.0.2.40
check "an API that cannot be reached fails with exit 1" test "$rc" -eq 1
check "and says so" grep -q "cannot reach http://127.0.0.1:9/client/v4/zones" "$work/down.err"

check "the token never appears in any output or record" bash -c "! grep -rqF '$token' '$work'"
check "the token is only ever sent in the Authorization header" test "$(token_elsewhere)" -eq 0
for f in badtoken notoken nozone ttl down; do echo "# $f: $(cat "$work/$f.err")"; done
finish
