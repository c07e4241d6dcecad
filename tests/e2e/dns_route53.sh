#!/usr/bin/env bash
# The DNS cutover through Route 53: Debian's aws CLI against a local stand-in of the Route 53
# REST API (tests/tools/route53_standin.py, on 127.0.0.1): lower-ttl, update (UPSERT, then
# get-change until INSYNC, then read back), rollback from the record of the update, and the
# refusals (wrong credentials, unknown zone or zone id, a change that stays PENDING), each a
# clear message with exit 1; a throttled change is retried by the CLI.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/lib/common.sh"
ensure_packages awscli python3 curl
work=$(mktemp -d /tmp/dns-route53-e2e.XXXXXX)
pid=
trap '[[ -n $pid ]] && kill $pid 2>/dev/null; rm -rf "$work"' EXIT
export MIGRATE=${MIGRATE_BIN:?}/migrate
. "$(dirname "$0")/checks.sh"
# Debian's aws CLI (not another one a Python environment may put first on PATH), made-up
# credentials only the stand-in knows, no config files, no instance-metadata lookups; a region
# as an operator's profile has one (one check runs without, which migrate makes up for).
export PATH=/usr/bin:$PATH
secret=migrate-test-secret-never-printed
export AWS_ACCESS_KEY_ID=AKIAMIGRATETEST AWS_SECRET_ACCESS_KEY=$secret AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_ROUTE53
export AWS_DEFAULT_REGION=eu-west-1
export MIGRATE_STATE_DIR=$work/state
echo "# $(aws --version)"

standin() {  # ARGS... : a fresh stand-in (www.migrate.test A 192.0.2.10, TTL 300); sets $url
  if [[ -n $pid ]]; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -f "$work/port"
  /usr/bin/python3 "$root/tests/tools/route53_standin.py" --port-file "$work/port" --access-key AKIAMIGRATETEST \
    --zone migrate.test=Z0MIGRATE --record www.migrate.test=192.0.2.10:300 "$@" &
  pid=$!
  for _ in $(seq 50); do [[ -s $work/port ]] && break; sleep 0.1; done
  url=http://127.0.0.1:$(cat "$work/port")
}
record() {  # NAME : "VALUES TTL" of NAME's A set in the stand-in, or "none"
  curl -s "$url/_standin/records" | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)["Z0MIGRATE"].get(sys.argv[1] + ". A")
print(",".join(r["values"]), r["ttl"]) if r else print("none")' "$1"
}
requests() {  # METHOD PATH-PART : how many such requests the stand-in got
  curl -s "$url/_standin/requests" | /usr/bin/python3 -c '
import json, sys
print(sum(1 for r in json.load(sys.stdin) if r["method"] == sys.argv[1] and sys.argv[2] in r["path"]))' "$1" "$2"
}
r53=(--name www.migrate.test --provider route53)

standin
export AWS_ENDPOINT_URL_ROUTE53=$url
capture lower "$MIGRATE" dns lower-ttl "${r53[@]}" --ttl 60
check "lower-ttl succeeds" test "$rc" -eq 0
check "the TTL is lowered, the address kept" test "$(record www.migrate.test)" = "192.0.2.10 60"
check "lower-ttl says what the TTL was" grep -q "now has a TTL of 60 s at Route 53 hosted zone Z0MIGRATE (migrate.test) (it was 300 s)" "$work/lower.out"
check "the zone was found by name (AWS_ENDPOINT_URL_ROUTE53 honoured)" test "$(requests GET hostedzonesbyname)" -ge 1

