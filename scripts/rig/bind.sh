#!/usr/bin/env bash
# A real authoritative DNS server (BIND) on loopback for the DNS cutover tests.
#
# Usage: scripts/rig/bind.sh start DIR PORT ZONE   -> named on 127.0.0.1:PORT, zone ZONE with
#                                                     www.ZONE A 192.0.2.10, TSIG key DIR/key.conf
#        scripts/rig/bind.sh stop DIR
set -euo pipefail
RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$RIG_DIR/../lib/common.sh"
cmd=${1:-}
dir=${2:?usage: bind.sh start|stop DIR [PORT ZONE]}
case "$cmd" in
  start)
    port=${3:?port}
    zone=${4:?zone}
    ensure_packages bind9 bind9-dnsutils
    mkdir -p "$dir"
    tsig-keygen -a hmac-sha256 migrate-test >"$dir/key.conf"
    tsig-keygen -a hmac-sha256 migrate-test >"$dir/wrong-key.conf"  # same name, other secret
    cat >"$dir/db.zone" <<ZONE
\$TTL 300
@   IN SOA ns.$zone. admin.$zone. (1 60 60 3600 60)
    IN NS  ns.$zone.
ns  IN A   127.0.0.1
www IN A   192.0.2.10
ZONE
    cat >"$dir/named.conf" <<CONF
include "$dir/key.conf";
options {
  directory "$dir";
  pid-file "$dir/named.pid";
  listen-on port $port { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
};
zone "$zone" { type primary; file "$dir/db.zone"; allow-update { key "migrate-test"; }; };
CONF
    named -c "$dir/named.conf" -u root -g >"$dir/named.log" 2>&1 &
    for _ in $(seq 1 50); do
      dig +short -p "$port" @127.0.0.1 "www.$zone" A 2>/dev/null | grep -q 192.0.2.10 && exit 0
      sleep 0.2
    done
    tail -20 "$dir/named.log" >&2
    die "named did not answer on 127.0.0.1:$port"
    ;;
  stop)
    # Waits for named to end: it writes its journal as it shuts down, and a caller that removes
    # DIR at once would race it ("Directory not empty").
    if [[ -f "$dir/named.pid" ]]; then
      pid=$(cat "$dir/named.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    ;;
  *) die "usage: bind.sh start DIR PORT ZONE | stop DIR" ;;
esac
