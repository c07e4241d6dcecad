#!/usr/bin/env bash
# The DNS cutover against a real BIND on loopback (RFC 2136 with a TSIG key): the update is
# answered by the server and recorded, the printed roll-back command (--rollback, the name
# alone) points the name back with its old TTL, and a wrong key is refused with a clear message
# that changes nothing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dns-e2e.XXXXXX)
port=$((15300 + RANDOM % 500))
trap 'bash "$root/scripts/rig/bind.sh" stop "$work" >/dev/null 2>&1; rm -rf "$work"' EXIT
bash "$root/scripts/rig/bind.sh" start "$work" "$port" migrate.test
export MIGRATE=${MIGRATE_BIN:?}/migrate MIGRATE_STATE_DIR=$work/state
. "$(dirname "$0")/checks.sh"
answer() { dig +short -p "$port" @127.0.0.1 www.migrate.test A; }
srv=127.0.0.1:$port
ttl() { dig +noall +answer -p "$port" @127.0.0.1 www.migrate.test A | awk '{print $2}'; }

check "lower-ttl succeeds" "$MIGRATE" dns lower-ttl --name www.migrate.test --ttl 30 --server "$srv" --tsig-key "$work/key.conf"
check "the TTL is lowered" test "$(ttl)" = 30
check "the address is kept" test "$(dig +short -p "$port" @127.0.0.1 www.migrate.test A)" = 192.0.2.10

check "the update succeeds" bash -c "'$root/scripts/update-dns.sh' --name www.migrate.test --to 192.0.2.20 --server $srv --tsig-key '$work/key.conf' >'$work/out'"
check "the server answers the new address" test "$(answer)" = 192.0.2.20
check "the old address is reported" grep -q "it answered 192.0.2.10" "$work/out"
rollback=$(sed -n 's/^roll back with: //p' "$work/out")
check "a roll-back command is printed" test -n "$rollback"
check "the roll-back command works" bash -c "${rollback/migrate /\"\$MIGRATE\" } >/dev/null"
check "the name points back at the old server" test "$(answer)" = 192.0.2.10
check "with its old TTL" test "$(ttl)" = 30

set +e
"$root/scripts/update-dns.sh" --name www.migrate.test --to 192.0.2.30 --server "$srv" --tsig-key "$work/wrong-key.conf" >"$work/out" 2>"$work/err"
rc=$?
set -e
check "a wrong key fails with exit 1" test "$rc" -eq 1
check "and says the key is wrong" grep -q "the TSIG key is wrong" "$work/err"
check "and changes nothing" test "$(answer)" = 192.0.2.10
set +e
"$root/scripts/update-dns.sh" --name www.migrate.test --to not-an-ip --server "$srv" --tsig-key "$work/key.conf" >/dev/null 2>"$work/err"
rc=$?
set -e
check "a bad address is a usage error (exit 2)" test "$rc" -eq 2
finish