capture update "$root/scripts/update-dns.sh" "${r53[@]}" --to 192.0.2.20
check "the update succeeds" test "$rc" -eq 0
check "Route 53 holds the new address with the default TTL" test "$(record www.migrate.test)" = "192.0.2.20 300"
check "the change was followed until INSYNC" test "$(requests GET /change/)" -ge 1
check "the old address is reported" grep -q "now answers 192.0.2.20 at Route 53 hosted zone Z0MIGRATE (migrate.test) (it answered 192.0.2.10)" "$work/update.out"
check "the update is recorded" test -s "$work/state/dns/www.migrate.test.json"
check "a one-command roll-back is printed" grep -qx "roll back with: migrate dns update --name www.migrate.test --rollback" "$work/update.out"

AWS_DEFAULT_REGION= capture rollback "$MIGRATE" dns update --name www.migrate.test --rollback
check "the rollback succeeds with the name alone (and no AWS region set)" test "$rc" -eq 0
check "the name points back at the old address with its TTL" test "$(record www.migrate.test)" = "192.0.2.10 60"
check "the rollback says so" grep -q "points back at 192.0.2.10" "$work/rollback.out"

unset AWS_ENDPOINT_URL_ROUTE53
standin --throttle-changes 1
capture byid "$MIGRATE" dns update "${r53[@]}" --to 192.0.2.30 --hosted-zone-id /hostedzone/Z0MIGRATE --endpoint-url "$url"
check "--hosted-zone-id and --endpoint-url work" test "$rc" -eq 0
check "a given zone id is not looked up" test "$(requests GET hostedzonesbyname)" -eq 0
check "a throttled change is retried by the aws CLI" test "$(requests POST /rrset/)" -eq 2
check "and lands" test "$(record www.migrate.test)" = "192.0.2.30 300"

export AWS_ENDPOINT_URL=$url  # the generic override is honoured too
AWS_ACCESS_KEY_ID=AKIAWRONG capture badkey "$MIGRATE" dns update "${r53[@]}" --to 192.0.2.40
check "wrong credentials fail with exit 1" test "$rc" -eq 1
check "and say to check the credentials" grep -q "InvalidClientTokenId: The security token included in the request is invalid.; check the AWS credentials" "$work/badkey.err"
check "and change nothing" test "$(record www.migrate.test)" = "192.0.2.30 300"

capture nozone "$MIGRATE" dns update --name www.elsewhere.test --provider route53 --to 192.0.2.40
check "a name in no hosted zone fails with exit 1" test "$rc" -eq 1
check "and says which zones were tried" grep -q "no Route 53 hosted zone holding www.elsewhere.test is visible to these credentials (tried www.elsewhere.test, elsewhere.test)" "$work/nozone.err"

capture noid "$MIGRATE" dns update "${r53[@]}" --to 192.0.2.40 --hosted-zone-id Z0NOPE
check "an unknown hosted zone id fails with exit 1" test "$rc" -eq 1
check "and says to check it" grep -q "NoSuchHostedZone: No hosted zone found with ID: Z0NOPE; check --hosted-zone-id" "$work/noid.err"

capture badip "$MIGRATE" dns update "${r53[@]}" --to 192.0.2
check "a bad address is a usage error (exit 2)" test "$rc" -eq 2
check "and nothing is sent" test "$(requests POST /rrset/)" -eq 2

standin --pending-polls 1000
export AWS_ENDPOINT_URL=$url
capture pending "$MIGRATE" dns update "${r53[@]}" --to 192.0.2.50 --wait 3
check "a change that stays PENDING fails after --wait with exit 1" test "$rc" -eq 1
check "and says how to look at it later" grep -q "is still PENDING after 3 s: check it later with aws route53 get-change --id" "$work/pending.err"

capture norecord "$MIGRATE" dns update --name www.migrate.test --rollback --state-dir "$work/empty"
check "a rollback with nothing recorded is refused (exit 2)" test "$rc" -eq 2
check "and says to give the address" grep -q "point it back with --to OLD_IP" "$work/norecord.err"

check "the secret key never appears in any output or record" bash -c "! grep -rqF '$secret' '$work'"
for f in badkey nozone noid pending; do echo "# $f: $(cat "$work/$f.err")"; done
finish
