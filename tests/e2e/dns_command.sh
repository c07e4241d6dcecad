#!/usr/bin/env bash
# The DNS cutover through an operator's own command (--provider command): it gets DNS_NAME,
# NEW_IP, OLD_IP and TTL in its environment; update, rollback and lower-ttl pass the right
# values; a failing command fails the update with its stderr shown; with --server the change is
# checked against the authoritative server (here the command is nsupdate to a real BIND on
# loopback, scripts/rig/bind.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/dns-command-e2e.XXXXXX)
port=$((15800 + RANDOM % 500))
trap 'bash "$root/scripts/rig/bind.sh" stop "$work/bind" >/dev/null 2>&1; rm -rf "$work"' EXIT
export MIGRATE=${MIGRATE_BIN:?}/migrate MIGRATE_STATE_DIR=$work/state
. "$(dirname "$0")/checks.sh"
# The command records what it was given, one line per call.
log_cmd="printf '%s %s %s %s\n' \"\$DNS_NAME\" \"\$NEW_IP\" \"\$OLD_IP\" \"\$TTL\" >>'$work/calls'"
last_call() { tail -n 1 "$work/calls"; }
cmd=(--name www.migrate.test --provider command --command "$log_cmd")

capture update "$root/scripts/update-dns.sh" "${cmd[@]}" --to 192.0.2.20 --old-ip 192.0.2.10
check "the update succeeds" test "$rc" -eq 0
check "the command gets DNS_NAME, NEW_IP, OLD_IP, TTL" test "$(last_call)" = "www.migrate.test 192.0.2.20 192.0.2.10 300"
check "the output says it was not read back" grep -q "not read back: give --server" "$work/update.out"
check "a one-command roll-back is printed" grep -qx "roll back with: migrate dns update --name www.migrate.test --rollback" "$work/update.out"

capture rollback "$MIGRATE" dns update --name www.migrate.test --rollback
check "the rollback succeeds with the name alone" test "$rc" -eq 0
check "the recorded command runs with the old address as NEW_IP" test "$(last_call)" = "www.migrate.test 192.0.2.10 192.0.2.20 300"

capture again "$MIGRATE" dns update "${cmd[@]}" --to 192.0.2.30
check "without --old-ip, OLD_IP is the address migrate set last" test "$(last_call)" = "www.migrate.test 192.0.2.30 192.0.2.10 300"

capture lower "$MIGRATE" dns lower-ttl "${cmd[@]}" --old-ip 192.0.2.30 --ttl 60
check "lower-ttl runs the command with the same address and the new TTL" test "$(last_call)" = "www.migrate.test 192.0.2.30 192.0.2.30 60"
calls=$(wc -l <"$work/calls")
capture lower_noip "$MIGRATE" dns lower-ttl "${cmd[@]}"
check "lower-ttl without the current address is a usage error (exit 2)" test "$rc" -eq 2
check "and says to give --old-ip" grep -q "give the address it has now with --old-ip IP" "$work/lower_noip.err"
check "and runs nothing" test "$(wc -l <"$work/calls")" -eq "$calls"

capture fails "$MIGRATE" dns update --name www.migrate.test --provider command --to 192.0.2.40 \
  --command 'echo "starting" >&2; echo "the zone is locked by another change" >&2; exit 4'
check "a failing command fails the update with exit 1" test "$rc" -eq 1
check "and shows its exit status and stderr" grep -q "failed for www.migrate.test (exit 4): starting; the zone is locked by another change" "$work/fails.err"

capture nocmd "$MIGRATE" dns update --name www.migrate.test --provider command --to 192.0.2.40
check "no --command is a usage error (exit 2)" test "$rc" -eq 2

# Checked against a real authoritative server: the command is nsupdate with a TSIG key.
bash "$root/scripts/rig/bind.sh" start "$work/bind" "$port" migrate.test
nsupdate_cmd="printf 'server 127.0.0.1 $port\nzone migrate.test\nupdate delete %s A\nupdate add %s %s A %s\nsend\n' \"\$DNS_NAME\" \"\$DNS_NAME\" \"\$TTL\" \"\$NEW_IP\" | nsupdate -k '$work/bind/key.conf'"
capture checked "$MIGRATE" dns update --name www.migrate.test --provider command --command "$nsupdate_cmd" \
  --server "127.0.0.1:$port" --to 192.0.2.50
check "with --server the update is read back from the authoritative server" test "$rc" -eq 0
check "which answers the new address" test "$(dig +short -p "$port" @127.0.0.1 www.migrate.test A)" = 192.0.2.50
check "and the old address is read from it" grep -q "now answers 192.0.2.50 at the command '.*' (it answered 192.0.2.10)" "$work/checked.out"
capture wrong "$MIGRATE" dns update --name www.migrate.test --provider command --command true \
  --server "127.0.0.1:$port" --to 192.0.2.60 --wait 2
check "a command that changes nothing fails the check after --wait (exit 1)" test "$rc" -eq 1
check "and says what the server still answers" grep -q "accepted the change but still answers 192.0.2.50 (TTL 300) for www.migrate.test after 2 s" "$work/wrong.err"
for f in fails lower_noip wrong; do echo "# $f: $(cat "$work/$f.err")"; done
finish
