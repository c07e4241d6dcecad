#!/usr/bin/env bash
# The DNS cutover: point NAME at the new server and wait until the provider answers it. A thin
# wrapper of `migrate dns update` (see `migrate dns update --help` and docs/dns.md), e.g.
#   scripts/update-dns.sh --name www.example.org --to 203.0.113.7 \
#       --provider rfc2136 --server ns1.example.org --tsig-key /etc/migrate/tsig.key
#   scripts/update-dns.sh --name www.example.org --to 203.0.113.7 --provider route53
#   CLOUDFLARE_API_TOKEN=... scripts/update-dns.sh --name www.example.org --to 203.0.113.7 --provider cloudflare
#   scripts/update-dns.sh --name www.example.org --to 203.0.113.7 --provider command --command 'my-dns-tool ...'
#   scripts/update-dns.sh --name www.example.org --rollback      # back to the address it had
# Exit codes: 0 done, 1 failed (the message says why), 2 bad usage.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="${MIGRATE:-}"
if [[ -z "$bin" ]]; then
  if [[ -x "$here/../build/bin/migrate" ]]; then bin="$here/../build/bin/migrate"; else bin=migrate; fi
fi
exec "$bin" dns update "$@"
